"""Minimal text edits: what changed between two versions of a file, applied to a Y.Text as
insertions and deletions (never as a wipe-and-replace), and a three-way merge for a file that
changed on disk while the document was edited.

Positions in `Edit` are Python string indexes (code points) in the old text; pycrdt's Y.Text
counts UTF-8 bytes, so `apply_edits` converts them.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from difflib import SequenceMatcher

from pycrdt import Text

# Past these sizes a changed block is replaced whole instead of diffed more finely (difflib is
# quadratic in the worst case).
MAX_DIFF_LINES = 20_000
MAX_CHAR_DIFF = 4_000


@dataclass(frozen=True)
class Edit:
    """Replace old[start:end] with `text`."""

    start: int
    end: int
    text: str


def _common_prefix(a: str, b: str) -> int:
    low, high = 0, min(len(a), len(b))
    while low < high:  # the longest n with a[:n] == b[:n], by halving (slices compare in C)
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: str, b: str, limit: int) -> int:
    low, high = 0, min(len(a), len(b)) - limit
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle :] == b[len(b) - middle :]:
            low = middle
        else:
            high = middle - 1
    return low


def _line_starts(lines: list[str], offset: int) -> list[int]:
    starts = [offset]
    for line in lines:
        starts.append(starts[-1] + len(line))
    return starts


def _refine(old: str, new: str, start: int) -> list[Edit]:
    """Character-level edits inside one changed block of lines."""
    if len(old) > MAX_CHAR_DIFF or len(new) > MAX_CHAR_DIFF:
        return [Edit(start, start + len(old), new)]
    edits = []
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            edits.append(Edit(start + i1, start + i2, new[j1:j2]))
    return edits


def diff(old: str, new: str) -> list[Edit]:
    """Edits turning `old` into `new`, sorted and non-overlapping: the common prefix and
    suffix are kept, the rest is diffed by line, and changed lines by character."""
    if old == new:
        return []
    prefix = _common_prefix(old, new)
    suffix = _common_suffix(old, new, prefix)
    old_mid = old[prefix : len(old) - suffix]
    new_mid = new[prefix : len(new) - suffix]
    if not old_mid or not new_mid:
        return [Edit(prefix, prefix + len(old_mid), new_mid)]
    old_lines = old_mid.splitlines(keepends=True)
    new_lines = new_mid.splitlines(keepends=True)
    if len(old_lines) > MAX_DIFF_LINES or len(new_lines) > MAX_DIFF_LINES:
        return [Edit(prefix, prefix + len(old_mid), new_mid)]
    old_starts = _line_starts(old_lines, prefix)
    new_starts = _line_starts(new_lines, 0)
    edits: list[Edit] = []
    matcher = SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start, end = old_starts[i1], old_starts[i2]
        replacement = new_mid[new_starts[j1] : new_starts[j2]]
        if tag == "replace":
            edits += _refine(old[start:end], replacement, start)
        else:
            edits.append(Edit(start, end, replacement))
    return edits


def apply_edits(ytext: Text, old: str, edits: list[Edit]) -> None:
    """Apply edits computed against `old` (the Y.Text's current content) in one transaction,
    from the end backwards so earlier positions stay valid."""
    if not edits:
        return
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    # UTF-8 byte offsets of every position used, found in one pass from the start.
    offsets: dict[int, int] = {}
    position, byte = 0, 0
    for point in sorted({p for e in ordered for p in (e.start, e.end)}):
        byte += len(old[position:point].encode("utf-8"))
        position = point
        offsets[point] = byte
    with ytext.doc.transaction():
        for edit in reversed(ordered):
            start, end = offsets[edit.start], offsets[edit.end]
            if end > start:
                del ytext[start:end]
            if edit.text:
                ytext.insert(start, edit.text)


def rebase(base: str, ours: str, theirs: list[Edit]) -> list[Edit]:
    """Move `theirs` (edits of `base`) onto `ours` (base edited differently meanwhile).

    The result, applied to `ours`, holds both changes: theirs deletes only characters of base
    that ours kept (never what ours typed), and inserts its text where its change started;
    where that spot was rewritten by ours, after ours' text.
    """
    # The stretches of base that ours kept, as (base start, base end, ours start).
    kept: list[tuple[int, int, int]] = []
    at_base = at_ours = 0
    for edit in diff(base, ours):
        if edit.start > at_base:
            kept.append((at_base, edit.start, at_ours))
        at_ours += edit.start - at_base + len(edit.text)
        at_base = edit.end
    if at_base < len(base):
        kept.append((at_base, len(base), at_ours))
    kept_ends = [end for _start, end, _ours in kept]

    def insertion_point(position: int) -> int:
        index = bisect_right(kept_ends, position)
        if index < len(kept):
            start, _end, ours_start = kept[index]
            return ours_start + max(0, position - start)
        return len(ours)

    moved: list[Edit] = []
    for edit in theirs:
        for start, end, ours_start in kept:
            low, high = max(start, edit.start), min(end, edit.end)
            if low < high:
                moved.append(Edit(ours_start + low - start, ours_start + high - start, ""))
        if edit.text:
            point = insertion_point(edit.start)
            moved.append(Edit(point, point, edit.text))
    return _normalized(moved)


def _normalized(edits: list[Edit]) -> list[Edit]:
    """Sorted, with touching deletions merged and an insertion joined to the deletion that
    starts at its position."""
    out: list[Edit] = []
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if out and out[-1].end == edit.start and not out[-1].text:
            last = out.pop()
            out.append(Edit(last.start, edit.end, edit.text))
        elif out and out[-1].start == edit.start and out[-1].start == out[-1].end:
            last = out.pop()
            out.append(Edit(edit.start, edit.end, last.text + edit.text))
        else:
            out.append(edit)
    return out
