"""Publish files and folders as one unit: readers see all of the old state or all of the new.

A run assembles its outputs in a private staging folder beside the targets (same filesystem, so
renames are atomic) and commits them in three moves:

1. a journal naming every replacement (and the inode of each staged entry) is written into the
   staging folder: from here on the new state is complete and will be put in place;
2. each staged entry is renamed over its target (a folder is swapped with RENAME_EXCHANGE where
   the filesystem has it, so the target path never disappears);
3. the journal is removed, then the staging folder (which now holds the old entries).

SIGTERM and SIGINT are held during these moves (signals.deferred). For SIGKILL, power loss or a
pod deleted mid-commit, the next run calls `recover`: a staging folder whose run is gone is
discarded when it has no journal (nothing was touched) and finished when it has one (the inodes
say which moves are done). A run holds a lock (flock) on its staging folder for its lifetime;
a folder whose lock can be taken belongs to a dead run, also across containers of one node. The
folder is made under a `~new` name, locked, then renamed, all under a lock on the parent folder that
`recover` takes too, so a run killed between making and locking it leaves nothing the next run keeps.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import ContextManager, Iterator, List, Optional, Sequence, Tuple

from . import signals
from .errors import StepError, WriteFailure

JOURNAL = "commit-journal.json"
NEW_SUFFIX = "~new"  # a staging folder before it is locked (see _creation_lock)
ORPHAN_AGE_SECONDS = 600.0


# -------------------------------------------------------------------------------- renames


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2() -> Optional[ctypes._CFuncPtr]:  # type: ignore[name-defined]
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function


_RENAMEAT2 = _renameat2()


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically; False where the system or filesystem cannot."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


# -------------------------------------------------------------------------------- journal


@dataclass(frozen=True)
class Move:
    """One replacement: `staged` (relative to the staging folder; None = remove the target) onto
    `target` (relative to the staging folder's parent)."""

    staged: Optional[str]
    target: str
    inode: int = 0

    def to_json(self) -> dict:
        return {"staged": self.staged, "target": self.target, "inode": self.inode}

    @classmethod
    def from_json(cls, item: dict) -> "Move":
        return cls(item.get("staged"), str(item["target"]), int(item.get("inode") or 0))


def _inode(path: Path) -> Optional[int]:
    try:
        return os.lstat(path).st_ino
    except FileNotFoundError:
        return None


def _apply(move: Move, staging: Path, parent: Path, number: int) -> None:
    """Put one move in place; safe to repeat after a crash at any point (the inode says if done)."""
    target = parent / move.target
    if move.staged is None:
        if os.path.lexists(target):
            os.replace(target, staging / f"removed-{number}")
        return
    if _inode(target) == move.inode:
        return  # done before
    staged = staging / move.staged
    if _inode(staged) != move.inode:
        raise StepError(f"cannot finish the commit of {target}: its staged copy {staged} is missing")
    target.parent.mkdir(parents=True, exist_ok=True)
    if staged.is_dir() and not staged.is_symlink() and target.is_dir():
        if exchange(staged, target):
            return  # the old folder is now at `staged`, removed with the staging folder
        os.replace(target, staging / f"old-{number}")
    os.replace(staged, target)


def _preflight(staged: Optional[Path], target: Path) -> None:
    """Refuse, before the journal, a move that could not be carried out (a file where a folder goes,
    or the other way round), so that a commit never stops half-way on something known up front."""
    for parent in [target.parent, *target.parent.parents]:
        if os.path.lexists(parent):
            if not parent.is_dir():
                raise WriteFailure(target, f"{parent} is not a folder")
            break
    if staged is None or not os.path.lexists(target):
        return
    if staged.is_dir() and (target.is_symlink() or not target.is_dir()):
        raise WriteFailure(target, "a file is in the way of the folder")
    if not staged.is_dir() and target.is_dir() and not target.is_symlink():
        raise WriteFailure(target, "Is a directory")


def _apply_all(moves: Sequence[Move], staging: Path, parent: Path) -> None:
    for number, move in enumerate(moves):
        _apply(move, staging, parent, number)
        signals.checkpoint(f"commit.move-{number}")


# -------------------------------------------------------------------------------- staging


class Staging:
    """A run's private, locked folder `.<label>-<random>` beside its targets.

    Use as a context manager: leaving the block without `commit` discards it.
    """

    def __init__(self, parent: Path, label: str) -> None:
        self.parent = Path(parent)
        self.label = label
        self.root: Optional[Path] = None
        self.committed = False
        self.aliases: dict = {}  # top-level staged name -> the name it stands for once published
        self._lock: Optional[int] = None
        self._keep = False  # a commit failed half-way: the journal stays for `recover`

    def __enter__(self) -> "Staging":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def open(self) -> Path:
        """Create and lock the folder. It is locked under a name `recover` skips, then renamed."""
        if self.root is not None:
            return self.root
        name = f".{self.label}-{uuid.uuid4().hex[:12]}"
        fresh = self.parent / (name + NEW_SUFFIX)
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
            with _creation_lock(self.parent):
                fresh.mkdir(mode=0o700)
                self._lock = os.open(fresh, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.rename(fresh, self.parent / name)
        except OSError as failure:
            self._unlock()
            shutil.rmtree(fresh, ignore_errors=True)
            raise WriteFailure.of(failure, self.parent) from None
        self.root = self.parent / name
        return self.root

    def path(self, *parts: str) -> Path:
        return self.open().joinpath(*parts)

    def public(self, path: Path) -> Path:
        """Where a path inside a staged entry will live once committed (for messages)."""
        if self.root is None:
            return path
        try:
            relative = Path(path).relative_to(self.root)
        except ValueError:
            return path
        if not relative.parts:
            return self.parent
        return self.parent.joinpath(self.aliases.get(relative.parts[0], relative.parts[0]), *relative.parts[1:])

    def commit(self, moves: Sequence[Tuple[Optional[Path], Path]]) -> None:
        """Rename each staged path (or None: remove) onto its target, as one unit; then discard."""
        root = self.open()
        signals.check()  # a stop asked for while the outputs were staged: the targets stay as they are
        for staged, target in moves:
            _preflight(None if staged is None else Path(staged), Path(target))
        journal = [
            Move(
                None if staged is None else str(Path(staged).relative_to(root)),
                str(Path(target).relative_to(self.parent)),
                0 if staged is None else os.lstat(staged).st_ino,
            )
            for staged, target in moves
        ]
        tmp = root / (JOURNAL + ".tmp")
        try:
            tmp.write_text(json.dumps([m.to_json() for m in journal]), encoding="utf-8")
        except OSError as failure:
            raise WriteFailure.of(failure, self.parent) from None
        signals.checkpoint("commit.staged")
        with signals.deferred():
            try:
                os.rename(tmp, root / JOURNAL)  # the point of no return
            except OSError as failure:
                raise WriteFailure.of(failure, self.parent) from None
            signals.checkpoint("commit.journal")
            try:
                _apply_all(journal, root, self.parent)
                (root / JOURNAL).unlink()
            except OSError as failure:
                self._keep = True
                self._unlock()
                raise StepError(
                    f"the commit into {self.parent} stopped half-way ({failure.strerror or failure}: "
                    f"{failure.filename}); the next run finishes it from {root}"
                ) from None
            self.committed = True
            signals.finish()  # published: a signal from here on would only fail a finished step
        self.discard()
        signals.checkpoint("commit.done")

    def discard(self) -> None:
        """Remove the folder and release the lock (idempotent)."""
        if self.root is not None and not self._keep:
            shutil.rmtree(self.root, ignore_errors=True)
        self.root = None
        self._unlock()

    def _unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


@contextlib.contextmanager
def _flocked(folder: Path, patience: float = 0.0) -> Iterator[bool]:
    """True while holding an exclusive flock on `folder`, tried for up to `patience` seconds; False when
    the folder cannot be opened or stays locked."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        yield False
        return
    try:
        deadline = time.monotonic() + patience
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.001)
        yield True
    finally:
        os.close(fd)


def _lock_if_dead(folder: Path) -> ContextManager[bool]:
    """True (holding its lock) when no live run owns `folder`."""
    return _flocked(folder)


def _creation_lock(parent: Path, patience: float = 5.0) -> ContextManager[bool]:
    """The parent folder locked while a staging folder is created, locked and renamed, or while `recover`
    removes the `~new` folders of runs that died in between: holding it, no live run is between the two,
    so every `~new` folder is a dead run's. False when it stays locked for `patience` seconds (it is held
    for microseconds) or cannot be opened."""
    return _flocked(parent, patience)


def _remove_unlocked_leftovers(parent: Path, prefix: str) -> None:
    """The `~new` folders of runs killed between creating and locking their staging folder: at once
    under the creation lock, else (it could not be taken) once clearly old."""
    with _creation_lock(parent) as locked:
        for folder in sorted(parent.iterdir()):
            if not (folder.name.startswith(prefix) and folder.name.endswith(NEW_SUFFIX)) or folder.is_symlink():
                continue
            with contextlib.suppress(OSError):
                if locked or time.time() - folder.stat().st_mtime > ORPHAN_AGE_SECONDS:
                    shutil.rmtree(folder, ignore_errors=True)


def recover(parent: Path, label: str) -> List[str]:
    """Finish or discard the staging folders of dead runs with this label; what was done, as lines."""
    parent = Path(parent)
    done: List[str] = []
    if not parent.is_dir():
        return done
    prefix = f".{label}-"
    _remove_unlocked_leftovers(parent, prefix)
    for folder in sorted(parent.iterdir()):
        if not folder.name.startswith(prefix) or not folder.is_dir() or folder.is_symlink():
            continue
        if folder.name.endswith(NEW_SUFFIX):
            continue  # a live run's, created since the line above
        with _lock_if_dead(folder) as dead:
            if not dead:
                continue
            journal = folder / JOURNAL
            if journal.is_file():
                moves = [Move.from_json(item) for item in json.loads(journal.read_text(encoding="utf-8"))]
                _apply_all(moves, folder, parent)
                done.append(f"finished the interrupted commit of {', '.join(m.target for m in moves)} in {parent}")
            else:
                done.append(f"removed {folder}, left by an interrupted run")
            shutil.rmtree(folder, ignore_errors=True)
    return done
