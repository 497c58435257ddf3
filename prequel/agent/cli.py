"""`prequel agent`: serve one workspace to the portal (see docs/agent-protocol.md).

Also runnable as `python -m prequel.agent`, which skips the portal CLI's imports (pydantic
settings) and starts faster; the provisioner uses that form.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from prequel.agent.config import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_TREE_ENTRIES,
    DEFAULT_MAX_UPLOAD_BYTES,
)


def _ready(where: str) -> None:
    # One line on stdout once requests are served: what tests and operators wait for.
    sys.stdout.write(f"agent ready on {where}\n")
    sys.stdout.flush()


@click.command("agent")
@click.option(
    "--workspace",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The workspace folder to serve.",
)
@click.option(
    "--listen",
    required=True,
    metavar="unix:PATH|HOST:PORT",
    help="Where to listen: a unix socket (made 0660) or a TCP address.",
)
@click.option(
    "--token-file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the workspace token (mode 600).",
)
@click.option(
    "--portal-token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File holding the portal's own token (mode 600); unlocks privileged calls.",
)
@click.option(
    "--challenge-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Private copy of the challenge folder (never inside the workspace).",
)
@click.option(
    "--user",
    "user",
    default=None,
    metavar="UID[:GID]",
    help="When started as root, run as this user after binding and reading the tokens.",
)
@click.option(
    "--sandbox-uid",
    default=None,
    metavar="UID[:GID]",
    help="Who runs candidate code when the agent itself stays root (default: --user).",
)
@click.option(
    "--slot",
    default=None,
    metavar="NAME",
    help="cgroup slot of this workspace (default: derived from the workspace path).",
)
@click.option(
    "--unsafe-sandbox",
    is_flag=True,
    envvar="PREQUEL_UNSAFE_SANDBOX",
    help="Without bubblewrap, run candidate code with rlimits only (UNSAFE; says so loudly).",
)
@click.option(
    "--max-file-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_FILE_BYTES,
    show_default=True,
    help="Largest file the JSON file API reads or writes.",
)
@click.option(
    "--max-upload-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_UPLOAD_BYTES,
    show_default=True,
    help="Largest single upload.",
)
@click.option(
    "--max-tree-entries",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_TREE_ENTRIES,
    show_default=True,
    help="A tree listing stops after this many entries.",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="Logs go to stderr; 'debug' adds one line per request.",
)
def agent(
    workspace: Path,
    listen: str,
    token_file: Path,
    portal_token_file: Path | None,
    challenge_dir: Path | None,
    user: str | None,
    sandbox_uid: str | None,
    slot: str | None,
    unsafe_sandbox: bool,
    max_file_bytes: int,
    max_upload_bytes: int,
    max_tree_entries: int,
    log_level: str,
) -> None:
    """Serve one interview workspace to the portal over authenticated HTTP."""
    from prequel.agent import serve

    serve.configure_logging(log_level)
    try:
        token = serve.read_token_file(token_file, "--token-file")
        portal_token = None
        if portal_token_file is not None:
            portal_token = serve.read_token_file(portal_token_file, "--portal-token-file")
            if portal_token == token:
                raise serve.StartupError(
                    "--portal-token-file and --token-file hold the same token; they must differ"
                )
        ids = serve.parse_user(user) if user is not None else None
        runner_ids = serve.parse_user(sandbox_uid) if sandbox_uid is not None else ids
        if runner_ids is None and os.geteuid() == 0:
            # Candidate code never runs as root. Without --user/--sandbox-uid, fall back to
            # nobody; the provisioner always gives each workspace its own uid.
            runner_ids = (serve.NOBODY, serve.NOBODY)
            serve.log.warning("no --user or --sandbox-uid: candidate code runs as uid 65534")
        slot_name = slot or serve.default_slot(workspace)
        where = serve.parse_listen(listen)
        if not workspace.is_dir():
            raise serve.StartupError(f"--workspace {workspace} is not a folder")
        if challenge_dir is not None and _inside(challenge_dir, workspace):
            raise serve.StartupError(
                f"--challenge-dir {challenge_dir} is inside the workspace; the candidate could "
                "read its hidden tests; keep a private copy elsewhere"
            )
        serve.preload_server_modules()
        from prequel.agent.app import AgentConfig, create_agent_app
        from prequel.agent.challenge import ChallengeError

        sock = serve.bind(where)
        if runner_ids is not None:
            # As root, make the workspace's cgroups and hand them to its uid before root goes.
            serve.prepare_cgroups(slot_name, *runner_ids)
    except serve.StartupError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if ids is not None:
            serve.drop_privileges(*ids)
        config = AgentConfig(
            workspace=workspace,
            token=token,
            portal_token=portal_token,
            challenge_dir=challenge_dir,
            max_file_bytes=max_file_bytes,
            max_upload_bytes=max_upload_bytes,
            max_tree_entries=max_tree_entries,
            sandbox_uid=None if runner_ids is None or ids == runner_ids else runner_ids[0],
            sandbox_gid=None if runner_ids is None or ids == runner_ids else runner_ids[1],
            slot=slot_name,
            unsafe_sandbox=unsafe_sandbox,
        )
        app = create_agent_app(config)
    except (serve.StartupError, ChallengeError) as exc:
        serve.release(sock, where)
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        serve.release(sock, where)
        who = f" by uid {os.geteuid()} (--user)" if ids is not None else ""
        raise click.ClickException(
            f"cannot open {exc.filename or workspace}{who}: {exc.strerror}"
        ) from None
    serve.serve(app, sock, where, log_level=log_level, on_ready=_ready)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def main() -> None:
    agent(prog_name="python -m prequel.agent")
