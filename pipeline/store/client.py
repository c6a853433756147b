"""A thin wrapper over clickhouse-driver, built from the platform's DSN.

Why a wrapper: every caller (migrations, sinks, registry, dashboards) needs the same three
things the driver leaves to each caller: the DSN parsed the way the settings document it,
timeouts that fail fast instead of hanging a worker, and errors that name the server and
say what to do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from clickhouse_driver import Client  # type: ignore[import-untyped,unused-ignore]
from clickhouse_driver import errors as ch_errors  # type: ignore[import-untyped,unused-ignore]

#: ClickHouse error codes this module turns into specific advice
UNKNOWN_DATABASE = 81
UNKNOWN_TABLE = 60
AUTHENTICATION_FAILED = 516
REQUIRED_PASSWORD = 194

# The driver logs every failed connect with a traceback; StoreError already says what
# failed and what to do, so its own warnings are noise on a terminal.
logging.getLogger("clickhouse_driver").setLevel(logging.ERROR)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class StoreError(RuntimeError):
    """ClickHouse could not do what was asked; the message names the server and the fix."""


@dataclass(frozen=True, slots=True)
class Dsn:
    """The parts of ``clickhouse://user:password@host:port/database``."""

    host: str
    port: int
    user: str
    password: str
    database: str
    secure: bool = False

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    def __str__(self) -> str:
        # never print the password
        scheme = "clickhouses" if self.secure else "clickhouse"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.database}"


def parse_dsn(dsn: str) -> Dsn:
    """Parse a native-protocol DSN; an HTTP DSN is refused with the fix, as the driver
    speaks only the native protocol."""
    parts = urlsplit(dsn)
    if parts.scheme in ("http", "https"):
        raise StoreError(
            f"ClickHouse DSN {dsn!r} uses HTTP, but the store speaks ClickHouse's native "
            "protocol; fix: set HJ212_CLICKHOUSE__DSN=clickhouse://user:password@host:9000/hj212"
        )
    if parts.scheme not in ("clickhouse", "clickhouses"):
        raise StoreError(
            f"ClickHouse DSN {dsn!r}: scheme {parts.scheme!r} is not clickhouse://; fix: "
            "set HJ212_CLICKHOUSE__DSN=clickhouse://user:password@host:9000/hj212"
        )
    database = parts.path.lstrip("/") or "default"
    if not _IDENT.match(database):
        raise StoreError(
            f"ClickHouse DSN {dsn!r}: database name {database!r} is not a plain identifier; "
            "fix: use letters, digits and underscores, e.g. /hj212"
        )
    secure = parts.scheme == "clickhouses"
    return Dsn(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (9440 if secure else 9000),
        user=unquote(parts.username or "default"),
        password=unquote(parts.password or ""),
        database=database,
        secure=secure,
    )


def quote_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise StoreError(f"{name!r} is not a plain identifier (letters, digits, underscore)")
    return f"`{name}`"


class ClickHouse:
    """One connection to ClickHouse. Not thread-safe: give each thread or task its own.

    ``database=None`` connects to the DSN's database; pass ``"default"`` to connect before
    that database exists (migrations create it).
    """

    def __init__(self, dsn: str | Dsn, *, database: str | None = None,
                 connect_timeout: float = 5.0, send_receive_timeout: float = 120.0,
                 settings: Mapping[str, Any] | None = None) -> None:
        self.dsn = dsn if isinstance(dsn, Dsn) else parse_dsn(dsn)
        self.database = database or self.dsn.database
        self._client = Client(
            host=self.dsn.host, port=self.dsn.port, user=self.dsn.user,
            password=self.dsn.password, database=self.database, secure=self.dsn.secure,
            connect_timeout=connect_timeout, send_receive_timeout=send_receive_timeout,
            sync_request_timeout=connect_timeout,
            settings=dict(settings or {}),
        )
        self._version: tuple[int, ...] | None = None

    @property
    def server(self) -> str:
        return self.dsn.server

    def __enter__(self) -> ClickHouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.disconnect()

    # --- running SQL -----------------------------------------------------------------

    def execute(self, sql: str, params: Mapping[str, Any] | None = None, *,
                settings: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement; rows as tuples. ``params`` use the driver's %(name)s form."""
        try:
            result = self._client.execute(sql, params, settings=dict(settings or {}))
        except Exception as exc:  # the driver raises many unrelated types; translate all
            raise self._translate(exc, sql) from exc
        return list(result) if isinstance(result, list) else []

    def query_dicts(self, sql: str, params: Mapping[str, Any] | None = None
                    ) -> list[dict[str, Any]]:
        """Run a SELECT; each row as a dict keyed by column name."""
        try:
            rows, columns = self._client.execute(sql, params, with_column_types=True)
        except Exception as exc:
            raise self._translate(exc, sql) from exc
        names = [name for name, _ in columns]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def insert_columns(self, table: str, columns: Mapping[str, Sequence[Any]] | Mapping[str, Any],
                       *,
                       numpy: bool = False) -> int:
        """Insert one block given column by column (the driver's fastest path).

        Values must already have the column's Python type: int for DateTime (epoch
        seconds, which skips the driver's per-row time-zone work), float for Float64,
        str or bytes for String, None for a NULL of a Nullable column. With ``numpy=True``
        every column is a NumPy array (integers for DateTime, ``S`` arrays for String,
        no Nullable columns) and is written with no Python object per value."""
        if not columns:
            return 0
        names = list(columns)
        n = len(columns[names[0]])
        for name in names:
            if len(columns[name]) != n:
                raise StoreError(
                    f"insert into {table}: column {name} has {len(columns[name])} values, "
                    f"{names[0]} has {n}; fix: the caller must pass equal-length columns"
                )
        if n == 0:
            return 0
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES"
        data: list[Any] = []
        for name in names:
            col = columns[name]
            data.append(col if numpy or isinstance(col, list) else list(col))
        try:
            self._client.execute(sql, data, columnar=True,
                                 settings={"use_numpy": True} if numpy else None)
        except Exception as exc:
            raise self._translate(exc, sql) from exc
        return n

    # --- server facts ----------------------------------------------------------------

    def version(self) -> str:
        return str(self.execute("SELECT version()")[0][0])

    def version_tuple(self) -> tuple[int, ...]:
        if self._version is None:
            self._version = tuple(int(p) for p in re.findall(r"\d+", self.version())[:3])
        return self._version

    def table_exists(self, table: str) -> bool:
        rows = self.execute(
            "SELECT count() FROM system.tables WHERE database = %(db)s AND name = %(t)s",
            {"db": self.database, "t": table},
        )
        return bool(rows[0][0])

    # --- errors ----------------------------------------------------------------------

    def _translate(self, exc: Exception, sql: str) -> StoreError:
        where = f"ClickHouse at {self.dsn}"
        head = " ".join(sql.split())[:120]
        if isinstance(exc, ch_errors.NetworkError | ch_errors.SocketTimeoutError
                      | ConnectionError | OSError | EOFError):
            return StoreError(
                f"{where} did not answer ({type(exc).__name__}: {exc}); fix: start it with "
                "`hj212 stack up`, or point HJ212_CLICKHOUSE__DSN at a running server"
            )
        if isinstance(exc, ch_errors.ServerException):
            code = exc.code
            first = str(exc.message).strip().splitlines()[0] if exc.message else str(exc)
            if code == UNKNOWN_DATABASE:
                return StoreError(
                    f"{where}: database {self.database!r} does not exist; fix: run "
                    "`hj212 db migrate`"
                )
            if code == UNKNOWN_TABLE:
                return StoreError(f"{where}: {first}; fix: run `hj212 db migrate`")
            if code in (AUTHENTICATION_FAILED, REQUIRED_PASSWORD):
                return StoreError(
                    f"{where}: user {self.dsn.user!r} was refused ({first}); fix: put the "
                    "right user and password in HJ212_CLICKHOUSE__DSN"
                )
            return StoreError(f"{where} refused `{head}`: code {code}: {first}")
        return StoreError(f"{where} failed on `{head}`: {type(exc).__name__}: {exc}")


def connect(dsn: str, **kwargs: Any) -> ClickHouse:
    """A connection to the DSN's database."""
    return ClickHouse(dsn, **kwargs)
