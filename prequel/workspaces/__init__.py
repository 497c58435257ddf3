"""Provisioner backends: where interview workspaces (one agent each) run."""
