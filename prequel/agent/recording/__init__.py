"""The workspace's recording (issue 7): every event, numbered, with who did it, buffered on
disk until the portal collects it.

    buffer.py        the numbered, append-only disk buffer and its acknowledgement
    recorder.py      record(), output coalescing, the long-poll read, the flush task
    collab_hooks.py  what the collaboration service records (document, files, chat, presence)

The hooks for the terminal, runs and tests are in their routes. The format is
docs/recording-format.md; the endpoints are in docs/agent-protocol.md ("Recording").
"""
