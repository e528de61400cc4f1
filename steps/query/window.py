"""Which time window to query and under which benchmark name (query.md §3). Pure: clock and reader injected."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from typing import Callable, List, Optional, Tuple

from ..common.config import is_set
from ..common.errors import UsageError
from ..common.timefmt import Clock, parse_window_time
from ..common.workspace import plain_name


@dataclass(frozen=True)
class WindowRequest:
    """The window-related flags, raw; "" or None means not set."""

    input: Optional[str] = None
    benchmark: Optional[str] = None
    start_time: Optional[str] = None
    end_time: Optional[str] = None
    interval: int = 300
    interval_given: bool = False


@dataclass(frozen=True)
class ResolvedWindow:
    """The window to query, with the benchmark name and whether to save it."""

    start: datetime
    end: datetime
    benchmark: str  # the name used by the validation table
    save: bool  # write <benchmark>.json (benchmark mode)
    warnings: Tuple[str, ...] = field(default=())

    @property
    def start_epoch(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_epoch(self) -> int:
        return int(self.end.timestamp())


def check_request(request: WindowRequest, output: str) -> List[str]:
    """Usage checks that need no file (exit 2, before anything is written); returns warnings."""
    warnings: List[str] = []
    if is_set(request.input):
        ignored = [
            flag
            for flag, value in (
                ("--benchmark", request.benchmark),
                ("--start-time", request.start_time),
                ("--end-time", request.end_time),
            )
            if is_set(value)
        ]
        if request.interval_given:
            ignored.append("--interval")
        if ignored:
            warnings.append(f"--input {request.input} gives the window; {', '.join(ignored)} ignored")
        name = plain_name(str(request.input))
    elif is_set(request.benchmark):
        name = plain_name(str(request.benchmark))
        if is_set(request.start_time) != is_set(request.end_time):
            given, missing = (
                ("--start-time", "--end-time") if is_set(request.start_time) else ("--end-time", "--start-time")
            )
            value = request.start_time if is_set(request.start_time) else request.end_time
            raise UsageError(f"{given} {value} was given without {missing}; give both or neither")
        if is_set(request.start_time):
            start = parse_window_time(str(request.start_time), "--start-time")
            end = parse_window_time(str(request.end_time), "--end-time")
            if end <= start:
                raise UsageError(f"--end-time {request.end_time} is not after --start-time {request.start_time}")
    else:
        raise UsageError("give --input (an existing time-window file) or --benchmark (a name for a new window)")
    if plain_name(output) == name:
        raise UsageError(f"--output {output} and the benchmark name {name} must differ: both are {name}.json")
    return warnings


def resolve_window(
    request: WindowRequest, output: str, clock: Clock, read_window: Callable[[str], Tuple[datetime, datetime]]
) -> ResolvedWindow:
    """The window and benchmark name; `read_window(name)` reads `<name>.json` of the workspace."""
    warnings = check_request(request, output)
    if is_set(request.input):
        name = plain_name(str(request.input))
        start, end = read_window(name)
        return ResolvedWindow(start, end, name, save=False, warnings=tuple(warnings))
    name = plain_name(str(request.benchmark))
    if is_set(request.start_time):
        start = parse_window_time(str(request.start_time), "--start-time")
        end = parse_window_time(str(request.end_time), "--end-time")
    else:
        end = clock().astimezone(timezone.utc).replace(microsecond=0)
        start = end - timedelta(seconds=request.interval)
    return ResolvedWindow(start, end, name, save=True, warnings=tuple(warnings))


def short_window_warning(window: ResolvedWindow, step: Fraction) -> Optional[str]:
    """Train needs at least two samples per series: warn for a window shorter than two steps."""
    if Fraction(window.end_epoch - window.start_epoch) < 2 * step:
        return (
            f"the window {window.end_epoch - window.start_epoch} s is shorter than two steps of {float(step):g} s; "
            "train needs at least two samples per series"
        )
    return None
