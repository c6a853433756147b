"""Numbered SQL migrations: apply the pending ones in order, record each, refuse drift.

A migration is a file ``schema/NNN_name.sql`` holding one or more statements separated by
``;``. Applied migrations are rows of ``schema_migrations`` (name, checksum, applied_at).
Rules that keep this safe on a server we cannot roll back:

- a file's statements must be idempotent (``CREATE TABLE IF NOT EXISTS`` ...), because
  ClickHouse has no transactional DDL: a file that fails half way is re-run from its top;
- an applied file is never edited: a changed checksum stops the run, naming the file;
- a name recorded as applied but missing on disk also stops it (a downgrade).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.store.client import ClickHouse, StoreError, quote_ident

SCHEMA_DIR = Path(__file__).parent / "schema"
MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

# Created by the migrator itself, before any numbered file, because it records them.
SCHEMA_MIGRATIONS_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    name           String,
    checksum       String,
    applied_at     DateTime('Asia/Shanghai'),
    duration_ms    UInt32,
    server_version String
)
ENGINE = MergeTree
ORDER BY name
"""


class MigrationError(StoreError):
    """A migration file or the recorded history is not what it must be."""


@dataclass(frozen=True, slots=True)
class Migration:
    number: int
    name: str  # file name, e.g. "001_frames.sql"
    path: Path
    sql: str
    checksum: str  # sha256 of the file's bytes

    def statements(self) -> list[str]:
        return split_statements(self.sql)


@dataclass(frozen=True, slots=True)
class MigrationState:
    name: str
    status: str  # "applied", "pending", "changed", "missing"
    checksum: str
    applied_at: datetime | None


def load_migrations(folder: Path = SCHEMA_DIR) -> list[Migration]:
    """The migration files in order; bad names and duplicate numbers are errors."""
    found: list[Migration] = []
    numbers: dict[int, str] = {}
    for path in sorted(folder.glob("*.sql")):
        m = MIGRATION_NAME.match(path.name)
        if m is None:
            raise MigrationError(
                f"migration file {path} is misnamed; fix: name it NNN_lower_case_name.sql "
                "(three digits, e.g. 007_completeness.sql)"
            )
        number = int(m.group(1))
        if number in numbers:
            raise MigrationError(
                f"migrations {numbers[number]} and {path.name} share number {number:03d}; "
                "fix: renumber the newer one to the next free number"
            )
        numbers[number] = path.name
        data = path.read_bytes()
        found.append(Migration(number, path.name, path, data.decode("utf-8"),
                               hashlib.sha256(data).hexdigest()))
    return found


def split_statements(sql: str) -> list[str]:
    """Split SQL text on ``;`` outside quotes and comments; comments are dropped.

    The driver runs one statement per call, and a naive split would cut a string literal
    or a comment holding ``;``."""
    out: list[str] = []
    buf: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            continue
        if c == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise MigrationError("unterminated /* comment in migration SQL")
            i = end + 2
            buf.append(" ")
            continue
        if c in ("'", '"', "`"):
            j = i + 1
            while j < n and sql[j] != c:
                j += 2 if sql[j] == "\\" else 1
            if j >= n:
                raise MigrationError(f"unterminated {c} quote in migration SQL near "
                                     f"{sql[i:i + 40]!r}")
            buf.append(sql[i:j + 1])
            i = j + 1
            continue
        if c == ";":
            _flush(buf, out)
            i += 1
            continue
        buf.append(c)
        i += 1
    _flush(buf, out)
    return out


def _flush(buf: list[str], out: list[str]) -> None:
    text = "".join(buf).strip()
    buf.clear()
    if text:
        # collapse blank lines left by removed comments; keep the rest as written
        out.append("\n".join(line.rstrip() for line in text.splitlines() if line.strip()))


class Migrator:
    """Applies ``folder``'s migrations to the DSN's database, creating it if missing."""

    def __init__(self, dsn: str, folder: Path = SCHEMA_DIR) -> None:
        self.dsn = dsn
        self.folder = folder

    def _ensure_database(self) -> ClickHouse:
        bootstrap = ClickHouse(self.dsn, database="default")
        try:
            name = quote_ident(bootstrap.dsn.database)
            bootstrap.execute(f"CREATE DATABASE IF NOT EXISTS {name}")
        finally:
            bootstrap.close()
        ch = ClickHouse(self.dsn)
        ch.execute(SCHEMA_MIGRATIONS_DDL)
        return ch

    @staticmethod
    def _applied(ch: ClickHouse) -> dict[str, tuple[str, datetime]]:
        rows = ch.execute("SELECT name, checksum, applied_at FROM schema_migrations ORDER BY name")
        return {name: (checksum, applied_at) for name, checksum, applied_at in rows}

    def status(self) -> tuple[str, list[MigrationState]]:
        """Server version and each migration's state, without changing anything (the
        database is not created: a missing one reads as all pending)."""
        files = load_migrations(self.folder)
        with ClickHouse(self.dsn, database="default") as ch:
            version = ch.version()
            exists = ch.execute(
                "SELECT count() FROM system.tables WHERE database = %(db)s "
                "AND name = 'schema_migrations'", {"db": ch.dsn.database})[0][0]
        applied: dict[str, tuple[str, datetime]] = {}
        if exists:
            with ClickHouse(self.dsn) as ch:
                applied = self._applied(ch)
        return version, _states(files, applied)

    def migrate(self, progress: Callable[[str], None] | None = None) -> list[str]:
        """Apply pending migrations in order; the names applied (empty: nothing to do)."""
        say = progress or (lambda _msg: None)
        files = load_migrations(self.folder)
        ch = self._ensure_database()
        try:
            states = _states(files, self._applied(ch))
            _refuse_drift(states, self.folder)
            version = ch.version()
            done: list[str] = []
            for mig, state in zip(files, states[: len(files)], strict=True):
                if state.status == "applied":
                    continue
                say(f"applying {mig.name} ({len(mig.statements())} statements)")
                start = time.monotonic()
                for stmt in mig.statements():
                    if _column_already_added(ch, stmt):
                        continue  # a re-run after a failure half way through the file
                    try:
                        ch.execute(stmt)
                    except StoreError as exc:
                        raise MigrationError(
                            f"migration {mig.name} failed on ClickHouse {version} at "
                            f"{ch.server}: {exc}; fix the file (it is not recorded as "
                            "applied, and its statements must be safe to re-run)"
                        ) from exc
                ms = int((time.monotonic() - start) * 1000)
                # applied_at as epoch seconds: the driver then skips time-zone guessing
                ch.insert_columns("schema_migrations", {
                    "name": [mig.name], "checksum": [mig.checksum],
                    "applied_at": [int(time.time())], "duration_ms": [ms],
                    "server_version": [version],
                })
                done.append(mig.name)
            return done
        finally:
            ch.close()


_ADD_COLUMN = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+)\b", re.I)


def _column_already_added(ch: ClickHouse, stmt: str) -> bool:
    """Whether ``stmt`` adds a column that is already there. ClickHouse 18.16 has no
    ``ADD COLUMN IF NOT EXISTS``, and a migration must be safe to run again when it
    failed half way."""
    m = _ADD_COLUMN.match(stmt.strip())
    if m is None:
        return False
    rows = ch.execute("SELECT count() FROM system.columns WHERE database = currentDatabase() "
                      "AND table = %(t)s AND name = %(c)s", {"t": m.group(1), "c": m.group(2)})
    return bool(rows and rows[0][0])


def _states(files: list[Migration], applied: dict[str, tuple[str, datetime]]
            ) -> list[MigrationState]:
    out = []
    for mig in files:
        if mig.name not in applied:
            out.append(MigrationState(mig.name, "pending", mig.checksum, None))
            continue
        checksum, at = applied[mig.name]
        status = "applied" if checksum == mig.checksum else "changed"
        out.append(MigrationState(mig.name, status, checksum, at))
    names = {m.name for m in files}
    for name, (checksum, at) in sorted(applied.items()):
        if name not in names:
            out.append(MigrationState(name, "missing", checksum, at))
    return out


def _refuse_drift(states: list[MigrationState], folder: Path) -> None:
    for st in states:
        if st.status == "changed":
            raise MigrationError(
                f"migration {st.name} was applied on {st.applied_at} with checksum "
                f"{st.checksum[:12]}, but {folder / st.name} now differs; fix: restore the "
                "file as it was applied (git checkout) and put the change in a new numbered "
                "migration"
            )
        if st.status == "missing":
            raise MigrationError(
                f"migration {st.name} is recorded as applied but there is no such file in "
                f"{folder}; fix: run a checkout that has it (the database is newer than this "
                "code)"
            )


def iter_forbidden(sql: str) -> Iterator[str]:
    """Features ClickHouse 18.16 lacks, found in ``sql`` (comments ignored)."""
    text = " ".join(split_statements(sql))
    for word, pattern in FORBIDDEN.items():
        if re.search(pattern, text, flags=re.IGNORECASE):
            yield word


#: feature -> pattern; each is missing from 18.16 or behaves differently there
FORBIDDEN: dict[str, str] = {
    "TTL": r"\bTTL\b",
    "DateTime64": r"\bDateTime64\b",
    "LowCardinality": r"\bLowCardinality\b",
    "window functions (OVER)": r"\bOVER\s*\(",
    "CODEC": r"\bCODEC\s*\(",
    "Map type": r"\bMap\s*\(",
    "Bool type": r"\bBool\b",
    "JSON/Object type": r"\b(JSON|Object)\s*\(",
    "ALTER ... IF NOT EXISTS (19.x+)": r"\bCOLUMN\s+IF\s+NOT\s+EXISTS\b",
    "old MergeTree(date, key, granularity) form": r"MergeTree\s*\(\s*[A-Za-z_]\w*\s*,",
    "SETTINGS index_granularity_bytes": r"\bindex_granularity_bytes\b",
    "CREATE ... ON CLUSTER without a cluster": r"\bON\s+CLUSTER\s*$",
}
