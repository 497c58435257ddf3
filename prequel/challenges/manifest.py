"""challenge.toml and the challenge folder: validate everything, report every problem at once."""

from __future__ import annotations

import os
import re
import shlex
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Re-exported: the folder's names live in layout so the agent can use them cheaply.
from prequel.challenges.layout import FILES_DIR as FILES_DIR
from prequel.challenges.layout import HIDDEN_TESTS_DIR as HIDDEN_TESTS_DIR
from prequel.challenges.layout import MANIFEST_NAME as MANIFEST_NAME
from prequel.challenges.layout import PLACEHOLDERS as PLACEHOLDERS
from prequel.challenges.layout import SOLUTION_DIR as SOLUTION_DIR
from prequel.challenges.layout import STATEMENT_NAME as STATEMENT_NAME
from prequel.challenges.layout import VISIBLE_TESTS_DIR as VISIBLE_TESTS_DIR
from prequel.challenges.layout import command_argv as command_argv
from prequel.sandbox.limits import DEFAULT_LIMITS, LimitError
from prequel.settings import ChallengeSettings

# Caches and editor droppings that are never part of a challenge: not validated, not packed.
IGNORED_NAMES = frozenset(
    {
        ".git",
        ".hg",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        "node_modules",
        ".DS_Store",
        "__MACOSX",
    }
)
IGNORED_SUFFIXES = (".pyc", ".pyo")

MAX_MANIFEST_BYTES = 64 * 1024
MAX_STATEMENT_BYTES = 512 * 1024
MAX_PATH_DEPTH = 32

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")
_LANGUAGE = re.compile(r"^[a-z][a-z0-9+#._-]{0,39}$")
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,79}$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SHELL_TOKENS = frozenset({"|", "||", "&", "&&", ";", ">", ">>", "<", "2>", "2>&1", "$(", "`"})
_BAD_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a challenge folder: the relative path and what to fix."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class ChallengeInvalid(Exception):
    """The folder is not a valid challenge; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        listing = "; ".join(f"{p.path}: {p.message}" for p in problems)
        count = len(problems)
        super().__init__(f"invalid challenge ({count} problem{'s' * (count != 1)}): {listing}")


class TestsConfig(BaseModel):
    __test__ = False  # not a pytest test class, whatever its name

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    command: str = Field(min_length=1, max_length=2000)
    format: Literal["junit", "tap"]


class ChallengeManifest(BaseModel):
    """The parsed challenge.toml."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    slug: str
    title: str = Field(min_length=1, max_length=200)
    difficulty: Literal["easy", "medium", "hard"]
    tags: list[str] = Field(default_factory=list, max_length=20)
    language: str
    environment: str
    time_estimate_minutes: int = Field(ge=5, le=480)
    tests: TestsConfig
    # Sandbox limits for this challenge's runs and tests (prequel.sandbox.limits names them).
    limits: dict[str, int | float] = Field(default_factory=dict)

    @field_validator("limits")
    @classmethod
    def _limits(cls, value: dict[str, int | float]) -> dict[str, int | float]:
        try:
            DEFAULT_LIMITS.merged(value)
        except LimitError as exc:
            raise ValueError(f"[limits] {exc}") from exc
        return value

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(
                f"{value!r} is not a valid slug: use 2-64 lowercase letters, digits and "
                "hyphens, starting and ending with a letter or digit"
            )
        return value

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("title must not be blank")
        return value.strip()

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not tag.strip() or len(tag) > 40:
                raise ValueError(f"tag {tag!r} must be 1-40 characters")
        return [tag.strip() for tag in value]

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if not _LANGUAGE.match(value):
            raise ValueError(
                f"{value!r} is not a valid language: use a lowercase name such as "
                "'python', 'javascript' or 'sql'"
            )
        return value

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str) -> str:
        if not _ENVIRONMENT.match(value):
            raise ValueError(
                f"{value!r} is not a valid environment: use a name such as 'python3.11', "
                "'node20' or 'sqlite3'"
            )
        return value


@dataclass(frozen=True)
class LoadedChallenge:
    """A validated challenge folder. Paths in the lists are relative to ``root``."""

    root: Path
    manifest: ChallengeManifest
    statement: str
    starter_files: list[str]
    visible_tests: list[str]
    hidden_tests: list[str]
    solution_files: list[str]
    file_count: int
    total_bytes: int

    @property
    def public_files(self) -> list[str]:
        """What a candidate may see: starter files and visible tests, never hidden or solution."""
        return [*self.starter_files, *self.visible_tests]


@dataclass(frozen=True)
class TreeFile:
    path: str  # relative, slash-separated
    size: int
    executable: bool


def is_ignored(name: str) -> bool:
    return name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES)


def walk_tree(root: Path) -> tuple[list[TreeFile], list[Problem]]:
    """Every regular file under root, sorted, skipping ignored caches; symlinks and special
    files are problems, never followed."""
    files: list[TreeFile] = []
    problems: list[Problem] = []

    def visit(directory: Path, prefix: str, depth: int) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            problems.append(Problem(prefix or ".", f"cannot be read: {exc.strerror}"))
            return
        for entry in entries:
            if is_ignored(entry.name):
                continue
            rel = f"{prefix}{entry.name}"
            if _BAD_NAME_CHARS.search(entry.name):
                problems.append(Problem(rel, "name has control characters or a backslash"))
                continue
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                problems.append(Problem(rel, "is a symlink; challenges may hold only plain files"))
            elif stat.S_ISDIR(info.st_mode):
                if depth >= MAX_PATH_DEPTH:
                    problems.append(Problem(rel, f"is nested more than {MAX_PATH_DEPTH} deep"))
                else:
                    visit(Path(entry.path), rel + "/", depth + 1)
            elif stat.S_ISREG(info.st_mode):
                executable = bool(info.st_mode & stat.S_IXUSR)
                files.append(TreeFile(rel, info.st_size, executable))
            else:
                problems.append(Problem(rel, "is a device, pipe or socket; only plain files"))

    visit(root, "", 0)
    return files, problems


def command_placeholders(command: str) -> list[str]:
    return _PLACEHOLDER.findall(command)


def command_problems(command: str, test_format: str | None) -> list[Problem]:
    where = f"{MANIFEST_NAME}"
    problems: list[Problem] = []
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return [Problem(where, f"tests.command cannot be split into arguments: {exc}")]
    if not argv:
        return [Problem(where, "tests.command is empty")]
    used = command_placeholders(command)
    for name in sorted(set(used) - set(PLACEHOLDERS)):
        problems.append(
            Problem(
                where,
                f"tests.command has an unknown placeholder {{{name}}}; "
                "only {tests} and {report} exist",
            )
        )
    if "tests" not in used:
        problems.append(
            Problem(where, "tests.command must contain {tests}, the folder of tests to run")
        )
    if test_format == "junit" and "report" not in used:
        problems.append(
            Problem(
                where,
                "tests.format is 'junit' so tests.command must contain {report}, "
                "where the JUnit XML report is written",
            )
        )
    if test_format == "tap" and "report" not in used:
        problems.append(
            Problem(
                where,
                "tests.format is 'tap' so tests.command must write TAP to {report} (for node: "
                "--test-reporter=tap --test-reporter-destination={report}); TAP read from "
                "stdout could be forged by the code under test printing 'ok' lines",
            )
        )
    if os.path.basename(argv[0]).startswith("node") and "--test" in argv:
        problems.append(
            Problem(
                where,
                "tests.command uses `node --test`, which reads each test file's stdout as TAP, "
                "so code under test could print 'ok 1 - ...' and pass; load the test files in "
                "one process instead (see the event-scheduler sample's tests/*/index.cjs)",
            )
        )
    shell = sorted({part for part in argv if part in _SHELL_TOKENS})
    if shell:
        problems.append(
            Problem(
                where,
                f"tests.command runs without a shell, so {', '.join(shell)} "
                "would be passed as plain arguments; remove them",
            )
        )
    return problems


def _manifest_problems(exc: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    allowed = ", ".join(ChallengeManifest.model_fields)
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        kind = error["type"]
        if kind == "extra_forbidden":
            hint = "command, format" if key.startswith("tests.") else allowed
            message = f"unknown key '{key}' (allowed: {hint})"
        elif kind == "missing":
            message = f"missing required key '{key}'"
        else:
            text = str(error["msg"]).removeprefix("Value error, ")
            message = f"{key}: {text}"
        problems.append(Problem(MANIFEST_NAME, message))
    return problems


def parse_manifest(text: str) -> tuple[ChallengeManifest | None, list[Problem]]:
    """Parse challenge.toml text; every problem found, never just the first."""
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [Problem(MANIFEST_NAME, f"is not valid TOML: {exc}")]
    problems: list[Problem] = []
    manifest: ChallengeManifest | None = None
    try:
        manifest = ChallengeManifest.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_manifest_problems(exc))
    tests = raw.get("tests")
    if isinstance(tests, dict) and isinstance(tests.get("command"), str) and tests["command"]:
        fmt = tests.get("format")
        problems.extend(command_problems(tests["command"], fmt if isinstance(fmt, str) else None))
    return (manifest if not problems else None), problems


def _read_text(path: Path, rel: str, limit: int, problems: list[Problem]) -> str | None:
    if not path.is_file() or path.is_symlink():
        return None
    size = path.stat().st_size
    if size > limit:
        problems.append(Problem(rel, f"is {size} bytes; the limit is {limit}"))
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(Problem(rel, "is not UTF-8 text"))
        return None


def _section(files: list[TreeFile], folder: str) -> list[str]:
    prefix = folder + "/"
    return [f.path for f in files if f.path.startswith(prefix)]


def _require_folder(root: Path, folder: str, listed: list[str], what: str) -> list[Problem]:
    path = root / folder
    if path.is_symlink():
        return []  # already reported by walk_tree
    if not path.exists():
        return [Problem(folder, f"is missing; it must hold {what}")]
    if not path.is_dir():
        return [Problem(folder, f"must be a folder holding {what}")]
    if not listed:
        return [Problem(folder, f"is empty; it must hold at least one file ({what})")]
    return []


def load_challenge_dir(
    path: Path | str, limits: ChallengeSettings | None = None
) -> LoadedChallenge:
    """Validate a whole challenge folder; raise ChallengeInvalid listing every problem."""
    limits = limits or ChallengeSettings()
    root = Path(path)
    if not root.is_dir():
        raise ChallengeInvalid([Problem(".", f"{root} is not a folder")])
    root = root.resolve()
    files, problems = walk_tree(root)

    total = sum(f.size for f in files)
    if len(files) > limits.max_files:
        problems.append(Problem(".", f"holds {len(files)} files; the limit is {limits.max_files}"))
    if total > limits.max_unpacked_bytes:
        problems.append(
            Problem(".", f"holds {total} bytes of files; the limit is {limits.max_unpacked_bytes}")
        )

    manifest: ChallengeManifest | None = None
    toml_text = _read_text(root / MANIFEST_NAME, MANIFEST_NAME, MAX_MANIFEST_BYTES, problems)
    if toml_text is None and not (root / MANIFEST_NAME).is_file():
        problems.append(
            Problem(
                MANIFEST_NAME,
                "is missing; every challenge folder needs a challenge.toml at its top level",
            )
        )
    elif toml_text is not None:
        manifest, manifest_problems = parse_manifest(toml_text)
        problems.extend(manifest_problems)

    statement = _read_text(root / STATEMENT_NAME, STATEMENT_NAME, MAX_STATEMENT_BYTES, problems)
    if statement is None and not (root / STATEMENT_NAME).is_file():
        problems.append(Problem(STATEMENT_NAME, "is missing; it holds the candidate's statement"))
    elif statement is not None and not statement.strip():
        problems.append(Problem(STATEMENT_NAME, "is empty; write the statement the candidate sees"))

    sections = {
        FILES_DIR: "the starter files of the candidate's workspace",
        VISIBLE_TESTS_DIR: "the tests the candidate can see and run",
        HIDDEN_TESTS_DIR: "the tests used for grading",
        SOLUTION_DIR: "the reference solution, laid over files/",
    }
    listings = {folder: _section(files, folder) for folder in sections}
    for folder, what in sections.items():
        problems.extend(_require_folder(root, folder, listings[folder], what))

    if problems or manifest is None or statement is None:
        raise ChallengeInvalid(problems or [Problem(".", "is not a valid challenge")])
    return LoadedChallenge(
        root=root,
        manifest=manifest,
        statement=statement,
        starter_files=listings[FILES_DIR],
        visible_tests=listings[VISIBLE_TESTS_DIR],
        hidden_tests=listings[HIDDEN_TESTS_DIR],
        solution_files=listings[SOLUTION_DIR],
        file_count=len(files),
        total_bytes=total,
    )
