"""HTTP plumbing of the Prometheus client: a deadline per request, from send to last byte.

A socket timeout restarts with every byte, so a server trickling one byte a second never trips
it. Each request runs under a `Deadline`; the connections of our pool (`Adapter`) tell the
current deadline which socket to shut down when the time is up.
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any, Optional

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()  # the Deadline of the request this thread is making
_owners = threading.Lock()  # guards which deadline owns which pooled connection


class Deadline:
    """The limit of one request from send to last byte.

    A socket timeout restarts with every byte, so a server trickling one byte a second never trips
    it. When the deadline passes, the request's socket is shut down instead: a blocked read returns
    at once and the request fails, wherever it was (headers or body).
    """

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self.cancelled = False
        self._connection: Any = None
        self._timer = threading.Timer(seconds, self.expire)
        self._timer.daemon = True

    def __enter__(self) -> "Deadline":
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._timer.cancel()
        _current.deadline = None
        with _owners:
            if self._connection is not None and getattr(self._connection, "_deadline", None) is self:
                self._connection._deadline = None
            self._connection = None

    def watch(self, connection: Any) -> None:
        """The connection now carries this request; shut it at once when the time is already up."""
        with _owners:
            self._connection = connection
            connection._deadline = self
            if self.expired:
                _shut(connection)

    def expire(self, cancelled: bool = False) -> None:
        with _owners:
            if self.expired:
                return
            self.expired, self.cancelled = True, cancelled
            connection = self._connection
            # A connection already handed back to the pool belongs to another request by now.
            if connection is not None and getattr(connection, "_deadline", None) is self:
                _shut(connection)


def _shut(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's: also under TLS
    except OSError:
        pass


def _watch_current(connection: Any) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(connection)


class _Watched:
    """A connection that tells the current request's deadline which socket to shut."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _watch_current(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_current(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class Adapter(HTTPAdapter):
    """A pooled adapter with watched connections and an SSL context holding the system store plus --ca-file."""

    def __init__(self, ssl_context: Optional[ssl.SSLContext] = None, **kwargs: Any) -> None:
        self._ssl_context = ssl_context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self._ssl_context is not None:
            kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
