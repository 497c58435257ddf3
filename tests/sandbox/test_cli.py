"""`prequel sandbox run` and `prequel doctor`, in-process through click."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from prequel.cli import cli
from tests.support.uid_processes import uid_processes


@pytest.fixture
def env(tmp_path: Path, uid: int) -> dict[str, str]:
    return {
        "PREQUEL_DATA_DIR": str(tmp_path / "data"),
        "PREQUEL_ENV": "test",
        "PREQUEL_LOG_LEVEL": "warning",
        "PREQUEL_SANDBOX__DEFAULT_UID": str(uid),
    }


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_sandbox_run_prints_one_outcome(env: dict[str, str], workspace: Path, uid: int) -> None:
    result = invoke(
        env,
        "sandbox",
        "run",
        "--workspace",
        str(workspace),
        "--cpu-seconds",
        "2",
        "--output-kb",
        "1",
        "--",
        "python3",
        "-c",
        "import os, sys; print(os.getuid()); sys.stderr.write('e' * 5000); sys.exit(3)",
    )
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output)
    assert outcome["reason"] in ("exit", "output_limit")
    assert outcome["stdout"] == f"{uid}\n"  # the default uid from the settings
    assert len(outcome["stderr"]) == 1024 and outcome["stderr_truncated"] is True
    assert set(outcome) == {
        "reason",
        "exit_code",
        "signal",
        "cpu_ms",
        "wall_ms",
        "peak_memory_bytes",
        "stdout",
        "stderr",
        "stdout_truncated",
        "stderr_truncated",
        "detail",
    }
    assert uid_processes(uid) == []


def test_sandbox_run_with_an_explicit_uid_and_a_limit_hit(
    env: dict[str, str], workspace: Path, uid: int
) -> None:
    result = invoke(
        env,
        "sandbox",
        "run",
        "--workspace",
        str(workspace),
        "--uid",
        str(uid),
        "--wall-seconds",
        "0.5",
        "--",
        "sleep",
        "10",
    )
    outcome = json.loads(result.output)
    assert (result.exit_code, outcome["reason"]) == (0, "time_limit")


def test_sandbox_run_that_cannot_start_exits_1(env: dict[str, str], workspace: Path) -> None:
    result = invoke(env, "sandbox", "run", "--workspace", str(workspace), "--", "nonexistent")
    assert result.exit_code == 1
    assert json.loads(result.output)["reason"] == "failed_to_start"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--cpu-seconds", "0", "must be more than 0 and at most 3600"),
        ("--memory-mb", "1", "must be at least 16 and at most 16384"),
        ("--processes", "100000", "must be at least 1 and at most 4096"),
        ("--output-kb", "0", "must be at least 1 and at most 262144"),
    ],
)
def test_invalid_limits_name_the_option(
    env: dict[str, str], workspace: Path, option: str, value: str, message: str
) -> None:
    result = CliRunner().invoke(
        cli, ["sandbox", "run", "--workspace", str(workspace), option, value, "--", "true"], env=env
    )
    assert result.exit_code == 2
    assert f"Invalid value for '{option}': {message}" in result.output


def test_doctor_reports_each_check(env: dict[str, str]) -> None:
    result = invoke(env, "doctor")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == "sandbox: safe"
    assert "✓ bubblewrap: " in result.output
    assert any(line.startswith("✓ network namespace") for line in lines)
    report = json.loads(invoke(env, "doctor", "--json").output)
    assert report["safe"] is True


def test_doctor_exits_1_when_unsafe(env: dict[str, str]) -> None:
    result = invoke({**env, "PREQUEL_SANDBOX__BWRAP_PATH": "/nonexistent/bwrap"}, "doctor")
    assert result.exit_code == 1
    assert "✗ bubblewrap: /nonexistent/bwrap not found on PATH" in result.output
    assert "    fix: install Debian's bubblewrap package (make system-deps)" in result.output
    assert result.output.splitlines()[-1].startswith("sandbox: UNSAFE")
