"""Crash matrix: train and export stopped by real SIGTERM and SIGKILL at many moments.

Each case starts from a pipeline (or model database) in a known OLD state, reruns the step on
new inputs whose clean result is the known NEW state, and stops it: after a delay spread over
the whole run (loading, extraction, fitting, writing) or at a named moment of the commit. Then:

- the published folder is the complete OLD or the complete NEW state, never a mix;
- SIGTERM before the commit's point of no return gives exit 143 and exactly one error line saying
  the old state is unchanged; after it, the step finishes (exit 0); no worker outlives the step;
- after the recovery a later run performs first (a commit stopped past its journal is finished),
  the state is still OLD or NEW, the zip matches its folder and no staging folder or temporary
  file is left;
- a clean rerun gives the NEW state.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import Dict

import pytest

from steps.common.publish import recover

from .helpers import (
    Outcome,
    fingerprint,
    hidden_leftovers,
    interrupt,
    run_step,
    step_env,
    train_args,
    write_inputs,
    zip_matches_folder,
)

pytestmark = pytest.mark.slow

PIPELINE = "crash"
TRAIN_ARGS = train_args(PIPELINE)
FRACTIONS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.97]
TRAIN_CHECKPOINTS = [
    "train.cloned",
    "train.models",
    "train.tables",
    "commit.staged",
    "commit.journal",
    "commit.move-0",
    "commit.move-1",
    "commit.done",
]
EXPORT_CHECKPOINTS = [
    "commit.staged",
    "commit.journal",
    "commit.move-0",
    "commit.move-1",
    "commit.move-2",
    "commit.done",
]
SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Dict[str, object]:
    """OLD: a pipeline trained on data A and exported; NEW: the same after training on data B / a
    second export. Snapshots of the OLD folders are restored before each case."""
    root = tmp_path_factory.mktemp("crash")
    data, models, db = root / "data", root / "models", root / "db"
    data.mkdir()
    write_inputs(data)
    env = step_env(data, models)
    assert run_step(TRAIN_ARGS + ["--input", "a"], env).returncode == 0
    shutil.copytree(models, root / "models-old", symlinks=True)
    new_run = run_step(TRAIN_ARGS + ["--input", "b"], env)
    assert new_run.returncode == 0, new_run.err
    world = {
        "root": root,
        "data": data,
        "models": models,
        "db": db,
        "env": env,
        "train_seconds": new_run.seconds,
        "train_old": fingerprint(root / "models-old" / PIPELINE),
        "train_new": fingerprint(models / PIPELINE),
    }
    assert world["train_old"] != world["train_new"]
    shutil.copytree(models, root / "models-new", symlinks=True)
    export_old = run_step(_export_args(db, "January 2024"), env)
    assert export_old.returncode == 0, export_old.err
    shutil.copytree(db, root / "db-old", symlinks=True)
    export_new = run_step(_export_args(db, "February 2024"), env)
    assert export_new.returncode == 0, export_new.err
    world.update(
        export_seconds=export_new.seconds, export_old=_database_state(root / "db-old"), export_new=_database_state(db)
    )
    assert world["export_old"] != world["export_new"]
    return world


def _export_args(db: Path, collected: str) -> list:
    return [
        "export",
        "--pipeline-name",
        PIPELINE,
        "-o",
        str(db),
        "--publisher",
        "crash-test",
        "--zip=true",
        "--collect-date",
        collected,
    ]


def _restore(snapshot: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(snapshot, target, symlinks=True)


def _database_state(db: Path) -> Dict[str, object]:
    version = db / "v0.7"
    return {
        "pipeline": fingerprint(version / PIPELINE),
        "readme": (version / "README.md").read_text(),
        "page": (version / ".doc" / f"{PIPELINE}.md").read_text(),
    }


def _check_signal_report(outcome: Outcome, signum: int, delivered: bool, committed: bool, what: str) -> None:
    if not delivered:
        assert outcome.returncode == 0, outcome.err
        return
    if signum == signal.SIGKILL:
        assert outcome.returncode == -signal.SIGKILL
        return
    if committed:  # past the commit's point of no return the step finishes: the signal is ignored
        assert outcome.returncode == 0 and not outcome.error_lines, (outcome.returncode, outcome.err)
        return
    assert outcome.returncode == 143, (outcome.returncode, outcome.err)
    assert len(outcome.error_lines) == 1, outcome.err
    said = outcome.error_lines[0]
    assert said.startswith("kepler-model ") and said.endswith(f"error: interrupted by SIGTERM; {what} unchanged"), said


def _train_case(world: Dict[str, object], signum: int, **when: object) -> None:
    root, models = Path(world["root"]), Path(world["models"])
    _restore(root / "models-old", models)
    outcome, delivered = interrupt(TRAIN_ARGS + ["--input", "b"], world["env"], signum, **when)
    state = fingerprint(models / PIPELINE)
    assert state in (world["train_old"], world["train_new"]), "the pipeline folder mixes old and new files"
    _check_signal_report(outcome, signum, delivered, state == world["train_new"], PIPELINE)
    recover(models, f"{PIPELINE}.train")  # what the next train or export does first: a commit past its
    assert fingerprint(models / PIPELINE) in (world["train_old"], world["train_new"])  # journal is finished
    assert zip_matches_folder(models / f"{PIPELINE}.zip", models / PIPELINE)
    assert hidden_leftovers(models) == []
    rerun = run_step(TRAIN_ARGS + ["--input", "b"], world["env"])
    assert rerun.returncode == 0, rerun.err
    assert fingerprint(models / PIPELINE) == world["train_new"]
    assert zip_matches_folder(models / f"{PIPELINE}.zip", models / PIPELINE) and hidden_leftovers(models) == []


@pytest.mark.parametrize("name", SIGNALS)
@pytest.mark.parametrize("fraction", FRACTIONS)
def test_train_stopped_during_the_run(world, name, fraction):
    _train_case(world, SIGNALS[name], after=fraction * float(world["train_seconds"]))


@pytest.mark.parametrize("name", SIGNALS)
@pytest.mark.parametrize("moment", TRAIN_CHECKPOINTS)
def test_train_stopped_during_the_commit(world, name, moment):
    _train_case(world, SIGNALS[name], at=moment)


def _export_case(world: Dict[str, object], signum: int, **when: object) -> None:
    root, db = Path(world["root"]), Path(world["db"])
    _restore(root / "models-new", Path(world["models"]))
    _restore(root / "db-old", db)
    args = _export_args(db, "February 2024")
    outcome, delivered = interrupt(args, world["env"], signum, **when)
    state = _database_state(db)
    for part in state:  # each file and folder is whole; killed between two of its renames, the set
        assert state[part] in (world["export_old"][part], world["export_new"][part]), part  # is fixed below
    target = db / "v0.7" / PIPELINE
    _check_signal_report(outcome, signum, delivered, state == world["export_new"], str(target))
    recover(db / "v0.7", f"{PIPELINE}.export")  # what the next export does first
    assert _database_state(db) in (world["export_old"], world["export_new"])
    assert zip_matches_folder(db / "v0.7" / f"{PIPELINE}.zip", target)
    assert hidden_leftovers(db / "v0.7") == [".doc"]
    rerun = run_step(args, world["env"])
    assert rerun.returncode == 0, rerun.err
    assert _database_state(db) == world["export_new"]


@pytest.mark.parametrize("name", SIGNALS)
@pytest.mark.parametrize("fraction", FRACTIONS[::2])
def test_export_stopped_during_the_run(world, name, fraction):
    _export_case(world, SIGNALS[name], after=fraction * float(world["export_seconds"]))


@pytest.mark.parametrize("name", SIGNALS)
@pytest.mark.parametrize("moment", EXPORT_CHECKPOINTS)
def test_export_stopped_during_the_commit(world, name, moment):
    _export_case(world, SIGNALS[name], at=moment)
