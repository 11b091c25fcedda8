"""Time stamps as the outputs write them and read them back: ISO 8601 UTC."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_iso", "parse_iso"]


def format_iso(t: datetime | None) -> str:
    """``2019-10-27T20:00:27Z`` (tenths of a second when present); ``""`` for None."""
    if t is None:
        return ""
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        s += f".{t.microsecond // 100000}"
    return s + "Z"


def parse_iso(text: str | None) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime (naive = UTC); None when empty or invalid."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
