"""The query command end to end against real local HTTP servers with canned faults (query.md §1, §9).

The healthy path runs against the real Prometheus in test_integration.py; these servers produce
the failures a healthy Prometheus cannot. Every failure must be one line, the documented exit
status, and no <output>.json.
"""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from steps.cli import main
from steps.common.config import Environment
from steps.common.console import Console
from steps.common.errors import StepError
from steps.common.flags import add_legacy_flags
from steps.query.cli import build_parser, run
from steps.query.run import QueryDeps

from .faultserver import FaultServer, matrix, names_then, success

REPO = Path(__file__).resolve().parents[2]
WINDOW = ["--start-time", "2024-01-01T00:00:00Z", "--end-time", "2024-01-01T00:10:00Z"]
SERIES = [
    {
        "metric": {"__name__": "kepler_node_package_joules_total", "source": "rapl-sysfs", "package": "0"},
        "values": [[1704067200, "1"], [1704067203, "2"]],
    }
]


def cli(argv, environ=None):
    out, err = io.StringIO(), io.StringIO()
    code = main(["query"] + argv, environ=environ or {}, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def invoke(argv, environ=None, deps=None):
    """Like the dispatcher, with the outside world injected (no real waits between retries)."""
    out, err = io.StringIO(), io.StringIO()
    console = Console("query", out=out, err=err)
    parser = build_parser()
    add_legacy_flags(parser)
    try:
        code = run(
            parser.parse_args(argv), Environment(environ or {}), console, deps or QueryDeps(sleep=lambda seconds: None)
        )
    except StepError as failure:
        console.error(str(failure))
        code = failure.exit_code
    return code, out.getvalue(), err.getvalue()


def one_error_line(err):
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and lines[0].startswith("kepler-model query: error: ") and "Traceback" not in err
    return lines[0]


def test_help_lists_every_flag_with_env_fallbacks(capsys):
    code, _, _ = cli(["--help"])
    out = capsys.readouterr().out
    assert code == 0
    for flag in (
        "--data-path",
        "--output",
        "--input",
        "--benchmark",
        "--start-time",
        "--end-time",
        "--interval",
        "--step",
        "--server",
        "--metric-prefix",
        "--thirdparty-metrics",
        "--to-csv",
        "--id",
        "--vm-train",
        "--machine-spec",
        "--selector",
        "--insecure",
        "--token-file",
        "--ca-file",
        "--timeout",
        "--concurrency",
        "--metric-generation",
    ):
        assert flag in out, flag
    for variable in (
        "DATAPATH",
        "PROM_QUERY_INTERVAL",
        "PROM_QUERY_STEP",
        "PROM_URL",
        "PROM_SERVER",
        "PROM_THIRDPARTY_METRICS",
        "COLLECT_ID",
        "PROM_SSL_DISABLE",
        "PROM_TOKEN_FILE",
        "PROM_TOKEN",
        "PROM_CA_FILE",
        "PROM_QUERY_TIMEOUT",
        "PROM_QUERY_CONCURRENCY",
        "KEPLER_METRIC_GENERATION",
    ):
        assert variable in out, variable


@pytest.mark.parametrize(
    "argv, names",
    [
        ([], "--input"),
        (["--benchmark", "b", "--start-time", "2024-01-01T00:00:00Z"], "--start-time"),
        (
            ["--benchmark", "b", "--start-time", "2024-01-01 00:00:00", "--end-time", "2024-01-01T00:10:00Z"],
            "--start-time",
        ),
        (
            ["--benchmark", "b", "--start-time", "2024-01-01T00:10:00Z", "--end-time", "2024-01-01T00:00:00Z"],
            "--end-time",
        ),
        (["--benchmark", "b", "--interval", "0"], "--interval"),
        (["--benchmark", "b", "--interval", "1.5"], "--interval"),
        (["--benchmark", "b", "--step", "-3"], "--step"),
        (["--benchmark", "b", "--step", "3x"], "--step"),
        (["--benchmark", "b", "--timeout", "nan"], "--timeout"),
        (["--benchmark", "b", "--concurrency", "0"], "--concurrency"),
        (["--benchmark", "b", "--to-csv=maybe"], "--to-csv"),
        (["--benchmark", "b", "--metric-generation", "0.8"], "--metric-generation"),
        (["--benchmark", "kepler_query", "-o", "kepler_query"], "must differ"),
        (["--benchmark", "b", "--bogus"], "--bogus"),
    ],
)
def test_usage_errors_exit_2_before_writing(tmp_path, argv, names):
    workspace = tmp_path / "ws"
    code, _, err = cli(argv + ["--data-path", str(workspace), "--server", "http://127.0.0.1:9"])
    assert code == 2
    assert names in one_error_line(err)
    assert not workspace.exists()


def test_env_fallbacks_are_used(tmp_path):
    """PROM_URL wins over PROM_SERVER; PROM_QUERY_STEP, COLLECT_ID and DATAPATH come from the environment."""
    with FaultServer(names_then(lambda p, q, h: matrix(SERIES))) as server:
        environ = {
            "PROM_URL": server.url,
            "PROM_SERVER": "http://127.0.0.1:9",
            "PROM_QUERY_STEP": "1m",
            "COLLECT_ID": "node-7",
            "DATAPATH": str(tmp_path),
            "PROM_QUERY_CONCURRENCY": "1",
        }
        code, out, err = invoke(["--benchmark", "b"] + WINDOW, environ)
        assert code == 0, err
        ranges = server.paths("/query_range")
        assert {p["step"][0] for p in ranges} == {"60"}
        assert (tmp_path / "machine_spec" / "node-7.json").exists()
        assert json.loads((tmp_path / "output.json").read_text())["kepler_node_package_joules_total"] == SERIES


def test_missing_id_warns_and_uses_unknown(tmp_path):
    with FaultServer(names_then(lambda p, q, h: matrix(SERIES))) as server:
        code, _, err = invoke(["--benchmark", "b", "--server", server.url, "--data-path", str(tmp_path)] + WINDOW)
    assert code == 0 and "warning: --id" in err
    assert (tmp_path / "machine_spec" / "unknown.json").exists()


def test_missing_input_file(tmp_path):
    code, _, err = invoke(["--input", "nothere", "--data-path", str(tmp_path), "--server", "http://127.0.0.1:9"])
    assert code == 1 and "nothere.json" in one_error_line(err)


def assert_failed_cleanly(tmp_path, code, err, *fragments):
    assert code == 1
    line = one_error_line(err)
    for fragment in fragments:
        assert fragment in line, line
    assert not (tmp_path / "output.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left
    # steps 3-4 are facts and stay for a retry with --input b
    assert (tmp_path / "b.json").exists() and (tmp_path / "machine_spec" / "m.json").exists()
    return line


def base(server_url, tmp_path):
    return ["--benchmark", "b", "--server", server_url, "--data-path", str(tmp_path), "--id", "m"] + WINDOW


def test_unreachable_server(tmp_path):
    sleeps = []
    code, _, err = invoke(base("http://user:pw123@127.0.0.1:9", tmp_path), deps=QueryDeps(sleep=sleeps.append))
    assert_failed_cleanly(tmp_path, code, err, "http://user:***@127.0.0.1:9", "after 4 attempts")
    assert "pw123" not in err and sleeps == [1.0, 2.0, 4.0]


def test_connection_dropped_mid_run(tmp_path):
    with FaultServer(names_then(lambda p, q, h: "drop")) as server:
        code, _, err = invoke(base(server.url, tmp_path))
        assert_failed_cleanly(tmp_path, code, err, server.url, "after 4 attempts")


def test_http_400_names_metric_window_and_prometheus_error(tmp_path):
    body = b'{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points"}'
    with FaultServer(names_then(lambda p, q, h: (400, {}, body))) as server:
        code, _, err = invoke(base(server.url, tmp_path) + ["--concurrency", "1"])
        assert_failed_cleanly(
            tmp_path,
            code,
            err,
            "kepler_container_bpf_cpu_time_ms_total",
            "2024-01-01T00:00:00Z to 2024-01-01T00:10:00Z",
            "bad_data",
            "exceeded maximum resolution",
        )
        first = [p for p in server.paths("/query_range") if p["query"] == ["kepler_container_bpf_cpu_time_ms_total"]]
        assert len(first) == 1  # not retried


def test_always_503_gives_up_after_three_retries(tmp_path):
    """Through the real dispatcher: Retry-After 0 keeps the test fast; 1 + 3 attempts, then exit 1."""
    with FaultServer(names_then(lambda p, q, h: (503, {"Retry-After": "0"}, b"overloaded"))) as server:
        code, _, err = cli(base(server.url, tmp_path) + ["--timeout", "0.5", "--concurrency", "1"])
        assert_failed_cleanly(tmp_path, code, err, "after 4 attempts: HTTP 503")
        first = [p for p in server.paths("/query_range") if p["query"] == ["kepler_container_bpf_cpu_time_ms_total"]]
        assert len(first) == 4


@pytest.mark.parametrize(
    "answer, fragment",
    [
        ((200, {}, b"<html>oops</html>"), "is not JSON"),
        (success({"resultType": "matrix"}), "lacks data.result"),
        (success({"resultType": "matrix", "result": [{"metric": {}}]}), "malformed"),
    ],
)
def test_malformed_answers(tmp_path, answer, fragment):
    with FaultServer(names_then(lambda p, q, h: answer)) as server:
        code, _, err = invoke(base(server.url, tmp_path))
        assert_failed_cleanly(tmp_path, code, err, fragment)


def test_empty_result_for_every_metric(tmp_path):
    with FaultServer(names_then(lambda p, q, h: matrix([]))) as server:
        code, _, err = invoke(base(server.url, tmp_path))
        assert_failed_cleanly(tmp_path, code, err, "no selected metric returned any series")


def test_no_metric_with_the_prefix(tmp_path):
    with FaultServer(names_then(lambda p, q, h: matrix([]), names=["up", "node_load1"])) as server:
        code, _, err = invoke(base(server.url, tmp_path))
        assert_failed_cleanly(
            tmp_path, code, err, "no metric starting with 'kepler_'", server.url, "2024-01-01T00:00:00Z"
        )


def test_discovery_passes_window_and_selector(tmp_path):
    with FaultServer(names_then(lambda p, q, h: matrix(SERIES))) as server:
        code, _, err = invoke(base(server.url, tmp_path) + ["--selector", 'instance="w1:9102"'])
        assert code == 0, err
        (names,) = server.paths("/label/__name__/values")
        assert names == {"start": ["1704067200"], "end": ["1704067800"], "match[]": ['{instance="w1:9102"}']}
        queries = {p["query"][0] for p in server.paths("/query_range")}
        assert 'kepler_node_package_joules_total{instance="w1:9102"}' in queries


def test_data_path_not_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = invoke(
        ["--benchmark", "b", "--data-path", str(blocker / "ws"), "--server", "http://127.0.0.1:9"] + WINDOW
    )
    assert code == 1 and str(blocker / "ws") in one_error_line(err)


def test_output_not_writable_leaves_no_output(tmp_path):
    (tmp_path / "out.json").mkdir()  # a folder where the query JSON goes (--output is a plain name)
    with FaultServer(names_then(lambda p, q, h: matrix(SERIES))) as server:
        code, _, err = invoke(base(server.url, tmp_path) + ["--output", "out"])
    assert code == 1 and "cannot write" in one_error_line(err) and "out.json" in err
    assert not list((tmp_path / "out.json").iterdir()) and not list(tmp_path.glob(".out.json.*"))


def test_output_in_proc_fails(tmp_path):
    code, _, err = invoke(
        ["--benchmark", "b", "--data-path", "/proc/kepler-model-test", "--server", "http://127.0.0.1:9"] + WINDOW
    )
    assert code == 1 and "/proc/kepler-model-test" in one_error_line(err)


def test_unreadable_token_and_ca_files(tmp_path):
    code, _, err = invoke(base("http://127.0.0.1:9", tmp_path) + ["--token-file", str(tmp_path / "none")])
    assert code == 1 and "token file" in one_error_line(err) and not (tmp_path / "b.json").exists()
    code, _, err = invoke(base("http://127.0.0.1:9", tmp_path), {"PROM_CA_FILE": str(tmp_path / "ca.pem")})
    assert code == 1 and "ca.pem" in one_error_line(err)


def test_token_is_sent_never_printed(tmp_path):
    token = tmp_path / "token"
    token.write_text("very-secret-token\n")
    with FaultServer(names_then(lambda p, q, h: matrix(SERIES))) as server:
        code, out, err = invoke(base(server.url, tmp_path) + ["--token-file", str(token)])
        assert code == 0, err
        assert {h["authorization"] for _, _, h in server.requests} == {"Bearer very-secret-token"}
    assert "very-secret-token" not in out + err and "plain http" in err
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != token:
            assert "very-secret-token" not in path.read_text()


def test_unreachable_through_a_real_process_has_no_traceback(tmp_path):
    """`python cmd/main.py query` as a subprocess: real 1 + 2 + 4 s waits, one line, exit 1."""
    done = subprocess.run(
        [sys.executable, str(REPO / "cmd" / "main.py"), "query"]
        + base("http://127.0.0.1:9", tmp_path)
        + ["--timeout", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert (
        done.stderr.strip().splitlines()[-1].startswith("kepler-model query: error: Prometheus at http://127.0.0.1:9")
    )


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A throw-away certificate for 127.0.0.1 made with the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return str(cert), str(key)


def test_tls_is_verified_by_default_and_ca_file_or_insecure_opens_it(tmp_path, self_signed):
    with FaultServer(names_then(lambda p, q, h: matrix(SERIES)), tls=self_signed) as server:
        code, _, err = invoke(base(server.url, tmp_path / "a"))
        line = one_error_line(err)
        assert code == 1 and "TLS verification" in line and server.url in line
        assert "--ca-file" in line and "--insecure" in line
        code, _, err = invoke(base(server.url, tmp_path / "b") + ["--ca-file", self_signed[0]])
        assert code == 0, err
        code, _, err = invoke(base(server.url, tmp_path / "c"), {"PROM_SSL_DISABLE": "true"})
        assert code == 0 and "not verified" in err


def test_legacy_flags_are_ignored_with_a_warning(tmp_path):
    with FaultServer(names_then(lambda p, q, h: matrix(SERIES))) as server:
        code, _, err = cli(base(server.url, tmp_path) + ["--extractor", "smooth", "--zip=true"])
    assert code == 0 and "--extractor is not used by query" in err and "--zip is not used" in err


def test_server_gone_between_discovery_and_range_queries(tmp_path):
    """The server answers the metric list, then stops listening: connection refused, exit 1, no output."""
    import threading
    import time

    holder = {}

    def stop_soon():
        time.sleep(0.05)
        holder["server"].httpd.shutdown()
        holder["server"].httpd.server_close()

    def route(path, params, headers):
        if path.endswith("/label/__name__/values"):
            threading.Thread(target=stop_soon, daemon=True).start()
            return success(["kepler_node_package_joules_total"])
        return "drop"

    with FaultServer(route) as server:
        holder["server"] = server
        code, _, err = invoke(base(server.url, tmp_path), deps=QueryDeps(sleep=lambda seconds: time.sleep(0.2)))
        line = assert_failed_cleanly(tmp_path, code, err, "after 4 attempts")
        assert "refused" in line


@pytest.mark.parametrize(
    "names, warning",
    [
        # train reads Kepler >= 0.10 metrics now (kepler-010.md): query no longer warns about them
        (["kepler_node_cpu_joules_total", "kepler_node_package_joules_total"], None),
        (["kepler_node_info"], "generation is undecided"),
    ],
)
def test_generation_warnings(tmp_path, names, warning):
    with FaultServer(names_then(lambda p, q, h: matrix(SERIES), names=names)) as server:
        code, _, err = invoke(base(server.url, tmp_path))
    assert code == 0
    assert (warning in err) if warning else ("generation" not in err and "train cannot" not in err)
