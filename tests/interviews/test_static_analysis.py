"""Static analysis with the real ruff and the real node: findings, the same rules for every
candidate, and clear answers when there is nothing to check."""

from __future__ import annotations

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
