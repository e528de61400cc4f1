"""Atomic writes: every file goes to a temporary name in its folder and is renamed into place.

A reader never sees a partial file, and a failed step leaves the previous file (or none).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Union

from .errors import WriteFailure

PathLike = Union[str, "os.PathLike[str]"]


def file_mode() -> int:
    """The mode a new file gets under the process umask (0o644 with the usual 022)."""
    return 0o666 & ~_umask()


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    """The process umask (read once: no step changes it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)  # no /proc: read it the old way (not thread-safe, hence second choice)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_path(target: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` when the block succeeds."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
    except OSError as failure:
        raise WriteFailure.of(failure, target) from None
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except OSError as failure:
        tmp.unlink(missing_ok=True)
        raise WriteFailure.of(failure, target) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(target: PathLike, data: bytes) -> Path:
    """Write `data` to `target` by rename (atomic_path); the target."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: PathLike, text: str) -> Path:
    """UTF-8 with \\n line ends (workspace.md §1.5)."""
    return write_bytes(target, text.encode("utf-8"))


def dumps_json(data: Any) -> str:
    """JSON as kepler-model-server writes it: default separators, no indentation, keys in given order."""
    return json.dumps(data)


def write_json(target: PathLike, data: Any) -> Path:
    """JSON as kepler-model-server writes it (dumps_json), by rename."""
    return write_text(target, dumps_json(data))


def write_csv(target: PathLike, frame: Any, **kwargs: Any) -> Path:
    """A pandas DataFrame as pandas writes it (leading index column unless told otherwise)."""
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, **kwargs)
    return Path(target)


def remove_empty_dirs(root: PathLike) -> None:
    """Remove empty folders below `root` (deepest first); no step leaves one behind."""
    root = Path(root)
    if not root.is_dir():
        return
    for current, _dirs, _files in os.walk(root, topdown=False):
        path = Path(current)
        if path != root and not any(path.iterdir()):
            path.rmdir()
