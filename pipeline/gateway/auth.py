"""Who may send: the station directory the gateway authenticates MN and PW against.

The gateway looks every frame's MN up in memory (a dict), never in ClickHouse on the hot
path. ``CachedDirectory`` reloads the whole registry every ``registry_refresh`` seconds in
a worker thread and swaps the dict in one assignment; when a reload fails the previous
directory stays in force (a registry outage must not lock every logger out) and a warning
says so.

Sources: a stations CSV (``gateway.registry_csv``, the registry's own file format) or the
ClickHouse ``stations`` table of ``pipeline.registry``.
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


@dataclass(frozen=True, slots=True)
class StationEntry:
    """What the gateway needs of a registry row: the password, and how to talk to it."""

    mn: str
    pw: str
    st: str = "32"
    edition: int = 2017
    active: bool = True


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


def parse_stations_csv(text: str, name: str = "stations.csv") -> dict[str, StationEntry]:
    """The registry's stations CSV (header with mn, pw, st, edition, active columns)."""
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    missing = {"mn", "pw"} - fields
    if missing:
        raise ValueError(f"{name}: missing column(s) {', '.join(sorted(missing))}; a stations "
                         "CSV needs at least mn and pw (see pipeline/registry/data/stations.csv)")
    out: dict[str, StationEntry] = {}
    for line, row in enumerate(reader, start=2):
        cells = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        mn = cells.get("mn", "")
        if not mn:
            continue
        try:
            edition = int(cells.get("edition") or 2017)
        except ValueError:
            raise ValueError(f"{name}:{line}: edition={cells.get('edition')!r} is not 2005, "
                             "2017 or 2025") from None
        active = cells.get("active", "1").lower() not in ("0", "false", "no", "n", "否")
        out[mn] = StationEntry(mn=mn, pw=cells.get("pw", ""), st=cells.get("st") or "32",
                               edition=edition, active=active)
    return out


def csv_loader(path: Path) -> Loader:
    def load() -> dict[str, StationEntry]:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise OSError(f"HJ212_GATEWAY__REGISTRY_CSV={str(path)!r} cannot be read: {exc}; "
                          "fix: point it at the stations CSV") from exc
        for encoding in ("utf-8-sig", "gb18030"):  # Excel on Chinese Windows writes GB18030
            try:
                return parse_stations_csv(data.decode(encoding), str(path))
            except UnicodeDecodeError:
                continue
        raise ValueError(f"{path}: neither UTF-8 nor GB18030 text; save it as CSV UTF-8")
    return load


def clickhouse_loader(dsn: str) -> Loader:
    def load() -> dict[str, StationEntry]:
        from pipeline.registry.store import read_stations
        from pipeline.store.client import ClickHouse

        with ClickHouse(dsn) as ch:
            return {s.mn: StationEntry(mn=s.mn, pw=s.pw, st=s.st, edition=s.edition,
                                       active=s.active) for s in read_stations(ch)}
    return load
