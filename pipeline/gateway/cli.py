"""``hj212 gateway``: run the TCP gateway until SIGINT/SIGTERM, then stop gracefully.

``--processes N`` runs N gateway processes on one port (SO_REUSEPORT: the kernel spreads
new connections over them), for when one process's core is not enough. Each is a gateway
of its own: id ``<id>-p<i>``, spool ``<spool>/p<i>``, metrics port ``<metrics_port> + i``.
Each runs the downlink (commands to loggers): the process holding a logger's connection
sends its commands, and process 0 records those for loggers no process holds as offline
(the processes publish the MNs they hold in ``<spool>/live``: ``siblings.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from pathlib import Path

import click

from pipeline.cli_context import CliContext, pass_cli
from pipeline.config import Settings
from pipeline.gateway.siblings import Siblings


def run_gateway(settings: Settings, *, use_uvloop: bool = True, reuse_port: bool = False,
                siblings: Siblings | None = None) -> None:
    from pipeline.gateway.server import Gateway

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Gateway(settings, reuse_port=reuse_port, siblings=siblings).serve_forever(stop)

    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            use_uvloop = False
    if use_uvloop:
        uvloop.run(main())
    else:
        asyncio.run(main())


def process_settings(settings: Settings, index: int) -> Settings:
    """Settings of gateway process ``index`` of several on one port: its own id, spool
    folder and metrics port (two processes must never share a spool)."""
    import socket

    g = settings.gateway
    base_id = g.id or socket.gethostname()
    g = dataclasses.replace(g, id=f"{base_id}-p{index}",
                            metrics_port=g.metrics_port + index if g.metrics_port else 0)
    spool = dataclasses.replace(settings.spool, dir=str(Path(settings.spool_dir) / f"p{index}"))
    return dataclasses.replace(settings, gateway=g, spool=spool)


def run_gateways(settings: Settings, processes: int, *, use_uvloop: bool = True) -> int:
    """Run ``processes`` gateways on one port until SIGINT/SIGTERM; the exit status."""
    import multiprocessing

    if settings.gateway.port == 0:
        raise click.UsageError("--processes needs a fixed port (gateway.port is 0)")
    # fork: the settings are not picklable, and nothing runs yet here (no event loop, no
    # threads), so a fork copies only a configured interpreter
    mp = multiprocessing.get_context("fork")
    board = Path(settings.spool_dir) / "live"
    children = [mp.Process(target=run_gateway, args=(process_settings(settings, i),),
                           kwargs={"use_uvloop": use_uvloop, "reuse_port": True,
                                   "siblings": Siblings(board, i, processes)},
                           name=f"gateway-p{i}") for i in range(processes)]
    stopping = False

    def stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.is_alive() and child.pid is not None:
                child.terminate()  # SIGTERM: each stops gracefully

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for child in children:
        child.start()
    status = 0
    # one process ending on its own ends the others: the port must not silently lose
    # a share of its capacity
    from multiprocessing.connection import wait

    wait([c.sentinel for c in children])
    if not stopping:
        status = 1
        stop(signal.SIGTERM, None)
    for child in children:
        child.join()
        if child.exitcode not in (0, -signal.SIGTERM):
            status = 1
    return status


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default=None, help="Listen address (default: gateway.host).")
@click.option("--port", type=int, default=None, help="TCP port (default: gateway.port).")
@click.option("--registry-csv", default=None,
              help="Authenticate against this stations CSV instead of ClickHouse.")
@click.option("--no-uvloop", is_flag=True, help="Use the standard asyncio event loop.")
@click.option("--processes", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Gateway processes sharing the port (SO_REUSEPORT), each with its own "
                   "spool <spool>/p<i>, id <id>-p<i> and metrics port <metrics_port>+i.")
@pass_cli
def gateway(cli: CliContext, host: str | None, port: int | None, registry_csv: str | None,
            no_uvloop: bool, processes: int) -> None:
    """Run the HJ 212 gateway: loggers connect over TCP, get the standard's answers, and
    their frames go to Kafka (hj212.frames) through a disk spool. SIGINT/SIGTERM stop it
    gracefully (answers in flight are sent, Kafka gets up to gateway.drain_timeout s).

    Settings: `hj212 settings` (HJ212_GATEWAY__*, HJ212_SPOOL__*, HJ212_KAFKA__*).
    """
    settings = cli.settings
    g = settings.gateway
    g = dataclasses.replace(g, host=host if host is not None else g.host,
                            port=port if port is not None else g.port,
                            registry_csv=registry_csv if registry_csv is not None
                            else g.registry_csv)
    settings = dataclasses.replace(settings, gateway=g)
    if processes > 1:
        raise SystemExit(run_gateways(settings, processes, use_uvloop=not no_uvloop))
    run_gateway(settings, use_uvloop=not no_uvloop)
