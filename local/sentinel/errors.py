"""The one exception base of the local twin: every error ``sentinel`` raises on purpose is a LocalError."""

from __future__ import annotations


class LocalError(Exception):
    """Base of the local twin's named errors (emulator, endpoint, pipeline executor, CLI)."""
