"""The HTTP client against a real local HTTP server: retries, Retry-After, statuses, auth, bad bodies."""

import base64

import pytest

from steps.common.errors import StepError
from steps.query.prom import PromClient, RequestFailed, ServerAddress, mask_url, parse_retry_after, read_token

from .faultserver import FaultServer, success


def client_for(url, sleeps, **kwargs):
    return PromClient.create(ServerAddress.parse(url), timeout=kwargs.pop("timeout", 5), concurrency=2,
                             sleep=sleeps.append, **kwargs)


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


@pytest.mark.parametrize("status, message", [(400, "HTTP 400 for m from a to b: bad_data: exceeded"),
                                             (401, "HTTP 401 .*token"), (403, "HTTP 403 .*token"),
                                             (404, "HTTP 404")])
def test_other_statuses_fail_at_once(status, message):
    body = b'{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution"}'
    with FaultServer(lambda p, q, h: (status, {}, body)) as server:
        sleeps = []
        with pytest.raises(RequestFailed, match=message):
            client_for(server.url, sleeps).get("/api/v1/query_range", {}, "m from a to b")
        assert len(server.requests) == 1 and sleeps == []


@pytest.mark.parametrize("body, message", [(b"<html>", "is not JSON"), (b'{"status":"error"}', "not a success"),
                                           (b'{"status":"success"}', "has no data")])
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
