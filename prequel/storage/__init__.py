"""Blob storage: one protocol, backends chosen by name in settings."""
