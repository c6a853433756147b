"""``hj212 simulate``: a fleet of virtual data loggers talking to the gateway."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import click

from pipeline.cli_context import CONTEXT, CliContext, pass_cli
from pipeline.simulator.clock import SimClock, parse_span
from pipeline.simulator.datalogger import make_loggers
from pipeline.simulator.faults import FaultScriptError, GroundTruth, assign, load_script
from pipeline.simulator.fleet import Fleet, FleetOptions, FleetTotals
from pipeline.simulator.stations import REGISTRY_DIR, load_fleet, parse_editions
from pipeline.timebase import now_local


def _gateway(text: str | None, host: str, port: int) -> tuple[str, int]:
    if not text:
        return host, port
    name, _, number = text.rpartition(":")
    if not name or not number.isdigit() or not 0 < int(number) < 65536:
        raise click.BadParameter(f"{text!r}: give HOST:PORT, e.g. 127.0.0.1:9212",
                                 param_hint="--gateway")
    return name.strip("[]"), int(number)


def _start(text: str | None) -> datetime:
    if text:
        try:
            return datetime.fromisoformat(text).replace(tzinfo=None)
        except ValueError:
            raise click.BadParameter(f"{text!r}: give a local (CST) time like "
                                     "2024-03-01T08:00:00", param_hint="--start") from None
    # the standard's clock is China Standard Time; start on a whole minute so records
    # line up with the platform's expected cadence
    return now_local().replace(second=0, microsecond=0)


@click.command(context_settings=CONTEXT)
@click.option("--stations", type=click.IntRange(min=1), default=10, show_default=True,
              help="Number of loggers (the registry's first N, topped up from the seed).")
@click.option("--speed", type=click.FloatRange(min=0.001), default=60.0, show_default=True,
              help="Simulated seconds per wall second (1440: a day per minute).")
@click.option("--duration", default=None,
              help="Simulated time to run, e.g. 6h, 1d, 90m, 3600 (default: until Ctrl-C).")
@click.option("--start", default=None,
              help="Simulated start, local CST time (default: now, to the minute).")
@click.option("--faults", "faults_file", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), default=None, help="Fault script (TOML or JSON).")
@click.option("--truth", "truth_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Ground-truth JSON lines (default with --faults: "
              "<run_dir>/simulate/truth.jsonl).")
@click.option("--editions", default=None,
              help="Edition mix, e.g. 2005=0.1,2017=0.8,2025=0.1 (default: the registry's "
              "editions; 2005=0.1,2017=0.8,2025=0.1 for made-up stations).")
@click.option("--gateway", "gateway_addr", default=None,
              help="HOST:PORT of the gateway (default: the gateway.host/port settings).")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Seed of the stations, their values and the faults' picks.")
@click.option("--registry", type=click.Path(file_okay=False, path_type=Path),
              default=REGISTRY_DIR, show_default=True,
              help="Folder with the registry's stations.csv and limits.csv.")
@click.option("--no-registry", is_flag=True, help="Make every station from the seed.")
@click.option("--tick", type=click.FloatRange(min=0.005), default=0.1, show_default=True,
              help="Wall seconds between a logger's wake-ups.")
@click.option("--overtime", type=click.FloatRange(min=0.01), default=5.0, show_default=True,
              help="Wall seconds a logger waits for 9014 before resending (OverTime).")
@click.option("--recount", type=click.IntRange(min=0), default=3, show_default=True,
              help="Resends before a logger gives an upload up (ReCount).")
@click.option("--bare-2005", is_flag=True,
              help="2005 loggers send neither QN nor Flag (and expect no answer).")
@click.option("--stats", "stats_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write per-logger statistics (JSON) here at the end.")
@pass_cli
def simulate(cli: CliContext, stations: int, speed: float, duration: str | None,
             start: str | None, faults_file: Path | None, truth_file: Path | None,
             editions: str | None, gateway_addr: str | None, seed: int, registry: Path,
             no_registry: bool, tick: float, overtime: float, recount: int,
             bare_2005: bool, stats_file: Path | None) -> None:
    """Run a fleet of virtual data loggers against the gateway on an accelerated clock.

    Each logger sends 2011 every RtdInterval, 2051 every MinInterval, 2061 hourly and
    2031 daily in its edition, resends unanswered uploads, keeps its history and answers
    the platform's requests (history back-fill, time, intervals, password) as appendix C
    shows. A fault script injects drop-outs, bad values, flags, bad frames and
    disconnects, and the ground truth of what was injected goes to --truth.
    """
    settings = cli.settings
    host, port = _gateway(gateway_addr, settings.gateway.host, settings.gateway.port)
    try:
        mix = parse_editions(editions) if editions else None
        span = parse_span(duration) if duration else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    sim_start = _start(start)
    fleet_spec = load_fleet(stations, seed, mix or ({2005: 0.1, 2017: 0.8, 2025: 0.1}
                                                    if no_registry else None),
                            registry=None if no_registry else registry)
    fleet_spec = fleet_spec[:stations]
    specs = []
    if faults_file is not None:
        try:
            specs = load_script(faults_file)
        except FaultScriptError as exc:
            raise click.ClickException(str(exc)) from None
        if truth_file is None:
            truth_file = settings.run_dir / "simulate" / "truth.jsonl"
    truth = GroundTruth(truth_file) if truth_file is not None else None
    assigned = assign(specs, fleet_spec, sim_start, seed)
    loggers = make_loggers(fleet_spec, start=sim_start, seed=seed, faults=assigned,
                           truth=truth, overtime=overtime, recount=recount,
                           bare_2005=bare_2005)
    clock = SimClock(sim_start, speed)
    until = sim_start + timedelta(seconds=span) if span is not None else None
    fleet = Fleet(loggers, clock, FleetOptions(host=host, port=port, tick=tick, seed=seed),
                  truth=truth)
    faulted = sum(1 for v in assigned.values() if v)
    wall = f"{span / speed:.0f} s" if span is not None else "until Ctrl-C"
    click.echo(f"simulate: {len(loggers)} loggers -> {host}:{port}, from "
               f"{sim_start:%Y-%m-%d %H:%M} at {speed:g}x ({wall}); {len(specs)} faults on "
               f"{faulted} stations"
               + (f", truth -> {truth_file}" if truth_file else ""), err=True)
    began = time.monotonic()
    worst_lag = [0.0]
    totals = asyncio.run(_run(fleet, until, worst_lag))
    elapsed = time.monotonic() - began
    summary = totals.as_dict()
    # how far the slowest logger fell behind the clock: above a few RtdIntervals, this
    # process is too small for the fleet at this speed (fewer stations, or less speed)
    summary["max_lag_s"] = round(worst_lag[0], 1)
    summary["wall_seconds"] = round(elapsed, 2)
    summary["frames_per_s"] = round(totals.frames_sent / elapsed, 1) if elapsed else 0.0
    summary["sim_end"] = (until or clock.now()).isoformat(timespec="seconds")
    click.echo(json.dumps(summary, ensure_ascii=False))
    if stats_file is not None:
        per = {lg.mn: {**lg.stats.as_dict(), "link": _link(fleet, lg.mn)} for lg in loggers}
        stats_file.parent.mkdir(parents=True, exist_ok=True)
        stats_file.write_text(json.dumps(per, ensure_ascii=False, indent=1))


def _link(fleet: Fleet, mn: str) -> dict[str, object]:
    link = fleet.links[mn]
    return {"connects": link.connects, "connect_failures": link.connect_failures,
            "dropped_by_peer": link.dropped_by_peer,
            "fault_disconnects": link.fault_disconnects, "frames_in": link.frames_in}


async def _run(fleet: Fleet, until: datetime | None, worst_lag: list[float]) -> FleetTotals:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, fleet.stop)
    last = {"t": time.monotonic(), "n": 0}
    tty = sys.stderr.isatty()

    def progress(f: Fleet) -> None:
        t = f.totals()
        now = time.monotonic()
        rate = (t.frames_sent - last["n"]) / max(now - last["t"], 1e-6)
        last.update(t=now, n=t.frames_sent)
        lag = f.lag(until)
        worst_lag[0] = max(worst_lag[0], lag)
        line = (f"sim {f.clock.now():%m-%d %H:%M:%S} | lag {lag:,.0f} s | "
                f"online {t.online}/{t.loggers} | "
                f"sent {t.frames_sent:,} ({rate:,.0f}/s) | acked {t.acked:,} | "
                f"resent {t.resent:,} | unacked {t.unacked:,} | withheld {t.withheld:,} | "
                f"requests {t.requests:,} | conn fail {t.connect_failures:,}")
        click.echo(("\r" + line) if tty else line, err=True, nl=not tty)

    try:
        return await fleet.run(until, progress=progress)
    finally:
        if tty:
            click.echo("", err=True)
