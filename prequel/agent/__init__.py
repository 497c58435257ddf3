"""The workspace agent: one process per interview workspace, serving it to the portal over one
authenticated HTTP/WebSocket protocol (docs/agent-protocol.md).

Nothing heavy is imported here: `python -m prequel.agent` must reach a healthy server fast.
"""
