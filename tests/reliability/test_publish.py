"""steps/common/publish.py: a commit is all or nothing, a dead run's staging is finished or removed,
a live run's staging is never touched, and published files follow the process umask.

Processes that die mid-commit are real child processes stopped by a real SIGKILL at a named
moment (signals.checkpoint); the lock that tells live from dead runs is a real flock.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from steps.common import publish
from steps.common.publish import Staging, recover

from .helpers import PAUSE, REPO, _state

COMMIT_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from steps.common import publish
    parent = Path(sys.argv[1])
    if sys.argv[2] == "no-exchange":
        publish.exchange = lambda a, b: False
    staging = publish.Staging(parent, "demo")
    staging.open()
    folder = staging.path("pipeline")
    folder.mkdir()
    (folder / "model.txt").write_text("new")
    (staging.path("pipeline.zip")).write_text("new zip")
    staging.commit([(folder, parent / "pipeline"), (staging.path("pipeline.zip"), parent / "pipeline.zip"),
                    (None, parent / "obsolete.txt")])
""")


def _old_state(parent: Path) -> None:
    (parent / "pipeline").mkdir(parents=True)
    (parent / "pipeline" / "model.txt").write_text("old")
    (parent / "pipeline" / "extra.txt").write_text("old only")
    (parent / "pipeline.zip").write_text("old zip")
    (parent / "obsolete.txt").write_text("old")


def _state_of(parent: Path) -> str:
    folder = parent / "pipeline"
    names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else None
    text = (folder / "model.txt").read_text() if folder.is_dir() else None
    zip_text = (parent / "pipeline.zip").read_text() if (parent / "pipeline.zip").exists() else None
    if (
        names == ["extra.txt", "model.txt"]
        and text == "old"
        and zip_text == "old zip"
        and (parent / "obsolete.txt").exists()
    ):
        return "old"
    if names == ["model.txt"] and text == "new" and zip_text == "new zip" and not (parent / "obsolete.txt").exists():
        return "new"
    return f"mixed: folder {names} {text!r}, zip {zip_text!r}, obsolete {(parent / 'obsolete.txt').exists()}"


def _killed_at(parent: Path, moment: str, mode: str = "exchange") -> int:
    """Run the commit in a child process and SIGKILL it at `moment`; its exit status."""
    env = dict(os.environ, PYTHONPATH=str(REPO), **{PAUSE: moment})
    child = subprocess.Popen([sys.executable, "-c", COMMIT_SCRIPT, str(parent), mode], env=env)
    deadline = time.monotonic() + 30
    while child.poll() is None and _state(child.pid) != "T" and time.monotonic() < deadline:
        time.sleep(0.005)
    if child.poll() is None:
        child.send_signal(signal.SIGKILL)
    return child.wait(timeout=30)


def test_commit_replaces_every_target_as_one(tmp_path: Path):
    _old_state(tmp_path)
    subprocess.run(
        [sys.executable, "-c", COMMIT_SCRIPT, str(tmp_path), "exchange"],
        check=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert _state_of(tmp_path) == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipeline", "pipeline.zip"]


MOMENTS = ["commit.staged", "commit.journal", "commit.move-0", "commit.move-1", "commit.move-2"]


@pytest.mark.parametrize("mode", ["exchange", "no-exchange"])
@pytest.mark.parametrize("moment", MOMENTS)
def test_a_commit_killed_at_any_moment_is_old_or_new_and_recovers(tmp_path: Path, moment: str, mode: str):
    _old_state(tmp_path)
    assert _killed_at(tmp_path, moment, mode) == -signal.SIGKILL
    # Each target is whole at every moment; the set of them is consistent once recovered.
    folder = sorted(p.name for p in (tmp_path / "pipeline").iterdir())
    assert folder in (["extra.txt", "model.txt"], ["model.txt"])
    assert (tmp_path / "pipeline.zip").read_text() in ("old zip", "new zip")
    done = recover(tmp_path, "demo")
    assert len(done) == 1
    expected = "old" if moment == "commit.staged" else "new"  # past the journal, a commit is finished
    assert _state_of(tmp_path) == expected
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert recover(tmp_path, "demo") == []  # nothing left to do


def test_the_folder_never_disappears_with_exchange(tmp_path: Path):
    """Between the renames of a folder swap the target always exists (RENAME_EXCHANGE)."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    assert publish.exchange(a, b)
    assert (b / "x").read_text() == "a" and not (a / "x").exists()


def test_a_live_runs_staging_is_never_touched(tmp_path: Path):
    with Staging(tmp_path, "demo") as staging:
        (staging.path("work.txt")).write_text("in progress")
        assert recover(tmp_path, "demo") == []
        assert (staging.path("work.txt")).read_text() == "in progress"
    assert list(tmp_path.iterdir()) == []


def test_a_live_run_in_another_process_is_never_touched(tmp_path: Path):
    """A stopped (SIGSTOP) process still holds its lock: recover leaves its folder alone."""
    _old_state(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(REPO), **{PAUSE: "commit.staged"})
    child = subprocess.Popen([sys.executable, "-c", COMMIT_SCRIPT, str(tmp_path), "exchange"], env=env)
    try:
        while child.poll() is None and _state(child.pid) != "T":
            time.sleep(0.005)
        staged = [p for p in tmp_path.iterdir() if p.name.startswith(".demo-")]
        assert len(staged) == 1
        assert recover(tmp_path, "demo") == []
        assert staged[0].is_dir()
    finally:
        child.send_signal(signal.SIGCONT)
        assert child.wait(timeout=30) == 0
    assert _state_of(tmp_path) == "new"


def test_other_labels_are_left_alone(tmp_path: Path):
    (tmp_path / ".other-123").mkdir()
    (tmp_path / ".demo.train-1").mkdir()  # "demo.train" is another label than "demo"... but starts alike
    recover(tmp_path, "demo.export")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".demo.train-1", ".other-123"]


NEW_FOLDER_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from steps.common import publish
    parent = Path(sys.argv[1])
    with publish._creation_lock(parent):  # as Staging.open holds it: create, lock, rename
        (parent / ".demo-0123456789ab~new").mkdir()
        if sys.argv[2] == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        print("ready", flush=True)
        sys.stdin.readline()
""")


def test_a_run_killed_between_creating_and_locking_its_staging_leaves_nothing(tmp_path: Path):
    """The window a SIGKILL of the crash matrix once hit: the `~new` folder made, not yet locked and
    renamed. Its run's death frees the creation lock, so the next recover removes the folder at once."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.run([sys.executable, "-c", NEW_FOLDER_SCRIPT, str(tmp_path), "die"], env=env)
    assert child.returncode == -signal.SIGKILL
    assert [p.name for p in tmp_path.iterdir()] == [".demo-0123456789ab~new"]
    recover(tmp_path, "demo")
    assert list(tmp_path.iterdir()) == []


def test_a_run_creating_its_staging_right_now_is_never_touched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A live run between creating and renaming holds the creation lock: recover waits (here 0.2 s), then
    leaves the `~new` folder to its owner."""
    monkeypatch.setattr(publish, "_creation_lock", functools.partial(publish._creation_lock, patience=0.2))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen(
        [sys.executable, "-c", NEW_FOLDER_SCRIPT, str(tmp_path), "live"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        recover(tmp_path, "demo")
        assert [p.name for p in tmp_path.iterdir()] == [".demo-0123456789ab~new"]
    finally:
        child.communicate(b"\n", timeout=30)
    assert child.returncode == 0


UMASK_SCRIPT = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from steps.common import publish
    from steps.common.atomic import write_text
    os.umask(int(sys.argv[2], 8))
    parent = Path(sys.argv[1])
    with publish.Staging(parent, "demo") as staging:
        folder = staging.path("pipeline")
        folder.mkdir()
        write_text(folder / "model.txt", "new")
        staging.commit([(folder, parent / "pipeline")])
""")


@pytest.mark.parametrize(
    "umask,folder_mode,file_mode", [("022", 0o755, 0o644), ("027", 0o750, 0o640), ("002", 0o775, 0o664)]
)
def test_published_modes_follow_the_umask(tmp_path: Path, umask: str, folder_mode: int, file_mode: int):
    subprocess.run(
        [sys.executable, "-c", UMASK_SCRIPT, str(tmp_path), umask],
        check=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert (tmp_path / "pipeline").stat().st_mode & 0o777 == folder_mode
    assert (tmp_path / "pipeline" / "model.txt").stat().st_mode & 0o777 == file_mode
