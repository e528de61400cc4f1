"""UTC times as the workspace files spell them; every datetime here is timezone-aware UTC."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from .errors import UsageError

WINDOW_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # benchmark files and --start-time/--end-time
PLAIN_FORMAT = "%Y-%m-%d %H:%M:%S"  # metadata times, collect and export times

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, aware UTC (the default clock; tests inject another)."""
    return datetime.now(timezone.utc)


def parse_window_time(value: str, flag: str = "time") -> datetime:
    """Strict `YYYY-MM-DDTHH:MM:SSZ`; anything else is a usage error naming the flag."""
    try:
        return datetime.strptime(value, WINDOW_FORMAT).replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        raise UsageError(f"{flag} {value!r} is not a UTC time of the form YYYY-MM-DDTHH:MM:SSZ") from None


def format_window_time(moment: datetime) -> str:
    """A time-window file time (`2024-07-25T21:05:43Z`)."""
    return moment.astimezone(timezone.utc).strftime(WINDOW_FORMAT)


def format_plain(moment: datetime) -> str:
    """A metadata time (`2024-07-25 21:05:43`), UTC."""
    return moment.astimezone(timezone.utc).strftime(PLAIN_FORMAT)


def from_epoch(seconds: float) -> datetime:
    """Epoch seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc)
