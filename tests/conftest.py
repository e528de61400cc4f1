"""Fixtures shared by every test area.

- `repo_root`, `data_dir`, `idle_json`: where things are (test data lives in tests/data, in the checkout).
- `synth_small`: a small synthetic Kepler 0.7 data set with known truth (steps.synth).
- `prometheus_factory`: a callable turning a SynthData, a Kepler010Data (host and guests; serve one
  part with `data.part("host").write_openmetrics(path)` and the path) or an OpenMetrics file into a running,
  backfilled Prometheus; servers are cached per data set and stopped at session end.
- `prometheus`: a server loaded with `synth_small`; `.url`, and `.window` = (start, end) of the data.
Missing prometheus/promtool binaries make these fixtures FAIL (CI installs them), never skip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Union

import pytest

from steps.synth import Kepler010Data, PrometheusServer, PrometheusUnavailable, SynthConfig, SynthData, generate

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(__file__).resolve().parent / "data"
SMALL_CONFIG = SynthConfig(containers=6, duration_s=1800, step_s=15, seed=0, power="linear")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """tests/data: stored test data, inside the checkout so a clone tests itself (see its README)."""
    return DATA_DIR


@pytest.fixture(scope="session")
def idle_json(data_dir: Path) -> Path:
    """Real Kepler 0.7 query JSON (kepler-model-server's tests/data/prom_output/idle.json)."""
    return data_dir / "idle.json"


@pytest.fixture(scope="session")
def synth_small() -> SynthData:
    """6 benchmark containers + 2 background, 30 min at 15 s, linear power, no noise (seed 0)."""
    return generate(SMALL_CONFIG)


@pytest.fixture(scope="session")
def prometheus_factory(tmp_path_factory) -> Callable[[Union[SynthData, Kepler010Data, Path, str]], PrometheusServer]:
    """Callable: SynthData, Kepler010Data or OpenMetrics path -> running PrometheusServer (cached per data set)."""
    servers: Dict[object, PrometheusServer] = {}

    def make(data: Union[SynthData, Kepler010Data, Path, str]) -> PrometheusServer:
        generated = isinstance(data, (SynthData, Kepler010Data))
        key = (data.config, data.model) if generated else str(Path(data).resolve())
        if key in servers:
            return servers[key]
        workdir = tmp_path_factory.mktemp("prometheus")
        try:
            if generated:
                server = PrometheusServer.from_synth(data, workdir).start()
            else:
                server = PrometheusServer.from_openmetrics(data, workdir).start()
        except PrometheusUnavailable as missing:
            pytest.fail(str(missing), pytrace=False)
        servers[key] = server
        return server

    yield make
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def prometheus(prometheus_factory, synth_small: SynthData) -> PrometheusServer:
    """A real Prometheus holding `synth_small`; `.url` and `.window` (first, last sample; aware UTC)."""
    return prometheus_factory(synth_small)
