"""The store's SQL on chDB (ClickHouse's current engine, embedded, from PyPI): an object
with the methods of ``pipeline.store.client.ClickHouse`` that the named queries, the
completeness refresh and the tests call, so the same SQL text runs on 26.x in a unit test.

What it does as clickhouse-driver does: ``%(name)s`` parameters are substituted on the
client side with the driver's own escaping (``clickhouse_driver.util.escape``), and only
when parameters are given; values come back as the driver's Python types (``DateTime``
with a zone: an aware datetime in that zone; ``Nullable``: None; Float64 NaN and
infinities as floats). Rows travel as TabSeparatedWithNamesAndTypes, which carries
every type name, so a column of a type not handled here fails instead of being guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import chdb  # type: ignore[import-untyped,unused-ignore]
import pytz  # type: ignore[import-untyped,unused-ignore]  # clickhouse-driver's own
from chdb import session as chdb_session  # type: ignore[import-untyped,unused-ignore]
from clickhouse_driver.util.escape import (  # type: ignore[import-untyped,unused-ignore]
    escape_param,
    escape_params,
)

_TSV_ESCAPES = {"b": "\b", "f": "\f", "r": "\r", "n": "\n", "t": "\t", "0": "\0",
                "a": "\a", "v": "\v", "\\": "\\", "'": "'", '"': '"'}
_INT = re.compile(r"^U?Int(8|16|32|64|128|256)$")


class ChdbError(RuntimeError):
    """chDB refused a statement; the message names the statement."""


class _ServerInfo:
    def __init__(self, tz: str) -> None:
        self._tz = tz

    def get_timezone(self) -> str:
        return self._tz


class _Context:
    """What the driver's escaping reads from a connection: the server's time zone."""

    def __init__(self, tz: str) -> None:
        self.server_info = _ServerInfo(tz)


class ChdbClickHouse:
    """One chDB session working in its own database (created here)."""

    def __init__(self, database: str = "hj212") -> None:
        self._session = chdb_session.Session()
        self.database = database
        self._raw(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        self._raw(f"USE `{database}`")
        self._context = _Context(self.execute("SELECT timezone()")[0][0])

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> ChdbClickHouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- as pipeline.store.client.ClickHouse -----------------------------------------

    def execute(self, sql: str, params: Mapping[str, Any] | None = None, *,
                settings: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        if settings:
            raise NotImplementedError("per-query settings are not passed to chDB here")
        _names, rows = self._query(sql, params)
        return rows

    def query_dicts(self, sql: str, params: Mapping[str, Any] | None = None
                    ) -> list[dict[str, Any]]:
        names, rows = self._query(sql, params)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def insert_columns(self, table: str, columns: Mapping[str, Sequence[Any]], *,
                       numpy: bool = False) -> int:
        """Columns as the driver takes them (int epoch seconds for DateTime), sent as
        ``INSERT ... VALUES`` text."""
        names = list(columns)
        if not names:
            return 0
        n = len(columns[names[0]])
        if any(len(columns[c]) != n for c in names):
            raise ValueError(f"insert into {table}: columns of unequal length")
        if n == 0:
            return 0
        rows = []
        for i in range(n):
            rows.append("(" + ", ".join(_value(columns[c][i]) for c in names) + ")")
        self._raw(f"INSERT INTO {table} ({', '.join(names)}) VALUES " + ", ".join(rows))
        return n

    def version(self) -> str:
        return str(self.execute("SELECT version()")[0][0])

    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", self.version())[:3])

    def table_exists(self, table: str) -> bool:
        rows = self.execute(
            "SELECT count() FROM system.tables WHERE database = %(db)s AND name = %(t)s",
            {"db": self.database, "t": table})
        return bool(rows[0][0])

    # --- plumbing --------------------------------------------------------------------

    def _query(self, sql: str, params: Mapping[str, Any] | None
               ) -> tuple[list[str], list[tuple[Any, ...]]]:
        if params is not None:
            # what Client.substitute_params does (client-side parameters)
            sql = sql % escape_params(dict(params), self._context)
        return _parse_tsv(self._raw(sql, "TabSeparatedWithNamesAndTypes"))

    def _raw(self, sql: str, fmt: str = "TabSeparated") -> str:
        try:
            result = self._session.query(sql, fmt)
        except Exception as exc:  # chDB raises its own error types
            head = " ".join(sql.split())[:160]
            raise ChdbError(f"chDB {chdb.engine_version} refused `{head}`: {exc}") from exc
        return result.data() if result is not None else ""


def _value(item: Any) -> str:
    if hasattr(item, "item"):  # a NumPy scalar
        item = item.item()
    if isinstance(item, float):
        return repr(item)  # nan, inf, -inf and exact decimals are all ClickHouse literals
    return str(escape_param(item, None))


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(_TSV_ESCAPES.get(text[i + 1], "\\" + text[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _parse_tsv(text: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    if not text:
        return [], []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    names = [_unescape(v) for v in lines[0].split("\t")]
    types = [_unescape(v) for v in lines[1].split("\t")]
    convert = [_converter(t) for t in types]
    rows = [tuple(f(v) for f, v in zip(convert, line.split("\t"), strict=True))
            for line in lines[2:]]
    return names, rows


def _converter(type_name: str) -> Any:
    m = re.fullmatch(r"Nullable\((.*)\)", type_name)
    if m:
        inner = _converter(m.group(1))
        return lambda v: None if v == "\\N" else inner(v)
    if type_name == "String":
        return _unescape
    if _INT.match(type_name):
        return int
    if type_name in ("Float32", "Float64"):
        return float  # float() reads nan, inf and -inf as ClickHouse writes them
    m = re.fullmatch(r"DateTime(?:\('([^']*)'\))?", type_name)
    if m:
        # the text is on the column's clock (else the server's); the driver gives a
        # column with a zone as aware datetimes in that zone, and naive ones otherwise
        zone = pytz.timezone(m.group(1)) if m.group(1) else None
        if zone is None:
            return lambda v: datetime.strptime(v, "%Y-%m-%d %H:%M:%S")
        return lambda v: zone.localize(datetime.strptime(v, "%Y-%m-%d %H:%M:%S"))
    if type_name == "Date":
        return lambda v: date.fromisoformat(v)
    if type_name == "Bool":
        return lambda v: v == "true"
    m = re.fullmatch(r"Array\((.*)\)", type_name)
    if m:
        element = m.group(1)
        if element == "String":
            return _string_array
        inner = _converter(element)
        return lambda v: [inner(x) for x in v[1:-1].split(",")] if v != "[]" else []
    raise TypeError(f"chDB returned a column of type {type_name}, which "
                    "tests/unit/chdb_client.py does not convert; add it there")


def _string_array(text: str) -> list[str]:
    """An Array(String) as TabSeparated writes it: ['a','b\\'c'], each element quoted,
    with backslash escapes inside the quotes (on top of the tab format's own)."""
    out: list[str] = []
    i = 1  # past '['
    while i < len(text) - 1:
        if text[i] == "'":
            j, chars = i + 1, []
            while text[j] != "'":
                if text[j] == "\\":
                    j += 1
                    chars.append(_ESCAPES.get(text[j], text[j]))
                else:
                    chars.append(text[j])
                j += 1
            out.append("".join(chars))
            i = j + 1
        else:
            i += 1  # a comma between elements
    return out


_ESCAPES = {"n": "\n", "t": "\t", "0": "\0", "b": "\b", "f": "\f", "r": "\r"}


def migrate(ch: ChdbClickHouse) -> None:
    """What Migrator.migrate runs, statement by statement, in file order."""
    from pipeline.store.migrate import SCHEMA_MIGRATIONS_DDL, load_migrations

    ch.execute(SCHEMA_MIGRATIONS_DDL)
    for mig in load_migrations():
        for stmt in mig.statements():
            ch.execute(stmt)
