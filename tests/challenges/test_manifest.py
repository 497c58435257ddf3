"""Validating challenge folders: every problem is reported, each with its path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prequel.challenges.manifest import (
    ChallengeInvalid,
    Problem,
    command_argv,
    load_challenge_dir,
    parse_manifest,
)
from prequel.settings import ChallengeSettings
from tests.challenges.builders import MANIFEST, challenge_files, write_challenge, write_tree


def problems_of(path: Path, limits: ChallengeSettings | None = None) -> list[Problem]:
    with pytest.raises(ChallengeInvalid) as caught:
        load_challenge_dir(path, limits)
    return caught.value.problems


def messages(problems: list[Problem], path: str) -> str:
    return " | ".join(p.message for p in problems if p.path == path)


def test_a_valid_folder_loads(tmp_path: Path) -> None:
    root = write_challenge(tmp_path / "c")
    (root / "files" / "__pycache__").mkdir()
    (root / "files" / "__pycache__" / "reverse.cpython-311.pyc").write_bytes(b"\0")
    loaded = load_challenge_dir(root)
    assert loaded.manifest.slug == "reverse-string"
    assert loaded.manifest.tests.format == "junit"
    assert loaded.statement.startswith("# Reverse a String")
    assert loaded.starter_files == ["files/reverse.py"]
    assert loaded.public_files == ["files/reverse.py", "tests/visible/test_reverse.py"]
    assert loaded.hidden_tests == ["tests/hidden/test_reverse_hidden.py"]
    assert loaded.solution_files == ["solution/reverse.py"]
    assert loaded.file_count == 6  # the cache folder is ignored


def test_an_empty_folder_lists_every_missing_part(tmp_path: Path) -> None:
    problems = problems_of(tmp_path)
    assert {p.path for p in problems} == {
        "challenge.toml",
        "README.md",
        "files",
        "tests/visible",
        "tests/hidden",
        "solution",
    }
    assert all(p.message for p in problems)


def test_not_a_folder(tmp_path: Path) -> None:
    problems = problems_of(tmp_path / "missing")
    assert problems[0].path == "." and "not a folder" in problems[0].message


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    files = challenge_files()
    files["challenge.toml"] = 'slug = "x"\ntitle = \n'
    problems = problems_of(write_tree(tmp_path, files))
    assert "not valid TOML" in messages(problems, "challenge.toml")
    assert "line 2" in messages(problems, "challenge.toml")


def test_every_manifest_problem_at_once(tmp_path: Path) -> None:
    files = challenge_files()
    files["challenge.toml"] = """\
slug = "Bad_Slug"
title = "T"
difficulty = "impossible"
tags = ["ok"]
language = "python"
environment = "python3.11"
time_estimate_minutes = 1
colour = "blue"

[tests]
command = "pytest {where}"
format = "junit"
retries = 3
"""
    files.pop("README.md")
    problems = problems_of(write_tree(tmp_path, files))
    text = messages(problems, "challenge.toml")
    assert "'Bad_Slug' is not a valid slug" in text
    assert "difficulty" in text and "'easy', 'medium' or 'hard'" in text
    assert "time_estimate_minutes" in text
    assert "unknown key 'colour'" in text
    assert "unknown key 'tests.retries'" in text
    assert "unknown placeholder {where}" in text
    assert "must contain {tests}" in text
    assert "must contain {report}" in text
    assert messages(problems, "README.md")  # reported alongside the manifest's problems


def test_missing_required_keys(tmp_path: Path) -> None:
    files = challenge_files()
    files["challenge.toml"] = 'slug = "ok-slug"\n'
    text = messages(problems_of(write_tree(tmp_path, files)), "challenge.toml")
    for key in ("title", "difficulty", "language", "environment", "tests"):
        assert f"missing required key '{key}'" in text


def tap_manifest(command: str) -> str:
    return (
        MANIFEST.format(slug="ok", title="T")
        .replace("python -m pytest -q --junitxml={report} {tests}", command)
        .replace('"junit"', '"tap"')
    )


def test_tap_goes_to_a_report_and_never_through_node_test() -> None:
    manifest, problems = parse_manifest(tap_manifest("node --test {tests} | tee x"))
    assert manifest is None
    text = " ".join(p.message for p in problems)
    assert "without a shell" in text
    assert "must write TAP to {report}" in text
    assert "node --test" in text
    _, stdout_only = parse_manifest(tap_manifest("node {tests}/index.cjs"))
    assert [p.message for p in stdout_only if "{report}" in p.message]
    manifest, problems = parse_manifest(
        tap_manifest(
            "node --test-reporter=tap --test-reporter-destination={report} {tests}/index.cjs"
        )
    )
    assert problems == [] and manifest is not None and manifest.tests.format == "tap"


def test_empty_and_misshapen_sections(tmp_path: Path) -> None:
    root = write_challenge(tmp_path)
    (root / "files" / "reverse.py").unlink()
    (root / "tests" / "hidden" / "test_reverse_hidden.py").unlink()
    (root / "solution" / "reverse.py").unlink()
    (root / "solution").rmdir()
    (root / "solution").write_text("not a folder")
    (root / "README.md").write_text("  \n")
    problems = problems_of(root)
    assert "is empty" in messages(problems, "files")
    assert "is empty" in messages(problems, "tests/hidden")
    assert "must be a folder" in messages(problems, "solution")
    assert "is empty" in messages(problems, "README.md")


def test_symlinks_anywhere_are_refused(tmp_path: Path) -> None:
    root = write_challenge(tmp_path)
    os.symlink("/etc/passwd", root / "files" / "passwd")
    os.symlink(root / "files", root / "tests" / "hidden" / "linked")
    problems = problems_of(root)
    assert "symlink" in messages(problems, "files/passwd")
    assert "symlink" in messages(problems, "tests/hidden/linked")


def test_limits_on_file_count_and_size(tmp_path: Path) -> None:
    root = write_challenge(tmp_path)
    (root / "files" / "big.bin").write_bytes(b"x" * 4096)
    problems = problems_of(root, ChallengeSettings(max_files=3, max_unpacked_bytes=2048))
    text = messages(problems, ".")
    assert "the limit is 3" in text and "the limit is 2048" in text


def test_statement_must_be_utf8(tmp_path: Path) -> None:
    root = write_challenge(tmp_path)
    (root / "README.md").write_bytes(b"caf\xe9\n")
    assert "not UTF-8" in messages(problems_of(root), "README.md")


def test_command_argv_substitutes_each_argument() -> None:
    argv = command_argv(
        "python -m pytest --junitxml={report} '{tests}'",
        tests="/tmp/with space/tests",
        report="/tmp/r.xml",
    )
    assert argv == ["python", "-m", "pytest", "--junitxml=/tmp/r.xml", "/tmp/with space/tests"]


def test_limits_table_is_validated_with_the_field_named() -> None:
    base = (
        'slug = "x-y"\ntitle = "T"\ndifficulty = "easy"\nlanguage = "python"\n'
        'environment = "python3.11"\ntime_estimate_minutes = 10\n'
        '[tests]\ncommand = "python3 -m pytest --junitxml={report} {tests}"\nformat = "junit"\n'
    )
    manifest, problems = parse_manifest(
        base + "[limits]\ncpu_seconds = 2\nmemory_bytes = 67108864\n"
    )
    assert problems == []
    assert manifest is not None
    assert manifest.limits == {"cpu_seconds": 2, "memory_bytes": 67108864}
    _, zero = parse_manifest(base + "[limits]\ncpu_seconds = 0\n")
    assert any("cpu_seconds" in p.message for p in zero), zero
    _, unknown = parse_manifest(base + "[limits]\ngpus = 1\n")
    assert any("gpus" in p.message for p in unknown), unknown
