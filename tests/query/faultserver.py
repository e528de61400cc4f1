"""A tiny real HTTP server with canned answers, for the fault cases a healthy Prometheus cannot produce.

It is a real server on a loopback port (not a mock): the client under test goes through sockets,
HTTP parsing, timeouts and connection drops exactly as against Prometheus.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

# handler(path, params, headers) -> (status, headers, body) | "drop" (close without answering) | Trickle
Answer = Tuple[int, Dict[str, str], bytes]
Route = Callable[[str, Dict[str, List[str]], Dict[str, str]], object]

NAMES = ["kepler_container_bpf_cpu_time_ms_total", "kepler_node_package_joules_total", "up"]


def success(data) -> Answer:
    return 200, {"Content-Type": "application/json"}, json.dumps({"status": "success", "data": data}).encode()


def matrix(result) -> Answer:
    return success({"resultType": "matrix", "result": result})


@dataclass(frozen=True)
class Trickle:
    """A valid-looking 200 answer sent one byte every `interval` seconds: the body only, or the
    status line and headers too (`headers_too`). No socket timeout ever trips on it."""

    body: bytes
    interval: float = 0.5
    headers_too: bool = False

    def wire(self) -> Tuple[bytes, bytes]:
        """(what is sent at once, what trickles)."""
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(self.body)}\r\n\r\n"
        ).encode()
        return (b"", head + self.body) if self.headers_too else (head, self.body)


def names_then(range_answer: Route, names=NAMES) -> Route:
    """Discovery answers `names`; every query_range goes to `range_answer`."""

    def route(path, params, headers):
        if path.endswith("/api/v1/label/__name__/values"):
            return success(names)
        return range_answer(path, params, headers)

    return route


class FaultServer:
    def __init__(self, route: Route, tls: Optional[Tuple[str, str]] = None) -> None:
        self.route = route
        self.requests: List[Tuple[str, Dict[str, List[str]], Dict[str, str]]] = []
        self.closing = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server naming
                parts = urlsplit(self.path)
                params = parse_qs(parts.query)
                headers = {k.lower(): v for k, v in self.headers.items()}
                owner.requests.append((parts.path, params, headers))
                answer = owner.route(parts.path, params, headers)
                if answer == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if isinstance(answer, Trickle):
                    self.close_connection = True
                    self.trickle(answer)
                    return
                status, extra, body = answer
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    pass

            def trickle(self, answer: Trickle) -> None:
                at_once, slowly = answer.wire()
                try:
                    self.wfile.write(at_once)
                    self.wfile.flush()
                    for index in range(len(slowly)):
                        if owner.closing.wait(answer.interval):
                            return
                        self.wfile.write(slowly[index : index + 1])
                        self.wfile.flush()
                except OSError:  # the client gave up, as it should
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if tls:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def paths(self, suffix: str) -> List[Dict[str, List[str]]]:
        return [params for path, params, _ in self.requests if path.endswith(suffix)]

    def __enter__(self) -> "FaultServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()
