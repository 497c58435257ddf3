"""Build the provisioner named by settings.workspaces.backend: the one place that maps a
backend's name to its class, so the rest of Prequel only knows the Provisioner protocol."""

from __future__ import annotations

from prequel.settings import Settings
from prequel.workspaces.base import Provisioner


def open_provisioner(settings: Settings) -> Provisioner:
    """The configured backend. Cheap: nothing is started or connected until it is used."""
    backend = settings.workspaces.backend
    if backend == "local":
        from prequel.workspaces.local import LocalProvisioner

        return LocalProvisioner(settings)
    raise ValueError(f"unknown workspace backend {backend!r}")  # pragma: no cover
