"""World -> database reconciliation: a labelled workspace that no interview owns is archived
and destroyed, never left running."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from prequel.challenges.bundle import pack
from prequel.settings import load_settings
from prequel.workspaces.base import ChallengeFiles, Handle, workspace_name
from prequel.workspaces.local import LocalProvisioner
from tests.support import uids
from tests.support.portal_process import PortalProcess, agent_processes

SAMPLE = "challenges/rate-limiter"


async def make_orphan(portal: PortalProcess) -> Handle:
    # A uid outside the portal's range, as a workspace left by another portal would have.
    settings = load_settings(
        data_dir=portal.data_dir, env="test", sandbox={"uid_base": uids.take()}
    )
    provisioner = LocalProvisioner(settings)
    interview_id = uuid.uuid4().hex
    handle = Handle(interview_id, "local", workspace_name(interview_id))
    handle = await provisioner.allocate(handle, set())
    challenge = ChallengeFiles("rate-limiter", 1, pack(Path(SAMPLE)))

    async def log(_line: str) -> None:
        return None

    handle = await provisioner.create(handle, challenge, log)
    await provisioner.configure(handle, challenge, log)
    async with provisioner.agent_client(handle) as agent:
        written = await agent.put("/files/left-behind.txt", json={"content": "precious"})
        assert written.status_code in (200, 201), written.text
    return handle


def test_a_workspace_nobody_owns_is_archived_then_removed(portal: PortalProcess) -> None:
    handle = asyncio.run(make_orphan(portal))
    assert handle.pid in agent_processes(portal.data_dir)
    deadline = time.monotonic() + 30
    folder = portal.data_dir / "workspaces" / handle.name
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not folder.exists(), portal.log_text()
    assert agent_processes(portal.data_dir) == []
    saved = list((portal.data_dir / "blobs" / "orphans" / handle.name).glob("*.tar.gz"))
    assert len(saved) == 1 and saved[0].stat().st_size > 0
