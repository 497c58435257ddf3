"""Interviewers' private notes: a Yjs document of its own, in a room of its own.

Notes are never part of the shared document, so no sync message of the candidate's room can
carry them, whatever a client does. The notes room (`WS /collab/notes`) admits only staff
connections (portal token with role `interviewer` or `spectator`); anyone else is closed
with 4403 before a single byte of the room is sent. Interviewers edit, spectators read.
The notes are persisted like the shared document (their own update log and checkpoints in
the state folder, `notes/`), never written to the workspace, so they are not in its files,
its archive or the candidate's sandbox. By convention the browser edits the Y.Text `notes`.
"""

from __future__ import annotations

from prequel.agent.collab.identity import Identity

NOTES_ROOM = "notes"
# The Y.Text the browser edits in the notes document.
NOTES_TEXT = "notes"


def may_join(identity: Identity) -> bool:
    return identity.via_portal and identity.staff


def can_write(identity: Identity) -> bool:
    return identity.via_portal and identity.role == "interviewer"
