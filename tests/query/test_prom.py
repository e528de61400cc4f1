"""The HTTP client against a real local HTTP server: retries, Retry-After, statuses, auth, bad bodies."""

import base64
import json

import pytest

from steps.common.errors import StepError
from steps.query.credentials import read_token
from steps.query.prom import PromClient, RequestFailed, ServerAddress, mask_url, parse_retry_after

from .faultserver import FaultServer, Trickle, success


def client_for(url, sleeps, **kwargs):
    return PromClient.create(
        ServerAddress.parse(url), timeout=kwargs.pop("timeout", 5), concurrency=2, sleep=sleeps.append, **kwargs
    )


def test_identity_encoding_token_and_basic_auth_are_sent():
    with FaultServer(lambda p, q, h: success(["a"])) as server:
        url = server.url.replace("http://", "http://alice:s3cret@") + "/prefix/"
        client = client_for(url, [], token="tok")
        assert client.get("/api/v1/label/__name__/values", {}, "names") == ["a"]
        path, _, headers = server.requests[0]
        assert path == "/prefix/api/v1/label/__name__/values"  # the path prefix is kept
        assert headers["accept-encoding"] == "identity"
        # a token wins over basic auth on the wire; basic auth is used without a token
        assert headers["authorization"] == "Bearer tok"
        client_for(url, []).get("/x", {}, "names")
        assert server.requests[1][2]["authorization"] == "Basic " + base64.b64encode(b"alice:s3cret").decode()


def test_password_is_masked():
    address = ServerAddress.parse("https://alice:s3cret@prom.example:9091/p")
    assert address.display == "https://alice:***@prom.example:9091/p"
    assert address.base == "https://prom.example:9091/p" and address.auth == ("alice", "s3cret")
    assert "s3cret" not in mask_url("http://alice:s3cret@h:1")


def test_gives_up_after_three_retries_with_growing_waits():
    with FaultServer(lambda p, q, h: (503, {}, b"busy")) as server:
        sleeps = []
        with pytest.raises(RequestFailed, match=r"after 4 attempts: HTTP 503"):
            client_for(server.url, sleeps).get("/api/v1/query_range", {}, "m from a to b")
        assert len(server.requests) == 4 and sleeps == [1.0, 2.0, 4.0]


def test_retry_after_is_honoured_and_capped():
    answers = iter([(429, {"Retry-After": "7"}, b""), (503, {"Retry-After": "3600"}, b""), success([1])])
    with FaultServer(lambda p, q, h: next(answers)) as server:
        sleeps = []
        assert client_for(server.url, sleeps).get("/x", {}, "names") == [1]
        assert sleeps == [7.0, 30.0]


def test_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412480 - 5) == 5.0
    assert parse_retry_after("garbage") is None and parse_retry_after("-3") == 0.0


def test_dropped_connection_is_retried_then_succeeds():
    answers = iter(["drop", success(["ok"])])
    with FaultServer(lambda p, q, h: next(answers)) as server:
        sleeps = []
        assert client_for(server.url, sleeps).get("/x", {}, "names") == ["ok"]
        assert sleeps == [1.0]


@pytest.mark.parametrize(
    "status, message",
    [
        (400, "HTTP 400 for m from a to b: bad_data: exceeded"),
        (401, "HTTP 401 .*token"),
        (403, "HTTP 403 .*token"),
        (404, "HTTP 404"),
    ],
)
def test_other_statuses_fail_at_once(status, message):
    body = b'{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution"}'
    with FaultServer(lambda p, q, h: (status, {}, body)) as server:
        sleeps = []
        with pytest.raises(RequestFailed, match=message):
            client_for(server.url, sleeps).get("/api/v1/query_range", {}, "m from a to b")
        assert len(server.requests) == 1 and sleeps == []


@pytest.mark.parametrize(
    "body, message",
    [(b"<html>", "is not JSON"), (b'{"status":"error"}', "not a success"), (b'{"status":"success"}', "has no data")],
)
def test_bad_bodies(body, message):
    with FaultServer(lambda p, q, h: (200, {}, body)) as server:
        with pytest.raises(RequestFailed, match=message):
            client_for(server.url, []).get("/x", {}, "names")


def test_warnings_are_passed_on():
    warnings = []
    body = b'{"status":"success","data":[],"warnings":["partial response"]}'
    with FaultServer(lambda p, q, h: (200, {}, body)) as server:
        client = client_for(server.url, [])
        client.warn = warnings.append
        client.get("/x", {}, "names")
    assert warnings == ["Prometheus warning for names: partial response"]


def test_unreachable_names_the_url_and_last_error():
    sleeps = []
    client = client_for("http://127.0.0.1:9", sleeps, timeout=1)
    with pytest.raises(RequestFailed, match=r"http://127.0.0.1:9/x .*after 4 attempts: .*(refused|Connection)"):
        client.get("/x", {}, "names")


def test_timeout_is_retried(tmp_path):
    import time

    def slow(p, q, h):
        time.sleep(0.6)
        return success([])

    with FaultServer(slow) as server:
        sleeps = []
        started = time.monotonic()
        with pytest.raises(RequestFailed, match="after 4 attempts: .*[Tt]imed? ?out"):
            client_for(server.url, sleeps, timeout=0.2).get("/x", {}, "names")
        assert time.monotonic() - started < 3 and len(sleeps) == 3


def test_token_sources(tmp_path):
    token = tmp_path / "token"
    token.write_text(" abc \n")
    assert read_token(str(token), "env") == "abc"
    assert read_token(None, "env") == "env"
    assert read_token(None, None) is None
    with pytest.raises(StepError, match="token file .*missing"):
        read_token(str(tmp_path / "missing"), None)


def test_cancel_stops_retrying_at_once():
    """After another request failed, a client waiting to retry gives up without sleeping the waits out."""
    import threading
    import time

    with FaultServer(lambda p, q, h: (503, {}, b"")) as server:
        client = PromClient.create(ServerAddress.parse(server.url), timeout=5, concurrency=1)  # real sleep
        errors = []
        worker = threading.Thread(target=lambda: errors.append(pytest.raises(RequestFailed, client.get, "/x", {}, "n")))
        started = time.monotonic()
        worker.start()
        time.sleep(0.3)
        client.cancel()
        worker.join(5)
        assert not worker.is_alive() and time.monotonic() - started < 2
        assert "cancelled" in str(errors[0].value)


# --- a request is bounded from send to last byte (a trickle never trips a socket timeout) ---------

TRICKLED = b'{"status":"success","data":["' + b"a" * 400 + b'"]}'


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_trickling_answer_is_cut_at_the_timeout_and_retried(headers_too):
    """One byte every 0.1 s: every attempt ends at the 0.5 s deadline, so 4 attempts end in about 2 s."""
    import time

    with FaultServer(lambda p, q, h: Trickle(TRICKLED, 0.1, headers_too)) as server:
        sleeps = []
        started = time.monotonic()
        with pytest.raises(RequestFailed, match=r"after 4 attempts: no complete answer within the --timeout of 0.5 s"):
            client_for(server.url, sleeps, timeout=0.5).get("/x", {}, "names")
        elapsed = time.monotonic() - started
        assert len(server.requests) == 4 and sleeps == [1.0, 2.0, 4.0]
        assert 4 * 0.5 <= elapsed < 4 * 0.5 + 1.0


def test_a_request_within_the_timeout_is_not_cut():
    """The deadline covers the whole answer: a slow but complete one inside it is fine, and keeps its connection."""
    with FaultServer(lambda p, q, h: Trickle(b'{"status":"success","data":[]}', 0.005)) as server:
        assert client_for(server.url, [], timeout=3).get("/x", {}, "names") == []
    answers = iter([success([1]), success([2])])
    with FaultServer(lambda p, q, h: next(answers)) as server:
        client = client_for(server.url, [], timeout=3)
        assert client.get("/x", {}, "a") == [1] and client.get("/x", {}, "b") == [2]


def test_cancel_ends_a_request_in_flight():
    """After another request failed, a trickling answer is given up at once, not at its 10 s deadline."""
    import threading
    import time

    with FaultServer(lambda p, q, h: Trickle(TRICKLED, 0.1)) as server:
        client = client_for(server.url, [], timeout=10)
        errors = []
        worker = threading.Thread(target=lambda: errors.append(pytest.raises(RequestFailed, client.get, "/x", {}, "n")))
        started = time.monotonic()
        worker.start()
        time.sleep(0.3)
        client.cancel()
        worker.join(5)
        assert not worker.is_alive() and time.monotonic() - started < 1.5
        assert "cancelled" in str(errors[0].value)


# --- tokens and CA files are checked before any request, never quoted ----------------------------

SECRET = "s3cr3t-T0KEN-value"


@pytest.mark.parametrize(
    "token, problem",
    [
        (f"abc\n{SECRET}", "line break"),
        (f"{SECRET}\rx", "line break"),
        (f"{SECRET}\x00", "control character"),
        (f"{SECRET}\x1b[0m", "control character"),
        (f"{SECRET}\u20ac", "outside Latin-1"),
        (f"{SECRET}\udce9", "outside Latin-1"),
    ],
)
def test_a_token_that_is_no_header_value_is_refused_naming_its_source(tmp_path, token, problem):
    from steps.common.errors import UsageError

    with pytest.raises(UsageError, match=f"PROM_TOKEN .*{problem}") as refused:
        read_token(None, token)
    assert SECRET not in str(refused.value) and refused.value.exit_code == 2
    path = tmp_path / "token"
    path.write_bytes(token.encode("utf-8", "surrogateescape") + b"\n")
    with pytest.raises(StepError) as refused:
        read_token(str(path), None)
    assert str(path) in str(refused.value) and SECRET not in str(refused.value) and refused.value.exit_code == 1
    assert refused.value.__cause__ is None and (refused.value.__context__ is None or refused.value.__suppress_context__)


def test_token_file_keeps_a_latin1_token_and_strips_its_newline(tmp_path):
    path = tmp_path / "token"
    path.write_text("caf\u00e9-token\r\n", encoding="utf-8")
    assert read_token(str(path), None) == "caf\u00e9-token"
    assert read_token(None, "  tok  \n") == "tok"


@pytest.mark.parametrize("token", [SECRET, 'back\\slash"quote\u00e9', "two  spaces\u00a0nbsp"])
@pytest.mark.parametrize("shape", ["error-json", "not-json", "warning"])
def test_secrets_are_masked_even_when_the_server_echoes_them(token, shape):
    """A proxy that quotes the request's Authorization header in its answer does not leak it, even where
    the message escapes (repr) or folds (one line) the text: the mask comes first."""

    def echo(p, q, h):
        header = h["authorization"]
        if shape == "error-json":
            return 400, {}, json.dumps({"status": "error", "errorType": "bad_data", "error": "got " + header}).encode()
        if shape == "not-json":
            return 200, {}, ("<p>" + header + "</p>").encode("latin-1")
        return 200, {}, json.dumps({"status": "success", "data": [], "warnings": ["saw " + header]}).encode()

    warnings = []
    with FaultServer(echo) as server:
        client = client_for(server.url, [], token=token)
        client.warn = warnings.append
        try:
            client.get("/x", {}, "names")
            message = warnings[0]
        except RequestFailed as failed:
            message = str(failed)
    assert server.requests[0][2]["authorization"] == "Bearer " + token
    assert "Bearer ***" in message
    for fragment in ("back", "slash", "quote", "two", "spaces", "nbsp", "s3cr3t"):
        assert fragment not in message


def test_ca_file_must_hold_a_pem_certificate(tmp_path):
    from steps.query.credentials import check_ca_file

    garbage = tmp_path / "ca.der"
    garbage.write_bytes(b"\x30\x82\x01\x0a not pem")
    with pytest.raises(StepError, match=f"CA file {garbage} holds no PEM certificate"):
        check_ca_file(str(garbage))
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")
    with pytest.raises(StepError, match=f"CA file {broken} is not a valid PEM"):
        check_ca_file(str(broken))
    assert check_ca_file(None) is None


def test_warnings_are_one_line_without_control_characters():
    warnings = []
    text = "partial\nresponse\x1b[31m red\x07\r\n\u202eevil\u2028end\ttab"
    body = json.dumps({"status": "success", "data": [], "warnings": [text, {"odd": 1}]}).encode()
    with FaultServer(lambda p, q, h: (200, {}, body)) as server:
        client = client_for(server.url, [])
        client.warn = warnings.append
        client.get("/x", {}, "names")
    assert warnings[0] == "Prometheus warning for names: partial response [31m red evil end tab"
    assert warnings[1] == "Prometheus warning for names: {'odd': 1}"
    assert all(ch.isprintable() for warning in warnings for ch in warning)


def test_error_text_is_one_line():
    body = b'{"status":"error","errorType":"bad\\ndata","error":"line1\\nline2\\u001b[0m"}'
    with FaultServer(lambda p, q, h: (422, {}, body)) as server:
        with pytest.raises(RequestFailed) as failed:
            client_for(server.url, []).get("/x", {}, "names")
    assert str(failed.value).endswith(": bad data: line1 line2 [0m")


def test_a_garbled_status_line_is_reported_on_one_line():
    """http.client quotes the bad status line it got: the server's bytes must not break or colour the log."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 2x0 \x1b[2J\rfake\x07 junk\r\n\r\n")
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        with pytest.raises(RequestFailed) as failed:
            client_for(f"http://127.0.0.1:{listener.getsockname()[1]}", [], timeout=2).get("/x", {}, "names")
    finally:
        listener.close()
    message = str(failed.value)
    assert "after 4 attempts" in message and all(ch.isprintable() for ch in message)
