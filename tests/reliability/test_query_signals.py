"""The query step stopped by a real SIGTERM while its requests are in flight.

The server is a real HTTP server on port 0 that answers discovery at once and trickles every
range answer one byte at a time, so the step is certainly mid-request when the signal comes.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.query.faultserver import FaultServer, Trickle, matrix, names_then

from .helpers import interrupt, step_env

pytestmark = pytest.mark.slow

SERIES = [
    {
        "metric": {"__name__": "kepler_node_package_joules_total", "source": "rapl-sysfs", "package": "0"},
        "values": [[1704067200, "1"], [1704067203, "2"]],
    }
]


def test_sigterm_during_the_requests_leaves_no_output(tmp_path: Path):
    body = matrix(SERIES)[2]
    with FaultServer(names_then(lambda p, q, h: Trickle(body, interval=0.5))) as server:
        args = [
            "query",
            "--benchmark",
            "b",
            "--server",
            server.url,
            "--output",
            "out",
            "--id",
            "m",
            "--start-time",
            "2024-01-01T00:00:00Z",
            "--end-time",
            "2024-01-01T00:10:00Z",
            "--to-csv",
        ]
        outcome, delivered = interrupt(args, step_env(tmp_path, tmp_path), signal.SIGTERM, after=3.0)
    assert delivered
    assert outcome.returncode == 143, outcome.err
    assert outcome.error_lines == [
        f"kepler-model query: error: interrupted by SIGTERM; the outputs in {tmp_path} are unchanged"
    ], outcome.err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "out.json" not in names and "out_csv" not in names and "out_validate_result.csv" not in names
    assert not [name for name in names if name.startswith(".")], names  # no staging, no temporary file
    assert "b.json" in names and "machine_spec" in names  # facts of steps 3-4 stay (query.md §2)
