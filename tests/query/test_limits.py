"""The query command's limits end to end: secrets never printed, a bounded time per request, a bounded grid.

Real local HTTP servers on port 0 (faultserver.py), the real dispatcher (`steps.cli.main`), and
once a real process; every failure must be one line with its documented exit status.
"""

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from steps.cli import main
from steps.common.config import Environment
from steps.common.console import Console
from steps.common.errors import StepError
from steps.common.flags import add_legacy_flags
from steps.query.cli import build_parser, run
from steps.query.run import QueryDeps

from .faultserver import FaultServer, Trickle, matrix, names_then

REPO = Path(__file__).resolve().parents[2]
WINDOW = ["--start-time", "2024-01-01T00:00:00Z", "--end-time", "2024-01-01T00:10:00Z"]
SERIES = [
    {
        "metric": {"__name__": "kepler_node_package_joules_total", "source": "rapl-sysfs", "package": "0"},
        "values": [[1704067200, "1"], [1704067203, "2"]],
    }
]
SECRET = "eyJhbGciOiJSUzI1NiJ9.s3cr3t-t0ken"


def cli(argv, environ):
    """Through the real dispatcher, as the console command runs (real waits between retries)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["query"] + argv, environ=environ, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def invoke(argv, environ=None, sleeps=None):
    """Like the dispatcher, with the waits between retries recorded instead of slept."""
    out, err = io.StringIO(), io.StringIO()
    console = Console("query", out=out, err=err)
    parser = build_parser()
    add_legacy_flags(parser)
    try:
        code = run(
            parser.parse_args(argv),
            Environment(environ or {}),
            console,
            QueryDeps(sleep=(sleeps if sleeps is not None else []).append),
        )
    except StepError as failure:
        console.error(str(failure))
        code = failure.exit_code
    return code, out.getvalue(), err.getvalue()


def error_line(err):
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1 and lines[0].startswith("kepler-model query: error: "), err
    return lines[0]


def base(server_url, workspace):
    return ["--benchmark", "b", "--server", server_url, "--data-path", str(workspace), "--id", "m"] + WINDOW


def no_secret_anywhere(workspace, *texts):
    for text in texts:
        assert SECRET not in text
    for path in workspace.rglob("*") if workspace.exists() else []:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


# --- 4. the bearer token never reaches any output -----------------------------------------------


@pytest.mark.parametrize("debug", ["false", "true"])
@pytest.mark.parametrize(
    "where, token, code, names",
    [
        ("file", f"first-line\n{SECRET}", 1, "token file"),
        ("file", f"{SECRET}\x1b]0;title\x07", 1, "token file"),
        ("env", f"{SECRET}\nsecond-line", 2, "PROM_TOKEN"),
        ("env", f"{SECRET}\u00e9\u20ac", 2, "PROM_TOKEN"),
    ],
)
def test_a_bad_token_is_refused_before_any_request_and_never_printed(tmp_path, debug, where, token, code, names):
    """All output of the failing run, the debug traceback included, is grepped for the token."""
    with FaultServer(names_then(lambda p, q, h: matrix(SERIES))) as server:
        workspace = tmp_path / "ws"
        environ = {"KEPLER_MODEL_DEBUG": debug}
        argv = base(server.url, workspace)
        if where == "file":
            token_file = tmp_path / "token"
            token_file.write_text(token + "\n", encoding="utf-8")
            argv += ["--token-file", str(token_file)]
        else:
            environ["PROM_TOKEN"] = token
        status, out, err = cli(argv, environ)
        assert status == code and names in error_line(err)
        if where == "file":
            assert str(token_file) in error_line(err)
        assert ("Traceback" in err) == (debug == "true")
        assert server.requests == [] and not workspace.exists()  # before any request and any write
    no_secret_anywhere(workspace, out, err)


@pytest.mark.parametrize("debug", ["false", "true"])
@pytest.mark.parametrize(
    "answer",
    [
        lambda p, q, h: (401, {}, b"unauthorized"),
        # a proxy that quotes the request's headers in its error body
        lambda p, q, h: (
            400,
            {},
            json.dumps(
                {"status": "error", "errorType": "bad_data", "error": f"bad header {h.get('authorization')}"}
            ).encode(),
        ),
        lambda p, q, h: (200, {}, f"<html>{h.get('authorization')}</html>".encode()),
        lambda p, q, h: (
            200,
            {},
            json.dumps({"status": "success", "data": ["kepler_x"], "warnings": [h.get("authorization")]}).encode(),
        ),
    ],
    ids=["401", "echo-400", "echo-not-json", "echo-warning"],
)
def test_a_valid_token_never_reaches_the_output_of_a_failing_run(tmp_path, debug, answer):
    token_file = tmp_path / "token"
    token_file.write_text(SECRET + "\n")
    with FaultServer(answer) as server:
        workspace = tmp_path / "ws"
        code, out, err = cli(
            base(server.url, workspace) + ["--token-file", str(token_file)], {"KEPLER_MODEL_DEBUG": debug}
        )
        assert code == 1 and error_line(err)
        assert {h["authorization"] for _, _, h in server.requests} == {f"Bearer {SECRET}"}
    no_secret_anywhere(workspace, out, err)


def test_a_bad_token_in_a_real_process_with_tracebacks_on(tmp_path):
    """`python -m steps query` as a subprocess, debug on: one error line plus a traceback, no token."""
    token_file = tmp_path / "token"
    token_file.write_text(f"abc\n{SECRET}\n")
    done = subprocess.run(
        [sys.executable, "-m", "steps", "query"]
        + base("http://127.0.0.1:9", tmp_path / "ws")
        + ["--token-file", str(token_file)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={"KEPLER_MODEL_DEBUG": "true", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1 and "Traceback" in done.stderr and "line break" in done.stderr
    no_secret_anywhere(tmp_path / "ws", done.stdout, done.stderr)


def test_a_ca_file_that_is_not_pem_is_refused_naming_it(tmp_path):
    bundle = tmp_path / "bundle.crt"
    bundle.write_bytes(b"\x30\x82\x03\x5d binary DER, not PEM")
    code, _, err = invoke(base("http://127.0.0.1:9", tmp_path / "ws") + ["--ca-file", str(bundle)])
    line = error_line(err)
    assert code == 1 and str(bundle) in line and "PEM" in line and not (tmp_path / "ws").exists()


# --- 5. --timeout bounds each request from send to last byte ------------------------------------


def test_a_trickling_server_cannot_hold_the_step_past_its_timeouts(tmp_path):
    """One byte every 0.5 s never trips a socket timeout; with --timeout 2 each of the 4 attempts ends
    at 2 s, so the step fails within (timeout + waits) * attempts (waits recorded, not slept)."""
    body = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": SERIES}}).encode()
    with FaultServer(names_then(lambda p, q, h: Trickle(body, 0.5))) as server:
        sleeps = []
        started = time.monotonic()
        code, _, err = invoke(base(server.url, tmp_path) + ["--timeout", "2", "--concurrency", "1"], sleeps=sleeps)
        elapsed = time.monotonic() - started
    line = error_line(err)
    assert code == 1 and "after 4 attempts: no complete answer within the --timeout of 2 s" in line
    assert sleeps == [1.0, 2.0, 4.0]
    assert 4 * 2 <= elapsed < 4 * 2 + 1.5
    assert not (tmp_path / "output.json").exists()


def test_timeout_must_be_finite(tmp_path):
    for value in ("inf", "1e400", "100000"):
        code, _, err = cli(base("http://127.0.0.1:9", tmp_path / "ws") + ["--timeout", value], {})
        assert code == 2 and "--timeout must be at most 86400" in error_line(err)


# --- 5. a step too small for the window is refused up front --------------------------------------


def test_an_absurd_step_is_refused_before_anything_is_written_or_requested(tmp_path):
    with FaultServer(names_then(lambda p, q, h: matrix(SERIES))) as server:
        workspace = tmp_path / "ws"
        started = time.monotonic()
        code, _, err = cli(
            [
                "--benchmark",
                "b",
                "--server",
                server.url,
                "--data-path",
                str(workspace),
                "--interval",
                "3600",
                "--step",
                "0.0000001",
            ],
            {},
        )
        line = error_line(err)
        assert code == 2 and time.monotonic() - started < 2
        assert "36,000,000,001 points per series" in line
        assert "smallest step allowed for this window is 0.003601 s" in line
        assert "--max-points" in line
        assert server.requests == [] and not workspace.exists()


def test_max_points_raises_the_bound_from_the_flag_or_the_environment(tmp_path):
    """A 10 min window at 0.5 s needs 1,201 points: refused under --max-points 1000, accepted above."""
    with FaultServer(names_then(lambda p, q, h: matrix(SERIES))) as server:
        code, _, err = invoke(base(server.url, tmp_path / "a") + ["--step", "0.5", "--max-points", "1000"])
        line = error_line(err)
        assert code == 2 and "1,201 points" in line and "0.6007 s" in line and server.requests == []
        code, _, err = invoke(base(server.url, tmp_path / "b") + ["--step", "0.5"], {"PROM_QUERY_MAX_POINTS": "1201"})
        assert code == 0, err
        code, _, err = invoke(base(server.url, tmp_path / "c") + ["--step", "0.6007", "--max-points", "1000"])
        assert code == 0, err


def test_the_window_of_an_input_file_is_checked_too(tmp_path):
    (tmp_path / "old.json").write_text(
        json.dumps({"startTimeUTC": "2024-01-01T00:00:00Z", "endTimeUTC": "2024-01-02T00:00:00Z"})
    )
    code, _, err = invoke(
        ["--input", "old", "--data-path", str(tmp_path), "--server", "http://127.0.0.1:9", "--step", "1ms"]
    )
    assert code == 2 and "86,400,001 points" in error_line(err) and "0.08641 s" in error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.json"]


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "many"])
def test_max_points_must_be_a_positive_integer(tmp_path, value):
    code, _, err = cli(base("http://127.0.0.1:9", tmp_path / "ws") + ["--max-points", value], {})
    assert code == 2 and "--max-points" in error_line(err) and not (tmp_path / "ws").exists()


def test_help_shows_max_points_and_its_variable(capsys):
    assert cli(["--help"], {})[0] == 0
    out = capsys.readouterr().out
    assert "--max-points" in out and "PROM_QUERY_MAX_POINTS" in out


# --- 6. Prometheus warnings are printed on one line, without control characters ------------------


def test_prometheus_warnings_cannot_break_or_colour_the_log(tmp_path):
    def route(path, params, headers):
        names = ["kepler_node_package_joules_total"]
        if path.endswith("/label/__name__/values"):
            return (
                200,
                {},
                json.dumps(
                    {
                        "status": "success",
                        "data": names,
                        "warnings": ["partial\nkepler-model query: error: fake\x1b[2J"],
                    }
                ).encode(),
            )
        return matrix(SERIES)

    with FaultServer(route) as server:
        code, _, err = invoke(base(server.url, tmp_path))
    assert code == 0, err
    (warning,) = [line for line in err.splitlines() if "Prometheus warning" in line]
    assert warning.endswith(
        "Prometheus warning for the list of metric names: partial kepler-model query: error: fake [2J"
    )
    assert "\x1b" not in err and ": error: " not in err.replace(warning, "")
