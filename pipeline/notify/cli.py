"""``hj212 notify``: the notification service (routing, grouping, escalation, silences)
on the alarms topic; ``--print`` sends nothing and prints what it would send."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import cast

import click

from pipeline.cli_context import CONTEXT, CliContext, pass_cli
from pipeline.notify.receivers import Secrets, Sender, check_secrets, load_secrets
from pipeline.notify.routing import SAMPLE, RoutingError, load_routing


@click.command("notify", context_settings=CONTEXT)
@click.option("--print", "print_only", is_flag=True,
              help="send nothing: print each message as the receiver would get it "
                   "(robot secrets are not needed)")
@click.option("--routes", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="routing file (default: the setting [notify] routes, else the sample "
                   f"{SAMPLE.name})")
@click.option("--from", "start_from", type=click.Choice(["recent", "latest", "earliest"]),
              default="recent", show_default=True,
              help="where a consumer group new to the alarms topic starts: the alarms of "
                   "the last [notify] catch_up_min minutes, the end, or the beginning (a "
                   "known group always resumes where it committed)")
@click.option("--check", is_flag=True,
              help="check the routing file and the secrets, print the receivers and exit")
@pass_cli
def notify(cli: CliContext, print_only: bool, routes: Path | None, start_from: str,
           check: bool) -> None:
    """Deliver alarm notifications from the alarms topic to WeCom and DingTalk group
    robots, webhooks and mail (企业微信/钉钉群机器人, webhook, 邮件).

    Routes by service region, severity, rule, station, enterprise and 365 service;
    groups per station or enterprise; repeats open alarms, tells when they clear,
    escalates unacknowledged ones, honours silences and quiet hours, keeps each robot
    within 20 messages a minute; every delivery is in the table notify_deliveries."""
    settings = cli.settings
    ns = settings.notify
    try:
        routing = load_routing(routes or ns.routes or None)
        secrets_path = Path(ns.secrets_file) if ns.secrets_file else (
            settings.run_dir / "notify-secrets.toml")
        secrets = (Secrets() if print_only
                   else load_secrets(secrets_path, ns.smtp_password))
        if not print_only:
            check_secrets(routing, secrets, str(secrets_path))
    except RoutingError as exc:
        raise click.ClickException(str(exc)) from None
    if check:
        for r in routing.receivers.values():
            limit = f"{r.per_minute}/min" if r.per_minute else "no limit"
            click.echo(f"{r.name:<24} {r.kind:<9} {limit:<9} {r.title}")
        click.echo(f"routing {routing.version or '(no version)'}: {len(routing.routes)} "
                   f"routes, {len(routing.receivers)} receivers; secrets ok")
        return
    from pipeline.notify.service import NotifyService, StartFrom

    sender = Sender(routing, secrets, ns, print_all=print_only, print_to=sys.stdout)
    service = NotifyService(settings, routing, sender, start_from=cast(StartFrom, start_from))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await service.run(stop)

    asyncio.run(main())
