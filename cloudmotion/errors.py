"""Exceptions raised at the edges (reading, writing, configuration).

The command line maps :class:`DataError` to exit status 1 and :class:`UsageError` to
exit status 2, printing the message as one line without a traceback.
"""

from __future__ import annotations

__all__ = ["CloudmotionError", "DataError", "UsageError"]


class CloudmotionError(Exception):
    """Base class of the errors cloudmotion reports to users."""

    exit_code = 1


class DataError(CloudmotionError):
    """Unreadable, mismatched or untrackable input data, or an output that cannot be written."""

    exit_code = 1


class UsageError(CloudmotionError):
    """A bad option, option value or configuration key."""

    exit_code = 2
