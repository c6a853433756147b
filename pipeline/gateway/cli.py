"""``hj212 gateway``: run the TCP gateway until SIGINT/SIGTERM, then stop gracefully."""

from __future__ import annotations

import asyncio
import signal

import click

from pipeline.cli_context import CliContext, pass_cli
from pipeline.config import Settings


def run_gateway(settings: Settings, *, use_uvloop: bool = True) -> None:
    from pipeline.gateway.server import Gateway

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Gateway(settings).serve_forever(stop)

    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            use_uvloop = False
    if use_uvloop:
        uvloop.run(main())
    else:
        asyncio.run(main())


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default=None, help="Listen address (default: gateway.host).")
@click.option("--port", type=int, default=None, help="TCP port (default: gateway.port).")
@click.option("--registry-csv", default=None,
              help="Authenticate against this stations CSV instead of ClickHouse.")
@click.option("--no-uvloop", is_flag=True, help="Use the standard asyncio event loop.")
@pass_cli
def gateway(cli: CliContext, host: str | None, port: int | None, registry_csv: str | None,
            no_uvloop: bool) -> None:
    """Run the HJ 212 gateway: loggers connect over TCP, get the standard's answers, and
    their frames go to Kafka (hj212.frames) through a disk spool. SIGINT/SIGTERM stop it
    gracefully (answers in flight are sent, Kafka gets up to gateway.drain_timeout s).

    Settings: `hj212 settings` (HJ212_GATEWAY__*, HJ212_SPOOL__*, HJ212_KAFKA__*).
    """
    import dataclasses

    settings = cli.settings
    g = settings.gateway
    g = dataclasses.replace(g, host=host if host is not None else g.host,
                            port=port if port is not None else g.port,
                            registry_csv=registry_csv if registry_csv is not None
                            else g.registry_csv)
    settings = dataclasses.replace(settings, gateway=g)
    run_gateway(settings, use_uvloop=not no_uvloop)
