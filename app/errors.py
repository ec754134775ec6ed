"""The one error type of the application layer."""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """A problem with the user's input: reported in one line, no traceback."""
