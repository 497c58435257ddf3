"""`prequel sandbox run` (one command, exactly as the agent runs it) and `prequel doctor`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from prequel.sandbox.limits import Limits

# Imported by the `prequel` command group at start-up: pydantic and the sandbox itself are
# imported only when a sandbox command runs (`prequel agent` must start fast).
KIB, MIB = 1024, 1024 * 1024

# CLI option -> (Limits field, multiplier from the option's unit)
LIMIT_OPTIONS: dict[str, tuple[str, int]] = {
    "cpu_seconds": ("cpu_seconds", 1),
    "wall_seconds": ("wall_seconds", 1),
    "memory_mb": ("memory_bytes", MIB),
    "processes": ("processes", 1),
    "file_size_mb": ("file_size_bytes", MIB),
    "open_files": ("open_files", 1),
    "output_kb": ("output_bytes", KIB),
    "tmp_mb": ("tmp_bytes", MIB),
}


def _limits(values: dict[str, Any]) -> Limits:
    from prequel.sandbox.limits import LimitError, Limits

    overrides = {}
    for option, (field, unit) in LIMIT_OPTIONS.items():
        value = values.get(option)
        if value is not None:
            overrides[field] = value * unit if unit != 1 else value
    try:
        return Limits().merged(overrides)
    except LimitError as error:
        field = error.field
        option = next((o for o, (f, _) in LIMIT_OPTIONS.items() if f == field), field)
        flag = "--" + option.replace("_", "-")
        raise click.BadParameter(
            _bounds(field, LIMIT_OPTIONS.get(option, ("", 1))[1]), param_hint=f"'{flag}'"
        ) from error


def _bounds(field: str, unit: int) -> str:
    """'must be more than 0 and at most 3600', in the option's own unit."""
    from prequel.sandbox.limits import BOUNDS

    bound = BOUNDS.get(field)
    return bound.describe(unit) if bound is not None else "invalid value"


def _sandbox_uid(settings_default: int, uid: int | None) -> int | None:
    if uid is not None:
        return uid
    return settings_default if os.geteuid() == 0 else None


@click.group("sandbox")
def sandbox() -> None:
    """Run commands in the candidate sandbox."""


@sandbox.command("run")
@click.option(
    "--workspace",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory mounted read-write at /workspace (must be writable by the uid).",
)
@click.option("--uid", type=int, default=None, help="Run as this uid (root only).")
@click.option("--cpu-seconds", type=float, help="CPU time of the whole process tree.")
@click.option("--wall-seconds", type=float, help="Elapsed time.")
@click.option("--memory-mb", type=int, help="Memory of the whole tree, in MiB.")
@click.option("--processes", type=int, help="Processes and threads.")
@click.option("--file-size-mb", type=int, help="Largest file a process may write, in MiB.")
@click.option("--open-files", type=int, help="Open files per process.")
@click.option("--output-kb", type=int, help="Output kept per stream, in KiB.")
@click.option("--tmp-mb", type=int, help="Size of the private /tmp and /dev/shm, in MiB.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def run_command(
    ctx: click.Context,
    /,
    workspace: Path,
    uid: int | None,
    command: tuple[str, ...],
    **limits: Any,
) -> None:
    """Run COMMAND once, as the agent does, and print its outcome as one JSON object.

    Put `--` before the command. Exits 0 when the command ran (whatever its own exit code,
    which is in the JSON), 1 when the sandbox could not start it.
    """
    from prequel.cli import _run, _settings
    from prequel.sandbox.outcome import StopReason
    from prequel.sandbox.runner import Sandbox

    parsed = _limits(limits)
    settings = _settings(ctx)
    run_as = _sandbox_uid(settings.sandbox.default_uid, uid)
    try:
        box = Sandbox.from_settings(settings, workspace, slot=f"cli-{os.getpid()}", uid=run_as)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--uid'") from error

    async def work(_settings: Any) -> Any:
        try:
            return await box.run(list(command), parsed, stdin=b"")
        finally:
            await box.close()

    outcome = _run(settings, work)
    click.echo(json.dumps(outcome.to_json()))
    if outcome.reason is StopReason.FAILED_TO_START:
        sys.exit(1)


@click.command()
@click.option("--uid", type=int, default=None, help="Check as this uid (root only).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def doctor(ctx: click.Context, uid: int | None, as_json: bool) -> None:
    """Check that the candidate sandbox is safe on this machine; exit 1 when it is not."""
    from prequel.cli import _run, _settings
    from prequel.sandbox.selftest import self_test

    settings = _settings(ctx)
    report = _run(
        settings,
        lambda s: self_test(
            uid=_sandbox_uid(s.sandbox.default_uid, uid),
            bwrap_path=s.sandbox.bwrap_path,
            cgroup_name=s.sandbox.cgroup_name,
        ),
    )
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        for check in report.checks:
            mark = "✓" if check.ok else ("✗" if check.required else "!")
            click.echo(f"{mark} {check.name}: {check.detail}")
            if not check.ok and check.fix:
                click.echo(f"    fix: {check.fix}")
        if report.safe:
            click.echo("sandbox: safe")
        else:
            click.echo("sandbox: UNSAFE: candidate code must not run here until this is fixed")
            if settings.unsafe_sandbox:
                click.echo("(PREQUEL_UNSAFE_SANDBOX=1 is set: runs will go ahead anyway)")
    if not report.safe:
        sys.exit(1)
