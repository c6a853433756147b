"""Virtual loggers over real loopback TCP against a tiny platform double (an asyncio
server in the test that answers as hj212.answer says and can send requests)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta

import hj212

from pipeline.simulator.clock import SimClock
from pipeline.simulator.datalogger import make_loggers
from pipeline.simulator.faults import GroundTruth, assign, parse_script
from pipeline.simulator.fleet import Fleet, FleetOptions
from pipeline.simulator.stations import made_fleet

START = datetime(2024, 3, 1, 0, 0, 0)


class Platform:
    """The platform's side, as small as a test needs: answer, count, optionally ask."""

    def __init__(self, *, hang_up_first: bool = False) -> None:
        self.frames: list[hj212.Frame] = []
        self.errors: list[hj212.FrameError] = []
        self.writers: dict[str, asyncio.StreamWriter] = {}
        self.connections = 0
        self.hang_up_first = hang_up_first
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers.values():
            writer.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.hang_up_first and self.connections == 1:
            writer.close()
            return
        framer = hj212.Framer()
        while data := await reader.read(65536):
            for item in framer.feed(data):
                if isinstance(item, hj212.FrameError):
                    self.errors.append(item)
                    reply = hj212.answer_error(item)
                else:
                    self.frames.append(item)
                    if item.mn:
                        self.writers[item.mn] = writer
                    reply = hj212.answer(item)
                if reply:
                    writer.write(reply)
        writer.close()


def fleet_of(n: int, port: int, speed: float, faults: list[dict[str, object]] | None = None,
             truth: GroundTruth | None = None) -> Fleet:
    stations = made_fleet(n, 7, {2005: 0.2, 2017: 0.6, 2025: 0.2})
    assigned = assign(parse_script({"fault": faults or []}), stations, START, 7)
    loggers = make_loggers(stations, start=START, seed=7, faults=assigned, truth=truth)
    return Fleet(loggers, SimClock(START, speed),
                 FleetOptions(port=port, tick=0.02, stagger=0.05, backoff_min=0.05,
                              seed=7), truth=truth)


def test_a_fleet_uploads_and_every_upload_is_answered() -> None:
    async def main() -> tuple[Platform, Fleet]:
        platform = Platform()
        port = await platform.start()
        fleet = fleet_of(5, port, speed=1800)
        await fleet.run(until=START + timedelta(minutes=30))
        await platform.stop()
        return platform, fleet

    platform, fleet = asyncio.run(main())
    totals = fleet.totals()
    assert not platform.errors
    assert {f.mn for f in platform.frames} == {lg.mn for lg in fleet.loggers}
    by_cn = Counter(f.cn for f in platform.frames)
    assert by_cn["2081"] == 5 and by_cn["2011"] > 100 and by_cn["2051"] >= 5
    assert totals.frames_sent == len(platform.frames)
    assert totals.acked == totals.frames_sent and totals.unacked == 0
    assert totals.connects == 5


def test_a_history_request_is_answered_over_tcp() -> None:
    async def main() -> tuple[int, list[hj212.Frame]]:
        platform = Platform()
        port = await platform.start()
        fleet = fleet_of(1, port, speed=1800)
        lg = fleet.loggers[0]
        running = asyncio.create_task(fleet.run(until=START + timedelta(hours=1)))
        while lg.mn not in platform.writers:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)  # 15 simulated minutes: a few minute records exist
        before = len(platform.frames)
        request = hj212.request(2051, lg.mn, lg.pw, st=lg.st, edition=lg.edition,
                                qn="20240301001500123", BeginTime="20240301000000",
                                EndTime="20240301001000")
        platform.writers[lg.mn].write(request)
        await running
        await platform.stop()
        return lg.min_interval, platform.frames[before:]

    minutes, after = asyncio.run(main())
    answers = [(f.cn, f.cp) for f in after if f.qn == "20240301001500123"]
    assert answers == [("9011", {"QnRtn": "1"}), ("9012", {"ExeRtn": "1"})]
    # records stamped before the request went out can only be the replay
    replayed = [f.data_time for f in after if f.cn == "2051"
                and (f.data_time or "") <= "20240301001000"]
    expected = [f"{START + timedelta(minutes=m):%Y%m%d%H%M%S}"
                for m in range(0, 11, minutes)]
    assert replayed == expected


def test_loggers_reconnect_after_the_platform_hangs_up() -> None:
    async def main() -> Fleet:
        platform = Platform(hang_up_first=True)
        port = await platform.start()
        fleet = fleet_of(1, port, speed=1800)
        await fleet.run(until=START + timedelta(minutes=20))
        await platform.stop()
        return fleet

    fleet = asyncio.run(main())
    link = next(iter(fleet.links.values()))
    assert link.connects == 2 and link.dropped_by_peer == 1


def test_no_gateway_means_backoff_and_withheld_data_kept_for_back_fill() -> None:
    async def main() -> Fleet:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = int(server.sockets[0].getsockname()[1])
        server.close()
        await server.wait_closed()  # nothing listens on the port any more
        fleet = fleet_of(1, port, speed=3600)
        await fleet.run(until=START + timedelta(minutes=30))
        return fleet

    fleet = asyncio.run(main())
    totals = fleet.totals()
    assert totals.connects == 0 and totals.connect_failures >= 2
    assert totals.withheld > 0 and totals.frames_sent == 0
    lg = fleet.loggers[0]
    assert lg.records(2051, START, START + timedelta(minutes=30))


def test_a_disconnect_fault_closes_and_reopens_the_link() -> None:
    async def main() -> tuple[Fleet, GroundTruth]:
        platform = Platform()
        port = await platform.start()
        truth = GroundTruth()
        fleet = fleet_of(1, port, speed=3600, truth=truth,
                         faults=[{"kind": "disconnect", "start": "10m",
                                  "duration": "10m"}])
        await fleet.run(until=START + timedelta(minutes=40))
        await platform.stop()
        return fleet, truth

    fleet, truth = asyncio.run(main())
    link = next(iter(fleet.links.values()))
    assert link.fault_disconnects == 1 and link.connects == 2
    (line,) = truth.lines
    assert line["kind"] == "disconnect" and line["frames"] > 0
