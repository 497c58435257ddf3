"""The `prequel` command, run in-process with CliRunner and once as a real server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from prequel.cli import cli
from prequel.db import migrate
from tests.support.live import free_port, wait_until_serving

SAMPLES = Path(__file__).resolve().parent.parent / "challenges"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "PREQUEL_DATA_DIR": str(tmp_path / "data"),
        "PREQUEL_ENV": "test",
        "PREQUEL_LOG_LEVEL": "warning",
    }


def run(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)


def test_migrate_is_idempotent(env: dict[str, str]) -> None:
    first = run(env, "migrate")
    assert first.exit_code == 0 and f"from empty to {migrate.head_revision()}" in first.output
    again = run(env, "migrate")
    assert again.exit_code == 0 and f"already at revision {migrate.head_revision()}" in again.output


def test_serve_refuses_an_unmigrated_database(env: dict[str, str]) -> None:
    result = run(env, "serve", "--get", "/health")
    assert result.exit_code == 1
    assert "run 'prequel migrate'" in result.output


def test_serve_get_answers_one_request(env: dict[str, str]) -> None:
    run(env, "migrate")
    result = run(env, "serve", "--get", "/health")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "ok"
    missing = run(env, "serve", "--get", "/api/nope")
    assert missing.exit_code == 1 and "nothing at /api/nope" in missing.output


def test_config_prints_effective_settings_with_secrets_masked(env: dict[str, str]) -> None:
    result = run(
        {**env, "PREQUEL_SECRET_KEY": "very-secret-value", "PREQUEL_PORT": "8123"}, "config"
    )
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["port"] == 8123
    assert "very-secret-value" not in result.output


def test_config_file_option(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "prequel.toml"
    config.write_text("port = 9555\n")
    result = run(env, "--config", str(config), "config")
    assert json.loads(result.output)["port"] == 9555
    missing = run(env, "--config", str(tmp_path / "absent.toml"), "config")
    assert missing.exit_code != 0


def test_production_refuses_default_secret(env: dict[str, str]) -> None:
    result = run({**env, "PREQUEL_ENV": "production"}, "config")
    assert result.exit_code == 1
    assert "refusing to start in production" in result.output


def test_init_creates_the_admin_once_and_its_password_works(env: dict[str, str]) -> None:
    first = run(env, "init", "--port", "8123")
    assert first.exit_code == 0, first.output
    assert "http://127.0.0.1:8123" in first.output
    match = re.search(r"Admin password: (\S+)", first.output)
    assert match, first.output
    for slug in ("rate-limiter",):
        assert slug in first.output

    second = run(env, "init")
    assert second.exit_code == 0
    assert "Admin password" not in second.output
    assert "unchanged" in second.output

    token = run(env, "admin", "token", "--email", "admin@example.com").output.strip()
    me = run(env, "serve", "--get", "/api/auth/me", "--token", token)
    assert me.exit_code == 0, me.output
    assert json.loads(me.output)["role"] == "owner"

    login = run(env, "serve", "--get", "/api/challenges", "--token", token)
    assert len(json.loads(login.output)["challenges"]) == 3


def test_admin_create_user_reports_duplicates(env: dict[str, str]) -> None:
    run(env, "migrate")
    args = ["admin", "create-user", "--email", "ann@example.com", "--name", "Ann"]
    created = run(env, *args, "--password", "long enough pw", "--role", "admin")
    assert created.exit_code == 0 and "created admin ann@example.com" in created.output
    again = run(env, *args, "--password", "long enough pw")
    assert again.exit_code == 1 and "already exists" in again.output
    weak = run(
        env,
        "admin",
        "create-user",
        "--email",
        "b@example.com",
        "--name",
        "B",
        "--password",
        "short",
    )
    assert weak.exit_code == 1 and "at least 8" in weak.output


def test_token_for_unknown_user(env: dict[str, str]) -> None:
    run(env, "migrate")
    result = run(env, "admin", "token", "--email", "ghost@example.com")
    assert result.exit_code == 1 and "no user with email" in result.output


def test_challenges_import_and_list(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "migrate")
    assert "no challenges yet" in run(env, "challenges", "list").output
    imported = run(env, "challenges", "import", str(SAMPLES))
    assert imported.exit_code == 0, imported.output
    assert imported.output.count("imported as version 1") == 3
    listing = run(env, "challenges", "list").output
    assert "rate-limiter" in listing

    broken = tmp_path / "broken"
    (broken / "files").mkdir(parents=True)
    (broken / "challenge.toml").write_text('slug = "Bad Slug"\n')
    result = run(env, "challenges", "import", str(broken))
    assert result.exit_code == 1
    assert "not imported" in result.output and "challenge.toml" in result.output


def test_bare_prequel_runs_the_server(env: dict[str, str]) -> None:
    assert run(env, "migrate").exit_code == 0
    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-c", "from prequel.cli import main; main()"],
        env={**os.environ, **env, "PREQUEL_PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as process:
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_serving(url, process)
            assert httpx.get(f"{url}/health").json()["status"] == "ok"
        finally:
            process.terminate()
