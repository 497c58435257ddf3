"""Live collaboration in the workspace agent (issue 6): the shared editor's document, the
interviewers' private notes, the chat, and the observe mode.

    identity.py   who a connection is (portal headers, trusted only with the portal token)
    protocol.py   the y-websocket wire format, and the agent's own notices (type 100)
    outbox.py     a client's bounded outgoing queue; sending never blocks or raises
    channel.py    Starlette WebSocket -> pycrdt Channel, with the room's filters
    room.py       a YRoom with roles, awareness rules and persistence
    log.py        update log and checkpoints on disk
    textdiff.py   minimal diffs applied to a Y.Text, three-way rebase
    scan.py       which files are shared, and polling their stat
    disk_sync.py  document <-> workspace files, both ways
    chat.py       the stored chat
    notes.py      the staff-only notes room
    service.py    ties them together for one agent
    settings.py   state folder and limits

The protocol is documented in docs/agent-protocol.md ("Collaboration").
"""
