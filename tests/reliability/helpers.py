"""Running steps as real processes, stopping them with real signals, and reading what they left.

A step runs as `python -m steps ...` (as in a pod). It is stopped either after a delay or at a
named moment of its commit: with KEPLER_MODEL_TEST_PAUSE_AT (steps/common/signals.checkpoint)
the process stops itself (SIGSTOP) there, the test sends SIGTERM or SIGKILL, then SIGCONT.
Every process a test starts carries a marker in its environment, so workers left behind by a
killed step can be found in /proc.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[2]
MARK = "KEPLER_MODEL_CRASH_TEST_MARK"
PAUSE = "KEPLER_MODEL_TEST_PAUSE_AT"
# Quick trainers with workers (--jobs 2), a curve fit among them: a run of a few seconds.
TRAINERS = "LinearRegressionTrainer,SGDRegressorTrainer,PolynomialRegressionTrainer,ExponentialRegressionTrainer"


def train_args(pipeline: str) -> List[str]:
    """`kepler-model train` of the reliability tests, without --input."""
    return [
        "train",
        "--pipeline-name",
        pipeline,
        "--id",
        "m1",
        "--jobs",
        "2",
        "--abs-trainers",
        TRAINERS,
        "--dyn-trainers",
        TRAINERS,
    ]


def write_inputs(data: Path) -> None:
    """Two collections of one machine, `a` and `b`: 4 containers, 30 min at 15 s, seeds 1 and 2."""
    from steps.synth import SynthConfig, generate

    for name, seed in (("a", 1), ("b", 2)):
        config = SynthConfig(
            containers=4, duration_s=1800, step_s=15, seed=seed, power="linear", noise_w=0.5, sources=("rapl-sysfs",)
        )
        generate(config).write_query_response(data / f"{name}.json")


# Fields that differ between two runs over the same inputs (times of writing).
VOLATILE_KEYS = ("init_time", "last_update_time", "export_time")


@dataclass
class Outcome:
    returncode: int
    out: str
    err: str
    seconds: float

    @property
    def error_lines(self) -> List[str]:
        return [line for line in self.err.splitlines() if ": error: " in line]


def step_env(data: Path, models: Path, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (PAUSE, "KEPLER_MODEL_DEBUG")}
    env.update(DATAPATH=str(data), MODEL_PATH=str(models), CONFIG_PATH=str(data / "no-config"), PYTHONPATH=str(REPO))
    env["PYTHONFAULTHANDLER"] = "1"  # a crash of a stopped step shows where it happened
    env.update(extra or {})
    return env


def run_step(args: Sequence[str], env: Dict[str, str], timeout: float = 300) -> Outcome:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "steps", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    return Outcome(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def _state(pid: int) -> Optional[str]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()[0]


def interrupt(
    args: Sequence[str],
    env: Dict[str, str],
    signum: int,
    *,
    after: Optional[float] = None,
    at: Optional[str] = None,
    timeout: float = 120,
) -> Tuple[Outcome, bool]:
    """Run a step and send `signum` after `after` seconds or at checkpoint `at`.

    Returns the outcome and whether the signal was delivered while the step ran (a step may end
    before a late moment comes, or never pass a checkpoint).
    """
    env = dict(env)
    env[MARK] = uuid.uuid4().hex
    if at is not None:
        env[PAUSE] = at
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "steps", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    delivered = False
    try:
        if at is not None:
            while process.poll() is None and _state(process.pid) != "T":
                time.sleep(0.005)
        else:
            try:
                process.wait(timeout=after)
            except subprocess.TimeoutExpired:
                pass
        if process.poll() is None:
            process.send_signal(signum)
            if at is not None:
                process.send_signal(signal.SIGCONT)
            delivered = True
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    wait_for_no_survivors(env[MARK])
    return Outcome(process.returncode, out, err, time.monotonic() - started), delivered


def survivors(mark: str) -> List[int]:
    """Processes (workers, fork server) still running with this test marker in their environment."""
    found = []
    needle = f"{MARK}={mark}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0") and _state(int(entry.name)) not in ("Z", None):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_for_no_survivors(mark: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while survivors(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = survivors(mark)
    assert not left, f"processes of the stopped step still run: {left}"


# ------------------------------------------------------------------------------ reading the files


def _zip_members(data: bytes) -> Tuple[Tuple[str, int], ...]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return tuple(sorted((info.filename, info.CRC) for info in archive.infolist()))


def _masked_json(data: bytes) -> object:
    document = json.loads(data)
    if isinstance(document, dict):
        return {k: v for k, v in document.items() if k not in VOLATILE_KEYS}
    return document


def fingerprint(folder: Path) -> Dict[str, object]:
    """Every file of a folder by content, times of writing masked; zips by member contents."""
    found: Dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_dir():
            continue
        relative = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        if path.suffix == ".zip":
            found[relative] = _zip_members(data)
        elif path.name == "metadata.json":
            found[relative] = _masked_json(data)
        else:
            found[relative] = hashlib.sha256(data).hexdigest()
    return found


def zip_matches_folder(archive: Path, folder: Path) -> bool:
    """A pipeline zip holds exactly the files of its folder, byte for byte."""
    files = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    with zipfile.ZipFile(archive) as opened:
        names = set(opened.namelist())
        if names != set(files):
            return False
        return all(opened.read(name) == files[name].read_bytes() for name in names)


def hidden_leftovers(folder: Path) -> List[str]:
    """Staging folders and temporary files a step left in `folder` (names starting with '.')."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
