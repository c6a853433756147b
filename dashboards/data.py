"""How pages read ClickHouse: named queries only, cached for a short while, with short
timeouts, and a clear bilingual message instead of a stack trace when the server is slow
or down.

Why a circuit breaker: a page draws several figures, each one a query. When ClickHouse
is down, the first query finds out within the connect timeout; the next ones fail at
once for ``BREAKER_S`` seconds, so the page answers in seconds, not figures x timeout.
Errors are not cached (``st.cache_data`` keeps only returned values), so the page after
the breaker tries the server again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import streamlit as st

from dashboards.labels import bi
from pipeline.logs import get_logger
from pipeline.store import queries
from pipeline.store.client import ClickHouse, StoreError

#: seconds a page's figures may be older than the data (st.cache_data ttl)
CACHE_TTL_S = 30.0
#: a server that does not accept the connection within this is "down" for the page
CONNECT_TIMEOUT_S = 2.0
#: a query that takes longer is abandoned: the page says so instead of hanging
RECEIVE_TIMEOUT_S = 10.0
#: after a failure, queries fail at once for this long (see the module docstring)
BREAKER_S = 5.0

UNAVAILABLE = bi("数据库暂时无法访问，页面上的数字无法显示。请稍后刷新；若持续出现，请联系管理员。",
                 "The database cannot be reached right now, so figures cannot be shown. "
                 "Refresh in a moment; if this persists, tell an administrator.")


class Connection(Protocol):
    """What a page's queries need of a connection (pipeline.store.client.ClickHouse)."""

    def query_dicts(self, sql: str, params: Mapping[str, Any] | None = None
                    ) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class DataUnavailable(Exception):
    """A named query could not be answered; ``str()`` is the page's message, ``detail``
    what went wrong (server, query, fix) for the log and for administrators."""

    def __init__(self, detail: str) -> None:
        super().__init__(UNAVAILABLE)
        self.detail = detail


def _connect(dsn: str) -> Connection:
    return ClickHouse(dsn, connect_timeout=CONNECT_TIMEOUT_S,
                      send_receive_timeout=RECEIVE_TIMEOUT_S)


#: how a query gets its connection; unit tests put a chDB stand-in here
connect: Callable[[str], Connection] = _connect

_lock = threading.Lock()
_broken_until = 0.0
_broken_detail = ""


def run_named(dsn: str, name: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run one named query on a fresh connection (one per call: a connection is not
    thread-safe, and Streamlit runs each browser session in its own thread)."""
    global _broken_until, _broken_detail
    with _lock:
        if time.monotonic() < _broken_until:
            raise DataUnavailable(_broken_detail)
    try:
        conn = connect(dsn)
        try:
            return queries.run(conn, name, **params)  # type: ignore[arg-type]
        finally:
            conn.close()
    except StoreError as exc:
        get_logger("dashboards").warning("ui.query_failed", query=name, error=str(exc))
        with _lock:
            _broken_until = time.monotonic() + BREAKER_S
            _broken_detail = str(exc)
        raise DataUnavailable(str(exc)) from None


def reset_breaker() -> None:
    global _broken_until
    with _lock:
        _broken_until = 0.0


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=512)
def _cached(dsn: str, name: str, items: tuple[tuple[str, Any], ...]) -> list[dict[str, Any]]:
    return run_named(dsn, name, dict(items))


def fetch(dsn: str, name: str, **params: Any) -> list[dict[str, Any]]:
    """A named query's rows, cached for ``CACHE_TTL_S``; DataUnavailable when the server
    cannot answer. Parameters are the query's own (pipeline/store/queries.py): pages
    never pass SQL, and a value typed by a user only ever travels as a parameter."""
    if name not in queries.QUERIES:
        raise KeyError(f"no named query {name!r}")
    items = tuple(sorted((k, _hashable(v)) for k, v in params.items()))
    return _cached(dsn, name, items)


def _hashable(value: Any) -> Any:
    if isinstance(value, list | set | frozenset):
        return tuple(sorted(value))
    return value


def bucket(now: datetime, seconds: int = int(CACHE_TTL_S)) -> datetime:
    """``now`` rounded down to a multiple of ``seconds`` within its hour (``seconds``
    divides 3600): a "now" parameter that changes every rerun would defeat the cache."""
    into_hour = now.minute * 60 + now.second
    return now.replace(microsecond=0) - timedelta(seconds=into_hour % seconds)
