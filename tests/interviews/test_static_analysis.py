"""Static analysis with the real ruff and the real node: findings, the same rules for every
candidate, and clear answers when there is nothing to check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from prequel.interviews.static_analysis import MAX_FINDINGS, analyze


async def test_python_findings_name_the_file_line_and_rule(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "main.py").write_text("import os\n\n\ndef f():\n    return 1\n")
    (tmp_path / "clean.py").write_text("def g() -> int:\n    return 2\n")
    report = await analyze(tmp_path, "python")
    assert report.status == "ok" and report.tool == "ruff"
    assert report.files_checked == 2
    assert [(f.path, f.line, f.code) for f in report.findings] == [("pkg/main.py", 1, "F401")]
    assert "os" in report.findings[0].message
    assert report.as_dict()["findings"][0]["code"] == "F401"


async def test_a_syntax_error_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    report = await analyze(tmp_path, "Python")
    assert report.status == "ok"
    assert report.findings and report.findings[0].code == "syntax"
    assert report.findings[0].path == "broken.py"


async def test_the_candidates_configuration_cannot_hide_findings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.ruff.lint]\nignore = ["F"]\n')
    (tmp_path / "ruff.toml").write_text('[lint]\nignore = ["F"]\n')
    (tmp_path / "main.py").write_text("import sys\n")
    report = await analyze(tmp_path, "python")
    assert [f.code for f in report.findings] == ["F401"]


async def test_virtualenvs_and_hidden_folders_are_skipped(tmp_path: Path) -> None:
    for folder in (".venv/lib", "node_modules/x", ".git"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "vendored.py").write_text("import os\n")
    report = await analyze(tmp_path, "python")
    assert report.status == "skipped" and report.detail == "no Python files to check"


async def test_findings_are_capped(tmp_path: Path) -> None:
    lines = "".join(f"import mod{n}\n" for n in range(MAX_FINDINGS + 100))
    (tmp_path / "many.py").write_text(lines)
    report = await analyze(tmp_path, "python")
    assert len(report.findings) == MAX_FINDINGS
    assert report.detail == "100 more findings not listed"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
async def test_javascript_syntax_errors(tmp_path: Path) -> None:
    (tmp_path / "ok.js").write_text("export const a = 1;\n")
    (tmp_path / "bad.js").write_text("const a = 1;\nfunction (\n")
    report = await analyze(tmp_path, "javascript")
    assert report.tool == "node --check" and report.status == "ok"
    assert report.files_checked == 2
    assert [(f.path, f.line, f.code) for f in report.findings] == [("bad.js", 2, "syntax")]
    assert "SyntaxError" in report.findings[0].message


async def test_nothing_to_check_says_why(tmp_path: Path) -> None:
    assert (await analyze(tmp_path, "python")).status == "skipped"
    (tmp_path / "main.ts").write_text("const a: number = 1;\n")
    typescript = await analyze(tmp_path, "typescript")
    assert typescript.status == "skipped" and "TypeScript" in (typescript.detail or "")
    other = await analyze(tmp_path, "haskell")
    assert other.status == "skipped" and other.detail == "no static analysis for haskell yet"


async def test_a_clean_folder_is_ok_with_no_findings(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("def g() -> int:\n    return 2\n")
    report = await analyze(tmp_path, "py")
    assert (report.status, report.findings, report.files_checked) == ("ok", [], 1)
    assert report.detail is None
    assert json.loads(json.dumps(report.as_dict()))["findings"] == []


async def test_ignore_files_cannot_hide_files(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    for name in (".gitignore", ".ignore"):
        (tmp_path / name).write_text("hidden.py\n")
    (tmp_path / "hidden.py").write_text("import json\n")
    report = await analyze(tmp_path, "python")
    assert [(f.path, f.code) for f in report.findings] == [("hidden.py", "F401")]


async def test_a_relative_folder_is_analysed_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "main.py").write_text("import os\n")
    monkeypatch.chdir(tmp_path)
    report = await analyze(Path("work"), "python")
    assert [(f.path, f.line, f.column, f.code) for f in report.findings] == [
        ("main.py", 1, 8, "F401")
    ]


async def test_a_missing_folder_does_not_raise(tmp_path: Path) -> None:
    report = await analyze(tmp_path / "absent", "python")
    assert report.status == "skipped"


def _fake_ruff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    fake = tmp_path / "fake-ruff"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setattr("ruff.__main__.find_ruff_bin", lambda: str(fake))


async def test_a_failing_ruff_is_an_error_not_a_clean_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_ruff(tmp_path, monkeypatch, "echo 'ruff: cannot read settings' >&2\nexit 2")
    (tmp_path / "main.py").write_text("import os\n")
    report = await analyze(tmp_path, "python")
    assert report.status == "error" and report.findings == []
    assert report.detail == "ruff failed (exit 2): ruff: cannot read settings"


async def test_a_slow_ruff_is_killed_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_ruff(tmp_path, monkeypatch, "exec sleep 30")
    (tmp_path / "main.py").write_text("import os\n")
    report = await analyze(tmp_path, "python", timeout=0.5)
    assert report.status == "error" and report.detail == "ruff took over 0.5 s"


async def test_the_javascript_message_is_the_syntax_error(tmp_path: Path) -> None:
    # The offending source line mentions "Error" too: the message must be node's verdict.
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "bad.mjs").write_text('const a = 1;\n\nthrow new Error("x") +;\n')
    (tmp_path / "types.ts").write_text("const b: number = 2;\n")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "dep.js").write_text("function (\n")
    report = await analyze(tmp_path, "js")
    assert report.files_checked == 1 and report.detail == "1 TypeScript files not checked"
    assert [(f.path, f.line) for f in report.findings] == [("lib/bad.mjs", 3)]
    assert report.findings[0].message == "SyntaxError: Unexpected token ';'"


async def test_without_node_javascript_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "main.js").write_text("const a = 1;\n")
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    report = await analyze(tmp_path, "javascript")
    assert report.status == "skipped"
    assert report.detail == "node is not installed on this server"
