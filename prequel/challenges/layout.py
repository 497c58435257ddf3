"""The challenge folder's fixed names and the test-command template: no dependencies, so the
workspace agent can use them without loading the validation machinery."""

from __future__ import annotations

import shlex

MANIFEST_NAME = "challenge.toml"
STATEMENT_NAME = "README.md"
FILES_DIR = "files"
VISIBLE_TESTS_DIR = "tests/visible"
HIDDEN_TESTS_DIR = "tests/hidden"
SOLUTION_DIR = "solution"
PLACEHOLDERS = ("tests", "report")
TEST_FORMATS = ("junit", "tap")


def command_argv(command: str, *, tests: str, report: str) -> list[str]:
    """The argv to run: the template split like a shell would (no shell runs), placeholders
    substituted per argument so paths with spaces stay one argument."""
    return [
        part.replace("{tests}", tests).replace("{report}", report) for part in shlex.split(command)
    ]
