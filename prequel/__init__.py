"""Prequel: a self-hosted coding-interview platform."""

__version__ = "0.1.0"
