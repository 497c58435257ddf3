from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from prequel.settings import (
    DEVELOPMENT_ADMIN_PASSWORD,
    ConfigurationError,
    iter_setting_names,
    load_settings,
    masked_dump,
)

STRONG_SECRET = "x" * 48


def test_defaults_are_the_embedded_setup(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.env == "development"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith(str(tmp_path.resolve() / "prequel.db"))
    assert settings.storage.backend == "local"
    assert settings.blob_dir == tmp_path / "blobs"
    assert settings.public_url == "http://127.0.0.1:8000"


def test_environment_uses_prefix_and_nested_delimiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREQUEL_PORT", "9123")
    monkeypatch.setenv("PREQUEL_STORAGE__BACKEND", "s3")
    monkeypatch.setenv("PREQUEL_STORAGE__S3__BUCKET", "interviews")
    settings = load_settings()
    assert settings.port == 9123
    assert settings.storage.backend == "s3"
    assert settings.storage.s3.bucket == "interviews"


def test_toml_file_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "prequel.toml"
    config.write_text('port = 7000\nhost = "0.0.0.0"\n[auth]\nlogin_attempts_per_ip = 7\n')
    monkeypatch.setenv("PREQUEL_PORT", "7001")
    settings = load_settings(config)
    assert settings.port == 7001
    assert settings.host == "0.0.0.0"
    assert settings.auth.login_attempts_per_ip == 7
    assert settings.public_url == "http://127.0.0.1:7001"


def test_missing_and_malformed_config_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("port = = 1\n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_settings(broken)


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "prequel.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(ValidationError, match="prot"):
        load_settings(config)


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="PREQUEL_SECRET_KEY"):
        load_settings(env="production")


def test_production_refuses_the_development_admin_password() -> None:
    with pytest.raises(ValidationError, match="development admin password"):
        load_settings(
            env="production",
            secret_key=STRONG_SECRET,
            admin={"password": DEVELOPMENT_ADMIN_PASSWORD},
        )


def test_production_accepts_real_secrets() -> None:
    settings = load_settings(env="production", secret_key=STRONG_SECRET)
    assert settings.env == "production"


def test_masked_dump_hides_secrets() -> None:
    settings = load_settings(
        secret_key=STRONG_SECRET,
        database={"url": "postgresql+asyncpg://prequel:hunter2@db:5432/prequel"},
        storage={"s3": {"secret_access_key": "aws-secret"}},
    )
    text = str(masked_dump(settings))
    for secret in (STRONG_SECRET, "hunter2", "aws-secret"):
        assert secret not in text
    assert "db:5432" in text


def test_every_setting_has_a_description() -> None:
    names = iter_setting_names()
    assert len(names) > 20
    assert [name for name, description in names if not description] == []


def test_empty_environment_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREQUEL_STORAGE__S3__ENDPOINT_URL", "")
    monkeypatch.setenv("PREQUEL_STORAGE__LOCAL__PATH", "")
    monkeypatch.setenv("PREQUEL_PORT", "")
    settings = load_settings()
    assert settings.storage.s3.endpoint_url is None
    assert settings.storage.local.path is None
    assert settings.port == 8000
