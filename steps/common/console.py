"""Where a step talks to people: progress on stdout, warnings and the one error line on stderr."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Optional, TextIO


@dataclass
class Console:
    """Printing for one command; streams are injected so tests can capture them."""

    command: str
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    warnings: list = field(default_factory=list)

    def info(self, message: str) -> None:
        print(message, file=self.out, flush=True)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        print(f"kepler-model {self.command}: warning: {message}", file=self.err, flush=True)

    def error(self, message: str) -> None:
        print(f"kepler-model {self.command}: error: {message}", file=self.err, flush=True)

    def progress(self, total: int, label: str) -> "Progress":
        return Progress(total=total, label=label, stream=self.out)


@dataclass
class Progress:
    """A text progress bar: redrawn in place on a terminal, a few plain lines otherwise."""

    total: int
    label: str
    stream: TextIO
    width: int = 30
    done: int = 0
    _started: float = field(default_factory=time.monotonic)
    _last_line_pct: int = -1

    def advance(self, n: int = 1) -> None:
        self.done = min(self.total, self.done + n)
        self._draw()

    def _draw(self) -> None:
        total = max(self.total, 1)
        pct = int(100 * self.done / total)
        elapsed = time.monotonic() - self._started
        filled = int(self.width * self.done / total)
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"{self.label} [{bar}] {self.done}/{self.total} ({elapsed:.1f}s)"
        if _is_tty(self.stream):
            end = "\n" if self.done >= self.total else ""
            print("\r" + line, end=end, file=self.stream, flush=True)
        elif self.done >= self.total or pct // 25 > self._last_line_pct // 25:
            # Logs (CI, kubectl logs) get at most five lines per bar, not one per item.
            self._last_line_pct = pct
            print(line, file=self.stream, flush=True)


def _is_tty(stream: TextIO) -> bool:
    isatty: Optional[object] = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())  # type: ignore[operator]
    except ValueError:
        return False
