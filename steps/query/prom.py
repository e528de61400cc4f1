"""HTTP access to Prometheus: one session, timeouts, bounded retries, TLS and auth (query.md §4).

The session, the sleep function and the clock are injected so tests can drive faults with a real
local HTTP server and without waiting.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from ..common.errors import StepError

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RETRY_WAITS = (1.0, 2.0, 4.0)  # seconds before retry 1, 2, 3
MAX_RETRY_AFTER = 30.0


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
            display = urlunsplit((parts.scheme, f"{unquote(parts.username)}:***@{netloc}", parts.path.rstrip("/"), "", ""))
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


class _Adapter(HTTPAdapter):
    """A pooled adapter that can carry an SSL context holding the system store plus --ca-file."""

    def __init__(self, ssl_context: Optional[ssl.SSLContext] = None, **kwargs: Any) -> None:
        self._ssl_context = ssl_context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self._ssl_context is not None:
            kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(*args, **kwargs)


class RequestFailed(StepError):
    """A Prometheus request that failed for good (after retries, or at once)."""


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
    attempts_made: int = field(default=0, init=False)
    stopped: threading.Event = field(default_factory=threading.Event, init=False)

    @classmethod
    def create(cls, address: ServerAddress, *, timeout: float, concurrency: int, verify: Any = True,
               token: Optional[str] = None, warn: Callable[[str], None] = lambda m: None,
               sleep: Callable[[float], None] = time.sleep) -> "PromClient":
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
        adapter = _Adapter(ssl_context, pool_connections=2, pool_maxsize=max(concurrency, 1), max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        # On loopback the server's gzip costs far more than the bytes it saves (platform.md §5).
        session.headers.update({"Accept-Encoding": "identity", "Accept": "application/json"})
        if token:
            session.headers["Authorization"] = f"Bearer {token}"
        elif address.auth:  # an explicit token wins over credentials in the URL
            session.auth = address.auth
        session.trust_env = False
        return cls(address, session, timeout=timeout, verify=verify, sleep=sleep, warn=warn)

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
                response = self.session.get(url, params=params, timeout=self.timeout, verify=self.verify)
                body = response.content
            except requests.exceptions.SSLError as failure:
                raise RequestFailed(f"TLS verification of {shown} failed ({_short(failure)}); "
                                    "pass the server's CA with --ca-file or skip verification with --insecure") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                    requests.exceptions.ChunkedEncodingError) as failure:
                last_error = _short(failure)
                continue
            except requests.exceptions.RequestException as failure:
                raise RequestFailed(f"request to {shown} for {what} failed: {_short(failure)}") from None
            status = response.status_code
            if status == 200:
                return body
            if status in RETRY_STATUSES:
                last_error = f"HTTP {status}{_error_text(body)}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                continue
            if status in (401, 403):
                raise RequestFailed(f"{shown} answered HTTP {status} for {what}; "
                                    "a bearer token may be needed (--token-file, PROM_TOKEN_FILE or PROM_TOKEN)")
            raise RequestFailed(f"{shown} answered HTTP {status} for {what}{_error_text(body)}")
        raise RequestFailed(f"Prometheus at {shown} failed for {what} after {len(self.waits) + 1} attempts: {last_error}")

    def _pause(self, seconds: float) -> None:
        """Wait before a retry; a cancelled client stops waiting at once."""
        if self.sleep is time.sleep:
            self.stopped.wait(seconds)
        else:
            self.sleep(seconds)

    def cancel(self) -> None:
        """Make running and waiting requests give up (another request already failed)."""
        self.stopped.set()

    def decode(self, body: bytes, path: str, what: str) -> Any:
        """The `data` of a `"status": "success"` JSON answer; Prometheus warnings are passed on."""
        shown = self.address.display + path
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise RequestFailed(f"the answer of {shown} for {what} is not JSON: {body[:80]!r}") from None
        if not isinstance(document, dict) or document.get("status") != "success":
            detail = _error_text(body) if isinstance(document, dict) else ""
            raise RequestFailed(f"the answer of {shown} for {what} is not a success{detail or ' (no status)'}")
        for warning in document.get("warnings") or []:
            self.warn(f"Prometheus warning for {what}: {warning}")
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


def _error_text(body: bytes) -> str:
    """Prometheus's errorType and error from an error body, when it is one."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(document, dict) and ("errorType" in document or "error" in document):
        return f": {document.get('errorType', '')}: {document.get('error', '')}"
    return ""


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


def read_token(token_file: Optional[str], env_token: Optional[str]) -> Optional[str]:
    """The bearer token: the file's stripped content, else PROM_TOKEN; never printed."""
    if token_file:
        try:
            with open(token_file, encoding="utf-8") as handle:
                return handle.read().strip() or None
        except OSError as failure:
            raise StepError(f"token file {token_file} cannot be read: {failure.strerror or failure}") from None
    return env_token.strip() if env_token and env_token.strip() else None


def check_ca_file(ca_file: Optional[str]) -> Optional[str]:
    if not ca_file:
        return None
    try:
        with open(ca_file, "rb") as handle:
            handle.read(1)
    except OSError as failure:
        raise StepError(f"CA file {ca_file} cannot be read: {failure.strerror or failure}") from None
    return ca_file
