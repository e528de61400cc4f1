"""A real full disk: a small tmpfs as MODEL_PATH and as the model database, filled during a rerun.

Each case trains (or exports) once into the tmpfs (OLD), fills the tmpfs so that only a given
amount stays free, and reruns the step on new inputs. The free amounts are spread from nothing
to almost the size of the new output, so the disk runs out in the workers, in the commit's
tables, or in the zip. Every time: exit 1, one error line naming the published path that could
not be written (not a staging path, not a source file), the OLD state intact, nothing left
behind; once the space is freed, the same command succeeds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from .helpers import fingerprint, hidden_leftovers, run_step, step_env, train_args, write_inputs, zip_matches_folder

pytestmark = pytest.mark.slow

PIPELINE = "full"
TRAIN_ARGS = train_args(PIPELINE)
FREE_FRACTIONS = [0.0, 0.05, 0.3, 0.6, 0.9]  # of the size the rerun writes
TMPFS_SIZE = "64m"


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mounts a tmpfs of TMPFS_SIZE at a new folder (the tests run as root; CI does)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; CI runs the tests as root")
    mounted: List[Path] = []

    def mount(name: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(point)], check=True)
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def _fill(folder: Path, leave: int) -> Path:
    """A file taking all free space of `folder`'s filesystem but `leave` bytes."""
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    filler = folder / "filler"
    with open(filler, "wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, max(free - leave, 1))
    return filler


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("full-data")
    write_inputs(data)
    return data


def _assert_one_write_error(err: str, public_root: Path, unchanged: str) -> None:
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1, err
    line = lines[0]
    assert "cannot write " + str(public_root) in line and "No space left on device" in line, line
    assert ".train-" not in line and ".export-" not in line, f"names a staging path: {line}"
    assert line.endswith(unchanged), line


@pytest.mark.parametrize("fraction", FREE_FRACTIONS)
def test_train_rerun_on_a_full_disk_keeps_the_old_pipeline(tmpfs, inputs, fraction):
    models = tmpfs("models")
    env = step_env(inputs, models)
    first = run_step(TRAIN_ARGS + ["--input", "a"], env)
    assert first.returncode == 0, first.err
    old = fingerprint(models / PIPELINE)
    needed = _size(models)  # what a rerun of the same size writes: models, tables, zip
    filler = _fill(models, int(fraction * needed))
    failed = run_step(TRAIN_ARGS + ["--input", "b"], env)
    assert failed.returncode == 1, (failed.returncode, failed.err)
    _assert_one_write_error(failed.err, models, f"{PIPELINE} unchanged")
    assert fingerprint(models / PIPELINE) == old
    assert zip_matches_folder(models / f"{PIPELINE}.zip", models / PIPELINE)
    assert hidden_leftovers(models) == []
    filler.unlink()
    again = run_step(TRAIN_ARGS + ["--input", "b"], env)
    assert again.returncode == 0, again.err
    assert fingerprint(models / PIPELINE) != old
    assert zip_matches_folder(models / f"{PIPELINE}.zip", models / PIPELINE)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, inputs) -> Path:
    models = tmp_path_factory.mktemp("full-models")
    done = run_step(TRAIN_ARGS + ["--input", "a"], step_env(inputs, models))
    assert done.returncode == 0, done.err
    return models


def _export_args(db: Path, collected: str) -> List[str]:
    return [
        "export",
        "--pipeline-name",
        PIPELINE,
        "-o",
        str(db),
        "--publisher",
        "disk-test",
        "--zip=true",
        "--collect-date",
        collected,
    ]


def _database(db: Path) -> dict:
    version = db / "v0.7"
    return {
        "pipeline": fingerprint(version / PIPELINE),
        "readme": (version / "README.md").read_bytes(),
        "page": (version / ".doc" / f"{PIPELINE}.md").read_bytes(),
        "zip": (version / f"{PIPELINE}.zip").stat(),
    }


@pytest.mark.parametrize("fraction", FREE_FRACTIONS)
def test_export_on_a_full_disk_keeps_the_old_export(tmpfs, inputs, trained, fraction):
    db = tmpfs("db")
    env = step_env(inputs, trained)
    first = run_step(_export_args(db, "January 2024"), env)
    assert first.returncode == 0, first.err
    old = _database(db)
    filler = _fill(db, int(fraction * _size(db)))
    failed = run_step(_export_args(db, "February 2024"), env)
    assert failed.returncode == 1, (failed.returncode, failed.err)
    _assert_one_write_error(failed.err, db / "v0.7", "nothing was changed")
    assert str(trained) not in failed.err, "the error names the source, not the file it could not write"
    assert _database(db) == old
    assert hidden_leftovers(db / "v0.7") == [".doc"]
    filler.unlink()
    again = run_step(_export_args(db, "February 2024"), env)
    assert again.returncode == 0, again.err
    assert _database(db)["readme"] != old["readme"]


def test_a_first_export_to_a_full_disk_leaves_nothing(tmpfs, inputs, trained):
    db = tmpfs("db")
    filler = _fill(db, 4096)
    failed = run_step(_export_args(db, "January 2024"), step_env(inputs, trained))
    assert failed.returncode == 1 and "No space left on device" in failed.err, failed.err
    assert sorted(p.name for p in db.iterdir()) == [filler.name]
    shutil.rmtree(db / "v0.7", ignore_errors=True)
