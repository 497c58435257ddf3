"""The documentation keeps up with the code: every setting documented, no dead links."""

from __future__ import annotations

import re
from pathlib import Path

from prequel.settings import iter_setting_names

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION_DOC = ROOT / "docs" / "configuration.md"
README = ROOT / "README.md"

# A Markdown link or image target that points into docs/ at a .md file, e.g. (docs/api.md#auth).
DOCS_LINK = re.compile(r"\]\(\s*(?:\./)?(docs/[^)\s#]+\.md)(?:#[^)\s]*)?\s*\)")


def _mentions(text: str, name: str) -> bool:
    """True if the environment variable appears as a whole name, not as part of a longer one."""
    return re.search(rf"(?<![A-Z0-9_]){re.escape(name)}(?![A-Z0-9_])", text) is not None


def test_every_setting_is_documented() -> None:
    text = CONFIGURATION_DOC.read_text(encoding="utf-8")
    names = [name for name, _description in iter_setting_names()]
    assert names, "iter_setting_names() returned no settings"
    missing = [name for name in names if not _mentions(text, name)]
    assert not missing, f"docs/configuration.md does not mention: {', '.join(missing)}"


def test_every_setting_has_a_description() -> None:
    undescribed = [name for name, description in iter_setting_names() if not description.strip()]
    assert not undescribed, f"settings without a description: {', '.join(undescribed)}"


def test_readme_links_to_docs_exist() -> None:
    links = DOCS_LINK.findall(README.read_text(encoding="utf-8"))
    assert links, "README.md links to no docs/*.md file"
    dead = sorted({link for link in links if not (ROOT / link).is_file()})
    assert not dead, f"README.md links to missing files: {', '.join(dead)}"
