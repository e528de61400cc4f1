"""HTTP access to Prometheus: one session, timeouts, bounded retries, TLS and auth (query.md §4).

The session, the sleep function and the clock are injected so tests can drive faults with a real
local HTTP server and without waiting.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Optional, Set, Tuple
from urllib.parse import urlsplit, urlunsplit

import requests

from ..common.errors import StepError, UsageError
from .transport import Adapter, Deadline

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RETRY_WAITS = (1.0, 2.0, 4.0)  # seconds before retry 1, 2, 3
MAX_RETRY_AFTER = 30.0
# --timeout bounds one request; a day is far beyond any answer and keeps timers and sockets in range.
MAX_TIMEOUT = 86_400.0
# Secrets shorter than this are not masked in messages: they would garble every word they occur in.
MIN_MASKED = 4


@dataclass(frozen=True)
class ServerAddress:
    """The base URL without credentials, the basic-auth pair if any, and a masked form for messages."""

    base: str
    auth: Optional[Tuple[str, str]]
    display: str

    @classmethod
    def parse(cls, url: str) -> "ServerAddress":
        text = url.strip()
        if "://" not in text:
            text = "http://" + text
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {mask_url(url)!r}")
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        netloc = host + (f":{parts.port}" if parts.port else "")
        base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        auth = None
        display = base
        if parts.username is not None:
            from urllib.parse import unquote

            auth = (unquote(parts.username), unquote(parts.password or ""))
            display = urlunsplit(
                (parts.scheme, f"{unquote(parts.username)}:***@{netloc}", parts.path.rstrip("/"), "", "")
            )
        return cls(base, auth, display)

    @property
    def is_https(self) -> bool:
        return self.base.startswith("https://")


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"{parts.username}:***@{netloc}", parts.path, parts.query, parts.fragment))


class RequestFailed(StepError):
    """A Prometheus request that failed for good (after retries, or at once)."""


class _Transient(Exception):
    """An attempt that failed in a way worth retrying; the message is the reason, already safe to print."""


@dataclass
class PromClient:
    """Issues GETs against one Prometheus and returns the `data` of successful JSON answers."""

    address: ServerAddress
    session: requests.Session
    timeout: float = 120.0
    verify: Any = True  # True, False or a CA bundle path
    sleep: Callable[[float], None] = time.sleep
    warn: Callable[[str], None] = lambda message: None
    waits: Tuple[float, ...] = RETRY_WAITS
    secrets: Tuple[str, ...] = ()  # masked in every message, whatever an error or a server says
    attempts_made: int = field(default=0, init=False)
    stopped: threading.Event = field(default_factory=threading.Event, init=False)
    _active: Set[Deadline] = field(default_factory=set, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def create(
        cls,
        address: ServerAddress,
        *,
        timeout: float,
        concurrency: int,
        verify: Any = True,
        token: Optional[str] = None,
        warn: Callable[[str], None] = lambda m: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> "PromClient":
        """A client with a pooled session sized for `concurrency` connections."""
        session = requests.Session()
        ssl_context = None
        if verify is False:
            # One warning from the step says so; urllib3 would repeat it for every request.
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        if isinstance(verify, str):
            # The extra bundle adds to the system store instead of replacing it (query.md §4).
            ssl_context = ssl.create_default_context()
            ssl_context.load_verify_locations(cafile=verify)
            verify = True
        adapter = Adapter(ssl_context, pool_connections=2, pool_maxsize=max(concurrency, 1), max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        # On loopback the server's gzip costs far more than the bytes it saves (platform.md §5).
        session.headers.update({"Accept-Encoding": "identity", "Accept": "application/json"})
        if token:
            session.headers["Authorization"] = f"Bearer {token}"
        elif address.auth:  # an explicit token wins over credentials in the URL
            session.auth = address.auth
        session.trust_env = False
        secrets = tuple(secret for secret in (token, address.auth[1] if address.auth else None) if secret)
        return cls(address, session, timeout=timeout, verify=verify, sleep=sleep, warn=warn, secrets=secrets)

    def url(self, path: str) -> str:
        return self.address.base + path

    def get(self, path: str, params: Any, what: str) -> Any:
        """GET `path`; the `data` member of a success answer, else a RequestFailed naming `what`."""
        body = self.get_body(path, params, what)
        return self.decode(body, path, what)

    def get_body(self, path: str, params: Any, what: str) -> bytes:
        """The raw body of a 200 answer, after bounded retries."""
        url = self.url(path)
        shown = self.address.display + path
        last_error = ""
        retry_after: Optional[float] = None
        for attempt in range(len(self.waits) + 1):
            if attempt:
                self._pause(self.waits[attempt - 1] if retry_after is None else retry_after)
            if self.stopped.is_set():
                raise RequestFailed(f"request to {shown} for {what} cancelled")
            retry_after = None
            self.attempts_made += 1
            try:
                status, headers, body = self._exchange(url, params, shown, what)
            except _Transient as failure:
                last_error = str(failure)
                continue
            if status == 200:
                return body
            if status in RETRY_STATUSES:
                last_error = f"HTTP {status}{self._error_text(body)}"
                retry_after = parse_retry_after(headers.get("Retry-After"))
                continue
            if status in (401, 403):
                raise RequestFailed(
                    f"{shown} answered HTTP {status} for {what}; "
                    "a bearer token may be needed (--token-file, PROM_TOKEN_FILE or PROM_TOKEN)"
                )
            raise RequestFailed(f"{shown} answered HTTP {status} for {what}{self._error_text(body)}")
        raise RequestFailed(
            f"Prometheus at {shown} failed for {what} after {len(self.waits) + 1} attempts: {last_error}"
        )

    def _exchange(self, url: str, params: Any, shown: str, what: str) -> Tuple[int, Mapping[str, str], bytes]:
        """One GET, finished from send to last byte within the timeout: (status, headers, body).

        Failures worth a retry raise _Transient; others RequestFailed. Messages never quote the
        request's headers (requests' InvalidHeader does), and never chain the original exception.
        """
        try:
            with self._deadline() as deadline:
                with self.session.get(
                    url, params=params, timeout=self.timeout, verify=self.verify, stream=True
                ) as response:
                    return response.status_code, response.headers, response.content
        except (requests.exceptions.RequestException, http.client.HTTPException, OSError, ValueError) as failure:
            error: BaseException = failure
        if deadline.cancelled:
            raise RequestFailed(f"request to {shown} for {what} cancelled")
        if deadline.expired or isinstance(error, requests.exceptions.ReadTimeout):
            raise _Transient(f"no complete answer within the --timeout of {self.timeout:g} s")
        reason = one_line(self._clean(_short(error)))  # may quote server bytes (a bad status line)
        if isinstance(error, requests.exceptions.SSLError):
            raise RequestFailed(
                f"TLS verification of {shown} failed ({reason}); "
                "pass the server's CA with --ca-file or skip verification with --insecure"
            )
        if isinstance(
            error,
            (
                requests.exceptions.ConnectionError,
                requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ),
        ):
            raise _Transient(reason)
        raise RequestFailed(f"request to {shown} for {what} failed: {reason}")

    @contextmanager
    def _deadline(self) -> Iterator[Deadline]:
        """A running deadline for one request, known to cancel()."""
        deadline = Deadline(self.timeout)
        with self._lock:
            self._active.add(deadline)
        try:
            with deadline:
                yield deadline
        finally:
            with self._lock:
                self._active.discard(deadline)

    def _clean(self, text: str) -> str:
        """`text` with every secret (token, password) masked; done before any escaping or cutting."""
        for secret in self.secrets:
            if len(secret) >= MIN_MASKED:
                text = text.replace(secret, "***")
        return text

    def _clean_bytes(self, body: bytes) -> bytes:
        for secret in self.secrets:
            if len(secret) >= MIN_MASKED:
                body = body.replace(secret.encode("utf-8"), b"***").replace(secret.encode("latin-1", "replace"), b"***")
        return body

    def _error_text(self, body: bytes) -> str:
        return _error_text(body, self._clean)

    def _pause(self, seconds: float) -> None:
        """Wait before a retry; a cancelled client stops waiting at once."""
        if self.sleep is time.sleep:
            self.stopped.wait(seconds)
        else:
            self.sleep(seconds)

    def cancel(self) -> None:
        """Make running and waiting requests give up (another request already failed)."""
        self.stopped.set()
        with self._lock:
            running = list(self._active)
        for deadline in running:
            deadline.expire(cancelled=True)

    def decode(self, body: bytes, path: str, what: str) -> Any:
        """The `data` of a `"status": "success"` JSON answer; Prometheus warnings are passed on."""
        shown = self.address.display + path
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            excerpt = self._clean_bytes(body)[:80]
            raise RequestFailed(f"the answer of {shown} for {what} is not JSON: {excerpt!r}") from None
        if not isinstance(document, dict) or document.get("status") != "success":
            detail = self._error_text(body) if isinstance(document, dict) else ""
            raise RequestFailed(f"the answer of {shown} for {what} is not a success{detail or ' (no status)'}")
        warnings = document.get("warnings") or []
        for warning in warnings if isinstance(warnings, list) else [warnings]:
            self.warn(f"Prometheus warning for {what}: {one_line(self._clean(str(warning)))}")
        if "data" not in document:
            raise RequestFailed(f"the answer of {shown} for {what} has no data")
        return document["data"]

    def close(self) -> None:
        self.session.close()


def parse_retry_after(value: Optional[str], now: Callable[[], float] = time.time) -> Optional[float]:
    """Seconds from a Retry-After header (seconds or an HTTP date), capped at 30 s; None when absent or bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        import email.utils  # rare: only servers that send an HTTP date

        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if moment is None:
            return None
        seconds = moment.timestamp() - now()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _error_text(body: bytes, clean: Callable[[str], str] = lambda text: text) -> str:
    """Prometheus's errorType and error from an error body, when it is one; `clean` masks secrets first."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(document, dict) and ("errorType" in document or "error" in document):
        kind, error = (one_line(clean(str(document.get(key, "")))) for key in ("errorType", "error"))
        return f": {kind}: {error}"
    return ""


def one_line(text: object, limit: int = 1000) -> str:
    """Server-provided text made safe for one log line: control and other unprintable characters
    (newlines, escape sequences, bidi overrides) become spaces; long text is cut."""
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def _short(failure: BaseException) -> str:
    """One readable line from a requests exception: the innermost urllib3 reason, not the nested reprs."""
    reason: object = failure
    inner = failure.args[0] if failure.args else None
    if getattr(inner, "reason", None) is not None:
        reason = inner.reason  # type: ignore[union-attr]
    text = str(reason).replace("\n", " ")
    if text.startswith(("HTTPConnection(", "HTTPSConnection(")) and "): " in text:
        text = text.split("): ", 1)[1]  # drop urllib3's "HTTPConnection(host=..., port=...)" prefix
    return text if len(text) <= 300 else text[:297] + "..."


def check_timeout(seconds: float) -> float:
    """--timeout bounds each request from send to last byte; infinity would bound nothing (and overflow timers)."""
    if not seconds <= MAX_TIMEOUT:
        raise UsageError(f"--timeout must be at most {MAX_TIMEOUT:g} seconds, not {seconds:g}")
    return seconds
