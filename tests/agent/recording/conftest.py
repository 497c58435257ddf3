"""The recording lives in the collaboration state folder: the same agents as tests/agent/collab."""

from tests.agent.collab.conftest import start_collab, state_dir

__all__ = ["start_collab", "state_dir"]
