"""Organization roles and what each may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    INTERVIEWER = "interviewer"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, required: Role) -> bool:
        """Roles are ordered: owner > admin > interviewer > viewer."""
        return self.rank >= required.rank


_RANK = {Role.VIEWER: 0, Role.INTERVIEWER: 1, Role.ADMIN: 2, Role.OWNER: 3}
