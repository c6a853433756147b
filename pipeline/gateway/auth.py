"""Who may send: the station directory the gateway authenticates MN and PW against.

The gateway looks every frame's MN up in memory (a dict), never in ClickHouse on the hot
path. ``CachedDirectory`` reloads the whole registry every ``registry_refresh`` seconds in
a worker thread and swaps the dict in one assignment; when a reload fails the previous
directory stays in force (a registry outage must not lock every logger out) and a warning
says so.

Sources: a stations CSV (``gateway.registry_csv``) or the ClickHouse ``stations`` table,
both read by ``pipeline.registry`` with its checks, so the gateway and ``hj212 stations
import`` agree on every value (a bad row is refused with the file, line, column and value).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline.logs import get_logger
from pipeline.registry import csv_io
from pipeline.registry.model import Station


@dataclass(frozen=True, slots=True)
class StationEntry:
    """What the gateway needs of a registry row: the password, how to talk to it, and
    which CRC variants it may use."""

    mn: str
    pw: str
    st: str = "32"
    edition: int = 2017
    active: bool = True
    crc_variants: tuple[str, ...] = ()

    @classmethod
    def of(cls, station: Station) -> StationEntry:
        return cls(mn=station.mn, pw=station.pw, st=station.st, edition=station.edition,
                   active=station.active, crc_variants=station.crc_variants)


class StationDirectory(Protocol):
    def lookup(self, mn: str) -> StationEntry | None: ...


class StaticDirectory:
    """A fixed directory (tests, benchmarks)."""

    def __init__(self, entries: Iterable[StationEntry]) -> None:
        self._by_mn = {e.mn: e for e in entries}

    def lookup(self, mn: str) -> StationEntry | None:
        return self._by_mn.get(mn)

    def __len__(self) -> int:
        return len(self._by_mn)


Loader = Callable[[], Mapping[str, StationEntry]]


class CachedDirectory:
    """A directory loaded by ``loader`` and refreshed in the background."""

    def __init__(self, loader: Loader, *, refresh_s: float, source: str) -> None:
        self._loader = loader
        self._refresh_s = refresh_s
        self._by_mn: Mapping[str, StationEntry] = {}
        self._task: asyncio.Task[None] | None = None
        self.source = source
        self.loaded_at = 0.0
        self._log = get_logger("gateway.auth", source=source)

    def lookup(self, mn: str) -> StationEntry | None:
        return self._by_mn.get(mn)

    def __len__(self) -> int:
        return len(self._by_mn)

    async def load(self) -> None:
        """First load; raises when the registry cannot be read at all."""
        self._by_mn = await asyncio.get_running_loop().run_in_executor(None, self._loader)
        self.loaded_at = time.time()
        self._log.info("registry.loaded", stations=len(self._by_mn))
        if not self._by_mn:
            self._log.warning("registry.empty", why="every frame will be treated as from an "
                              "unknown MN", fix="import stations (`hj212 stations import`) or "
                              "set HJ212_GATEWAY__REGISTRY_CSV")

    def start(self) -> None:
        self._task = asyncio.create_task(self._refresh_loop(), name="registry-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _refresh_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                fresh = await loop.run_in_executor(None, self._loader)
            except Exception as exc:  # the old directory stays; say why, keep trying
                self._log.warning("registry.refresh_failed", error=str(exc),
                                  age_s=round(time.time() - self.loaded_at),
                                  why="keeping the last directory loaded")
                continue
            if len(fresh) != len(self._by_mn):
                self._log.info("registry.refreshed", stations=len(fresh),
                               before=len(self._by_mn))
            self._by_mn = fresh
            self.loaded_at = time.time()


def csv_loader(path: Path) -> Loader:
    """The stations CSV at ``path``, read by the registry (``pipeline.registry.csv_io``):
    the same columns, checks and encodings as ``hj212 stations import``."""
    def load() -> dict[str, StationEntry]:
        name = str(path)
        try:
            text = csv_io.decode(path.read_bytes(), name)
            header = next(csv.reader(io.StringIO(text)), [])
            if "code" in (h.strip().lower() for h in header):
                raise ValueError(f"HJ212_GATEWAY__REGISTRY_CSV={name!r} is a limits file; fix: "
                                 "point it at the stations CSV (columns "
                                 f"{','.join(csv_io.STATION_COLUMNS)})")
            registry = csv_io.read_texts([(name, text)])
        except OSError as exc:
            raise OSError(f"HJ212_GATEWAY__REGISTRY_CSV={name!r} cannot be read: {exc}; "
                          "fix: point it at the stations CSV") from exc
        except csv_io.CsvImportError as exc:
            problems = "\n".join(f"  {e}" for e in exc.errors)
            raise ValueError(
                f"HJ212_GATEWAY__REGISTRY_CSV={name!r}: {len(exc.errors)} error(s), so the "
                "gateway uses none of the file; fix these lines (`hj212 stations import "
                f"--dry-run {name}` checks the file):\n{problems}") from None
        return {s.mn: StationEntry.of(s) for s in registry.stations}
    return load


def clickhouse_loader(dsn: str) -> Loader:
    def load() -> dict[str, StationEntry]:
        from pipeline.registry.store import read_stations
        from pipeline.store.client import ClickHouse

        with ClickHouse(dsn) as ch:
            return {s.mn: StationEntry.of(s) for s in read_stations(ch)}
    return load
