"""Keeping the interviewers' private notes: the destroy job copies them from the workspace
(agent `GET /collab/notes/text`) to the interview before the workspace, and the notes with
it, are removed. Best effort, like grading: a failure is a warning, never a lost archive."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import update

from prequel.db.models import Interview
from prequel.jobs.context import WorkerContext
from prequel.workspaces.base import Handle

MAX_NOTES_CHARS = 200_000

Log = Callable[..., Awaitable[None]]


async def keep_private_notes(
    ctx: WorkerContext, interview_id: str, handle: Handle, log: Log
) -> None:
    try:
        async with ctx.provisioner.agent_client(handle, timeout=15.0) as agent:
            response = await agent.get("/collab/notes/text")
        if response.status_code != 200:
            await log(
                f"the private notes could not be copied: the agent answered {response.status_code}",
                "warning",
            )
            return
        text = str(response.json().get("text", ""))[:MAX_NOTES_CHARS]
        if not text.strip():
            return
        async with ctx.sessions() as db:
            await db.execute(
                update(Interview)
                .where(Interview.id == interview_id)
                .values(private_notes=text)
                .execution_options(synchronize_session=False)
            )
            await db.commit()
        await log("kept the interviewers' private notes for the report")
    except Exception as exc:  # never keeps the work from being saved
        await log(f"the private notes could not be copied: {exc!r}", "warning")
