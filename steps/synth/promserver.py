"""A real, throw-away Prometheus loaded from an OpenMetrics file (tests, demo, benchmark).

The data is backfilled with promtool into a fresh TSDB folder, then a Prometheus without scrape
jobs serves it on a free loopback port. Backfilled series carry no staleness markers: each one
keeps answering its last value for 5 minutes (the lookback delta) after its last sample.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence, Tuple, Union

import requests

if TYPE_CHECKING:  # pragma: no cover
    from .generator import SynthData

PathLike = Union[str, "os.PathLike[str]"]
INSTALL_HINT = "install them with scripts/ensure_prometheus.sh (Debian package 'prometheus')"
_EMPTY_CONFIG = "global:\n  scrape_interval: 1h\nscrape_configs: []\n"


class PrometheusUnavailable(RuntimeError):
    """The prometheus or promtool binary is missing."""


class PrometheusError(RuntimeError):
    """Backfill or start-up failed; the message carries the tool's output."""


def find_binary(name: str) -> Path:
    """`name` on PATH, else /usr/bin/<name>; PrometheusUnavailable when neither exists."""
    found = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)
    if not found:
        raise PrometheusUnavailable(f"'{name}' was not found on PATH or in /usr/bin; {INSTALL_HINT}")
    return Path(found)


def backfill(
    openmetrics: PathLike, data_dir: PathLike, promtool: Optional[PathLike] = None, timeout: float = 1800.0
) -> Path:
    """Turn an OpenMetrics file into TSDB blocks in `data_dir` (one block, however long the data)."""
    tool = str(promtool or find_binary("promtool"))
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        tool,
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        "-q",
        "--max-block-duration=24000h",
        str(openmetrics),
        str(data_dir),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise PrometheusError(
            f"promtool backfill of {openmetrics} failed ({done.returncode}): "
            f"{(done.stderr or done.stdout).strip()[-2000:]}"
        )
    return data_dir


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrometheusServer:
    """A Prometheus serving a TSDB folder on 127.0.0.1:<free port>; a context manager.

    `PrometheusServer.from_openmetrics(file, workdir)` backfills first; `PrometheusServer(data_dir)`
    serves an existing TSDB folder. Each server must own its data folder. `.url` is the base URL.
    """

    def __init__(
        self,
        data_dir: PathLike,
        workdir: Optional[PathLike] = None,
        *,
        prometheus: Optional[PathLike] = None,
        startup_timeout: float = 60.0,
        extra_flags: Sequence[str] = (),
    ) -> None:
        self.data_dir = Path(data_dir)
        self.workdir = Path(workdir) if workdir else self.data_dir.parent
        self.binary = Path(prometheus) if prometheus else find_binary("prometheus")
        self.startup_timeout = startup_timeout
        self.extra_flags = tuple(extra_flags)
        self.port: Optional[int] = None
        self.process: Optional[subprocess.Popen] = None
        self.log_path = self.workdir / f"prometheus-{self.data_dir.name}.log"
        self.window: Optional[Tuple[datetime, datetime]] = None  # set by from_synth: (first, last sample)
        self._owned: Optional[Path] = None  # temp folder to remove on stop()

    @classmethod
    def from_openmetrics(
        cls, openmetrics: PathLike, workdir: Optional[PathLike] = None, **kwargs
    ) -> "PrometheusServer":
        """Backfill `openmetrics` into a new folder under `workdir` (a temp folder by default); not started."""
        owned = None if workdir else Path(tempfile.mkdtemp(prefix="synth-prom-"))
        workdir = Path(workdir) if workdir else owned
        workdir.mkdir(parents=True, exist_ok=True)
        data_dir = Path(tempfile.mkdtemp(prefix="tsdb-", dir=workdir))
        try:
            backfill(openmetrics, data_dir, kwargs.pop("promtool", None))
            server = cls(data_dir, workdir, **kwargs)
        except BaseException:
            shutil.rmtree(owned or data_dir, ignore_errors=True)
            raise
        server._owned = owned
        return server

    @classmethod
    def from_synth(cls, data: "SynthData", workdir: Optional[PathLike] = None, **kwargs) -> "PrometheusServer":
        """Write `data` as OpenMetrics, backfill it and return the (not started) server with `.window` set.

        Without `workdir` everything lives in a temp folder removed by stop().
        """
        owned = None if workdir else Path(tempfile.mkdtemp(prefix="synth-prom-"))
        workdir = Path(workdir) if workdir else owned
        try:
            openmetrics = data.write_openmetrics(Path(workdir) / "synth.om")
            server = cls.from_openmetrics(openmetrics, workdir, **kwargs)
            openmetrics.unlink()
        except BaseException:
            if owned:
                shutil.rmtree(owned, ignore_errors=True)
            raise
        server._owned = owned
        server.window = data.window
        return server

    @property
    def url(self) -> str:
        if self.port is None:
            raise PrometheusError("the server is not running")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process else None

    def start(self, attempts: int = 5) -> "PrometheusServer":
        """Start and wait for /-/ready; a port taken in between is retried with a new port."""
        if self.process is not None:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / f"prometheus-{self.data_dir.name}.yml"
        config.write_text(_EMPTY_CONFIG)
        last_log = ""
        for _ in range(attempts):
            port = free_port()
            cmd = [
                str(self.binary),
                f"--config.file={config}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=100y",
                "--log.level=warn",
                *self.extra_flags,
            ]
            with open(self.log_path, "wb") as log:
                process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if self._wait_ready(process, port):
                self.process, self.port = process, port
                return self
            self._end(process)
            last_log = self.log_path.read_text(errors="replace")
            if "address already in use" not in last_log:
                break
        raise PrometheusError(f"prometheus did not become ready (log {self.log_path}): {last_log.strip()[-2000:]}")

    def _wait_ready(self, process: subprocess.Popen, port: int) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                if requests.get(f"http://127.0.0.1:{port}/-/ready", timeout=2).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
        return False

    @staticmethod
    def _end(process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def stop(self) -> None:
        """Terminate (then kill) the server by its PID; safe to call twice."""
        process, self.process, self.port = self.process, None, None
        if process is not None:
            self._end(process)
        owned, self._owned = self._owned, None
        if owned is not None:
            shutil.rmtree(owned, ignore_errors=True)

    def __enter__(self) -> "PrometheusServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __del__(self) -> None:  # last resort: never leave a server behind
        try:
            self.stop()
        except Exception:
            pass
