"""Effective configuration: defaults < TOML file < environment (``PREQUEL_*``) < explicit values.

Every field has a description; ``docs/configuration.md`` must mention every environment
variable this module defines (a test enforces it).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "PREQUEL_"
NESTED_DELIMITER = "__"

# Known-insecure values that development mode accepts and production refuses.
DEVELOPMENT_SECRET_KEY = "prequel-development-secret-key-change-me"  # noqa: S105
DEVELOPMENT_ADMIN_PASSWORD = "prequel-dev-admin"  # noqa: S105


class ConfigurationError(ValueError):
    """The settings are unsafe or inconsistent; the message says what to change."""


class DatabaseSettings(BaseModel):
    url: str = Field(
        default="",
        description="SQLAlchemy async URL. Empty means SQLite at DATA_DIR/prequel.db. "
        "PostgreSQL: postgresql+asyncpg://user:pass@host:5432/db",
    )
    echo: bool = Field(default=False, description="Log every SQL statement (debugging only).")
    pool_size: int = Field(default=10, ge=1, description="PostgreSQL connection pool size.")


class LocalStorageSettings(BaseModel):
    path: Path | None = Field(
        default=None, description="Directory for blobs. Empty means DATA_DIR/blobs."
    )


class S3StorageSettings(BaseModel):
    bucket: str = Field(default="prequel", description="Bucket that holds every blob.")
    prefix: str = Field(default="", description="Key prefix inside the bucket, e.g. 'prod/'.")
    endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, Ceph...). Empty means AWS."
    )
    region: str = Field(default="us-east-1", description="Region name passed to the client.")
    access_key_id: str | None = Field(
        default=None, description="Access key. Empty means boto3's default credential chain."
    )
    secret_access_key: SecretStr | None = Field(
        default=None, description="Secret key that goes with ACCESS_KEY_ID."
    )
    create_bucket: bool = Field(
        default=False, description="Create the bucket at startup when it does not exist."
    )


class StorageSettings(BaseModel):
    backend: Literal["local", "s3"] = Field(
        default="local", description="Blob store backend: 'local' (a directory) or 's3'."
    )
    local: LocalStorageSettings = Field(default_factory=LocalStorageSettings)
    s3: S3StorageSettings = Field(default_factory=S3StorageSettings)


class AuthSettings(BaseModel):
    session_max_age_seconds: int = Field(
        default=14 * 24 * 3600, ge=60, description="Lifetime of a login session cookie."
    )
    cookie_secure: bool = Field(
        default=False,
        description="Send the session cookie over HTTPS only. Turn on behind TLS.",
    )
    login_attempts_per_account: int = Field(
        default=5, ge=1, description="Failed logins allowed per account per window."
    )
    login_attempts_per_ip: int = Field(
        default=20, ge=1, description="Failed logins allowed per client IP per window."
    )
    login_window_seconds: int = Field(
        default=15 * 60, ge=1, description="Window for the failed-login limits."
    )
    token_default_days: int = Field(
        default=90, ge=1, description="Days an API token lives when no expiry is given."
    )


class AdminSettings(BaseModel):
    email: str = Field(
        default="admin@example.com", description="Email of the admin created on first run."
    )
    name: str = Field(default="Admin", description="Display name of the first-run admin.")
    password: SecretStr | None = Field(
        default=None,
        description="Password of the first-run admin. Empty means a random one-time "
        "password, printed once.",
    )
    organization: str = Field(
        default="Prequel", description="Name of the organization created on first run."
    )


class RateLimitSettings(BaseModel):
    storage_url: str = Field(
        default="memory://",
        description="Where rate-limit counters live: 'memory://' (one process) or "
        "redis://host:6379/0 (shared by every replica).",
    )


class ChallengeSettings(BaseModel):
    max_bundle_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, description="Largest challenge upload accepted."
    )
    max_unpacked_bytes: int = Field(
        default=100 * 1024 * 1024,
        ge=1024,
        description="Largest total size a challenge bundle may unpack to.",
    )
    max_files: int = Field(default=2000, ge=1, description="Most files one challenge may hold.")
    samples_dir: Path | None = Field(
        default=None,
        description="Folder of sample challenges imported by 'prequel init'. Empty means "
        "the challenges/ folder shipped with Prequel.",
    )


class SandboxSettings(BaseModel):
    uid_base: int = Field(
        default=200000,
        ge=1000,
        description="First uid given to workspaces; each workspace's candidate code runs as "
        "its own unprivileged uid from here up.",
    )
    default_uid: int = Field(
        default=65534,
        ge=1,
        description="Uid 'prequel sandbox run' and 'prequel doctor' use when started as root "
        "without --uid.",
    )
    cgroup_name: str = Field(
        default="prequel",
        pattern=r"^[A-Za-z0-9_.-]{1,32}$",
        description="Prefix of the cgroups Prequel creates under its own cgroup.",
    )
    bwrap_path: str = Field(default="bwrap", description="The bubblewrap executable.")


class WorkspaceSettings(BaseModel):
    backend: Literal["local"] = Field(
        default="local",
        description="Where workspaces run: 'local' (the agent as a sandboxed subprocess on "
        "this machine).",
    )
    root: Path | None = Field(
        default=None,
        description="Folder that holds local workspaces. Empty means DATA_DIR/workspaces.",
    )
    start_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long a new workspace's agent has to become healthy."
    )
    max_concurrent_starts: int = Field(
        default=20,
        ge=1,
        description="Workspaces being provisioned at once; beyond this, starts are refused "
        "with 429 and Retry-After.",
    )
    uid_count: int = Field(
        default=10000,
        ge=1,
        description="How many uids from SANDBOX__UID_BASE workspaces may use (the most "
        "workspaces alive at once on this machine).",
    )


class WorkerSettings(BaseModel):
    embedded: bool = Field(
        default=True,
        description="Run the worker (operations, deadlines, reconciliation) inside "
        "'prequel serve'. Turn off when 'prequel worker' processes run separately.",
    )
    concurrency: int = Field(
        default=8, ge=1, description="Operations one worker process runs at once."
    )
    heartbeat_seconds: float = Field(
        default=5.0, gt=0, description="How often a running operation proves it is alive."
    )
    stale_after_seconds: float = Field(
        default=60.0,
        gt=0,
        description="An operation whose heartbeat is older than this is failed by the reaper "
        "(its worker died) and retried.",
    )
    sweep_seconds: float = Field(
        default=30.0, gt=0, description="Backup sweep that rebuilds the deadline timers."
    )
    reconcile_seconds: float = Field(
        default=180.0,
        gt=0,
        description="How often interviews are checked against their workspaces, both ways.",
    )
    max_attempts: int = Field(
        default=3, ge=1, description="Tries of a create before the interview is failed."
    )
    retry_max_seconds: float = Field(
        default=300.0, gt=0, description="Longest wait between retries of a failed destroy."
    )
    operation_retention_days: int = Field(
        default=7, ge=1, description="Finished operations older than this are deleted."
    )
    minute_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Length of an interview 'minute' in seconds. Only the test suite (ENV=test) "
        "may shorten it, to run deadlines without waiting hours.",
    )


class EventSettings(BaseModel):
    backend: Literal["memory", "redis"] = Field(
        default="memory",
        description="Event bus: 'memory' (one process) or 'redis' (several replicas and workers).",
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Redis URL of the 'redis' event bus."
    )
    channel: str = Field(
        default="prequel:events", description="Redis pub/sub channel of the event bus."
    )
    heartbeat_seconds: float = Field(
        default=15.0, gt=0, description="Interval of SSE heartbeat events."
    )


class CandidateSettings(BaseModel):
    lookups_per_ip_per_minute: int = Field(
        default=30,
        ge=1,
        description="Passcode lookups and join attempts one IP may make per minute.",
    )
    lookups_global_per_minute: int = Field(
        default=1000,
        ge=1,
        description="Passcode lookups and join attempts per minute from everyone together "
        "(brute-force brake).",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED_DELIMITER,
        # `PREQUEL_X=` means "not set" (keep the default), not an empty string or path ".".
        env_ignore_empty=True,
        extra="forbid",
        validate_default=True,
    )

    env: Literal["development", "production", "test"] = Field(
        default="development",
        description="'production' refuses insecure defaults; 'test' is for the test suite.",
    )
    data_dir: Path = Field(
        default=Path("data"), description="Where SQLite, blobs and workspaces live by default."
    )
    secret_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_SECRET_KEY),
        description="Signs session cookies and CSRF tokens. Required in production.",
    )
    host: str = Field(default="127.0.0.1", description="Address 'prequel serve' binds to.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port 'prequel serve' binds to.")
    base_url: str = Field(
        default="",
        description="Public URL of the portal, used in links. Empty means http://HOST:PORT.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Log level of the portal."
    )
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    challenges: ChallengeSettings = Field(default_factory=ChallengeSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    workspaces: WorkspaceSettings = Field(default_factory=WorkspaceSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    candidates: CandidateSettings = Field(default_factory=CandidateSettings)
    unsafe_sandbox: bool = Field(
        default=False,
        description="Run candidate code without bubblewrap or cgroups when they are "
        "unavailable (rlimits only). Never in production.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("toml_file"):
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)

    @model_validator(mode="after")
    def _test_only_time_scale(self) -> Settings:
        if self.worker.minute_seconds != 60.0 and self.env != "test":
            raise ConfigurationError(
                "PREQUEL_WORKER__MINUTE_SECONDS is for the test suite only (PREQUEL_ENV=test); "
                "remove it so interview minutes last 60 seconds"
            )
        return self

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.env != "production":
            return self
        problems: list[str] = []
        secret = self.secret_key.get_secret_value()
        if secret == DEVELOPMENT_SECRET_KEY or len(secret) < 32:
            problems.append(
                "PREQUEL_SECRET_KEY is the development default or shorter than 32 characters; "
                "set it to a long random value (python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')"
            )
        password = self.admin.password
        if password is not None and password.get_secret_value() == DEVELOPMENT_ADMIN_PASSWORD:
            problems.append(
                "PREQUEL_ADMIN__PASSWORD is the development admin password; choose another "
                "or leave it empty for a random one"
            )
        if self.unsafe_sandbox:
            problems.append(
                "PREQUEL_UNSAFE_SANDBOX runs candidate code without bubblewrap; install "
                "bubblewrap and remove the setting"
            )
        if problems:
            raise ConfigurationError("refusing to start in production: " + "; ".join(problems))
        return self

    # Derived locations -------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'prequel.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.storage.local.path or self.data_dir / "blobs"

    @property
    def workspace_root(self) -> Path:
        return self.workspaces.root or self.data_dir / "workspaces"

    @property
    def public_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def samples_dir(self) -> Path:
        if self.challenges.samples_dir is not None:
            return self.challenges.samples_dir
        return Path(__file__).resolve().parent.parent / "challenges"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the effective settings; a missing or malformed config file is a clear error."""
    if config_file is None:
        return Settings(**overrides)
    if not config_file.is_file():
        raise ConfigurationError(f"config file {config_file} does not exist")
    # pydantic-settings reads the TOML path from model_config, so bind it in a subclass.
    with_file = type(
        "Settings",
        (Settings,),
        {"model_config": {**Settings.model_config, "toml_file": config_file}},
    )
    try:
        return with_file(**overrides)  # type: ignore[no-any-return]
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {config_file} is not valid TOML: {exc}") from exc


def iter_setting_names(
    model: type[BaseModel] = Settings, prefix: str = ENV_PREFIX
) -> list[tuple[str, str]]:
    """Every leaf setting as (environment variable, description), for docs and `config`."""
    names: list[tuple[str, str]] = []
    for name, field in model.model_fields.items():
        env_name = f"{prefix}{name.upper()}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.extend(iter_setting_names(annotation, env_name + NESTED_DELIMITER))
        else:
            names.append((env_name, field.description or ""))
    return names


def masked_dump(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data with secrets replaced by asterisks."""
    data = settings.model_dump(mode="json")
    data["database"]["url"] = _mask_url(settings.database_url)
    return data


def _mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.render_as_string(hide_password=True)
