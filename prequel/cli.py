"""The `prequel` command. With no subcommand it runs `serve`."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from prequel import __version__

if TYPE_CHECKING:
    from pydantic import ValidationError

    from prequel.settings import ConfigurationError, Settings

# Settings (pydantic-settings) are imported inside the commands that need them: `prequel
# agent` must start fast and does not read the portal's settings at all.

T = TypeVar("T")


def _fail_on_settings(error: ValidationError | ConfigurationError) -> click.ClickException:
    from prequel.settings import ConfigurationError

    if isinstance(error, ConfigurationError):
        return click.ClickException(str(error))
    lines = []
    for problem in error.errors():
        where = ".".join(str(p) for p in problem["loc"]) or "settings"
        message = str(problem["msg"]).removeprefix("Value error, ")
        lines.append(f"  {where}: {message}")
    return click.ClickException("invalid configuration:\n" + "\n".join(lines))


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    from pydantic import ValidationError

    from prequel.settings import ConfigurationError, load_settings

    config: Path | None = ctx.find_root().params.get("config_file")
    try:
        return load_settings(config, **{k: v for k, v in overrides.items() if v is not None})
    except (ValidationError, ConfigurationError) as error:
        raise _fail_on_settings(error) from error


def _run(settings: Settings, work: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    if settings.log_level != "debug":
        # Alembic narrates every connection; the commands report migrations themselves.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    return asyncio.run(work(settings))


@click.group(invoke_without_command=True)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="PREQUEL_CONFIG",
    help="TOML settings file (environment variables override it).",
)
@click.version_option(__version__, prog_name="prequel")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None) -> None:
    """Prequel: self-hosted coding interviews."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@cli.command()
@click.option("--host", default=None, help="Address to bind (default from settings).")
@click.option("--port", type=int, default=None, help="Port to bind (default from settings).")
@click.option("--get", "get_path", default=None, help="Answer one GET in-process, print it, exit.")
@click.option("--token", default=None, help="API token to send with --get.")
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None = None,
    port: int | None = None,
    get_path: str | None = None,
    token: str | None = None,
) -> None:
    """Run the portal (the web UI and the API)."""
    settings = _settings(ctx, host=host, port=port)
    from prequel.cli_support import check_schema, get_once

    _run(settings, check_schema)
    if get_path is not None:
        status, body = _run(settings, lambda s: get_once(s, get_path, token))
        click.echo(body)
        sys.exit(0 if status < 400 else 1)
    import uvicorn

    from prequel.app import create_app

    click.echo(f"Prequel {__version__} listening on {settings.public_url}")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=True,
    )


@cli.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a worker alone: operations, deadlines and reconciliation (no web server).

    Set PREQUEL_WORKER__EMBEDDED=false on the `prequel serve` replicas when workers run
    separately, and use the redis event bus so they hear each other.
    """
    settings = _settings(ctx)
    from prequel.jobs.runtime import run_standalone

    try:
        asyncio.run(run_standalone(settings))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@click.option("--to", "revision", default="head", show_default=True, help="Target revision.")
@click.pass_context
def migrate(ctx: click.Context, revision: str) -> None:
    """Upgrade the database schema (the only way it is ever created)."""
    from prequel.cli_support import run_migrations

    before, after = _run(_settings(ctx), lambda s: run_migrations(s, revision))
    if before == after:
        click.echo(f"database already at revision {after}")
    else:
        click.echo(f"database migrated from {before or 'empty'} to {after}")


@cli.command("config")
@click.pass_context
def show_config(ctx: click.Context) -> None:
    """Print the effective settings as JSON, with secrets masked."""
    from prequel.settings import masked_dump

    click.echo(json.dumps(masked_dump(_settings(ctx)), indent=2))


@cli.command()
@click.option("--port", type=int, default=None, help="Port the URL in the banner uses.")
@click.pass_context
def init(ctx: click.Context, port: int | None) -> None:
    """Migrate, import the sample challenges and create the first admin (first run only)."""
    from prequel.cli_support import initialize

    settings = _settings(ctx, port=port)
    report = _run(settings, initialize)
    click.echo(report.database_line)
    for line in report.challenge_lines:
        click.echo(line)
    click.echo("")
    click.echo(f"  Prequel is ready at {settings.public_url}")
    if report.admin_password is not None:
        click.echo(f"  Admin email:    {report.admin_email}")
        click.echo(f"  Admin password: {report.admin_password}")
        click.echo("  (shown once: it is not stored anywhere in clear text; keep it now)")
    else:
        click.echo("  Log in with the account you created before (this is not the first run).")
    click.echo("")


@cli.group()
def admin() -> None:
    """Manage accounts and API tokens."""


@admin.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option(
    "--role",
    type=click.Choice(["owner", "admin", "interviewer", "viewer"]),
    default="interviewer",
    show_default=True,
)
@click.pass_context
def create_user_command(
    ctx: click.Context, email: str, name: str, password: str, role: str
) -> None:
    """Add a user to the organization."""
    from prequel.cli_support import add_user

    user_email = _run(_settings(ctx), lambda s: add_user(s, email, name, password, role))
    click.echo(f"created {role} {user_email}")


@admin.command("token")
@click.option("--email", required=True, help="Whose token it is.")
@click.option("--name", default="CLI token", show_default=True)
@click.option("--days", type=click.IntRange(1, 3650), default=None, help="Lifetime in days.")
@click.pass_context
def token_command(ctx: click.Context, email: str, name: str, days: int | None) -> None:
    """Print a new API token for a user (shown once; send it as 'Authorization: Bearer')."""
    from prequel.cli_support import issue_token

    click.echo(_run(_settings(ctx), lambda s: issue_token(s, email, name, days)))


@cli.group()
def challenges() -> None:
    """The challenge library."""


@challenges.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_context
def import_command(ctx: click.Context, directory: Path) -> None:
    """Validate a challenge folder (or a folder of them) and store a new version."""
    from prequel.cli_support import import_challenges

    lines, ok = _run(_settings(ctx), lambda s: import_challenges(s, directory))
    for line in lines:
        click.echo(line, err=not ok)
    if not ok:
        sys.exit(1)


@challenges.command("list")
@click.pass_context
def list_command(ctx: click.Context) -> None:
    """List the latest version of every challenge."""
    from prequel.cli_support import list_challenges

    for line in _run(_settings(ctx), list_challenges):
        click.echo(line)


# agent command (issue 3)
from prequel.agent.cli import agent as _agent_command  # noqa: E402

cli.add_command(_agent_command)


# sandbox commands (issue 3)
from prequel.sandbox.cli import doctor, sandbox  # noqa: E402

cli.add_command(sandbox)
cli.add_command(doctor)


def main() -> None:
    cli(prog_name="prequel")
