"""Sending a notification: WeCom and DingTalk group robots, JSON webhooks, mail over SMTP,
and a print receiver (``hj212 notify --print``). The I/O of the notifier; what a reply
means is retry.py's, what a message says is render.py's.

Secrets (robot keys, DingTalk access tokens and signing secrets, webhook bearer tokens,
the SMTP password) come from the secrets file and the settings; they are never logged:
every error text passes through ``Secrets.redact`` before it reaches a log line or the
delivery log, and a robot's URL (which holds its key) is never shown.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import smtplib
import sys
import time
import tomllib
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Final, TextIO
from urllib.parse import quote, quote_plus

import httpx

from pipeline.config import NotifySettings
from pipeline.notify import render
from pipeline.notify.model import Notification, Receiver
from pipeline.notify.retry import Outcome, classify_http, classify_robot
from pipeline.notify.routing import Routing, RoutingError

WECOM_URL: Final = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
DINGTALK_URL: Final = "https://oapi.dingtalk.com/robot/send"
#: what each kind needs from the secrets file ([<receiver>] ...)
NEEDS: Final = {"wecom": ("key",), "dingtalk": ("access_token", "secret")}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签: base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>")), before the
    URL encoding."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def dingtalk_url(base: str, access_token: str, secret: str, timestamp_ms: int) -> str:
    return (f"{base}?access_token={quote(access_token, safe='')}&timestamp={timestamp_ms}"
            f"&sign={quote_plus(dingtalk_sign(secret, timestamp_ms))}")


class Secrets:
    """The secrets file: ``[<receiver name>]`` tables of strings."""

    def __init__(self, data: Mapping[str, Mapping[str, str]] | None = None,
                 extra: tuple[str, ...] = ()) -> None:
        self.data = {k: dict(v) for k, v in (data or {}).items()}
        self._values = sorted({v for t in self.data.values() for v in t.values() if v}
                              | {v for v in extra if v}, key=len, reverse=True)

    def get(self, receiver: str, name: str) -> str:
        return str(self.data.get(receiver, {}).get(name, ""))

    def redact(self, text: str) -> str:
        for v in self._values:
            text = text.replace(v, "***")
        return text

    def __repr__(self) -> str:  # never the values
        return f"Secrets(receivers={sorted(self.data)})"


def load_secrets(path: str | Path, smtp_password: str = "") -> Secrets:
    """The secrets file at ``path``; a missing file is no secrets (checked per receiver
    by ``check_secrets``)."""
    p = Path(path)
    if not p.exists():
        return Secrets(extra=(smtp_password,))
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        # the parser's message quotes the offending line, which may hold a secret
        raise RoutingError(f"secrets file {str(p)!r} cannot be read as TOML "
                           f"({type(exc).__name__}); fix: [<receiver>] tables of "
                           "key = \"...\" lines") from None
    bad = [k for k, v in data.items() if not isinstance(v, dict)]
    if bad:
        raise RoutingError(f"secrets file {str(p)!r}: {bad[0]!r} is not a table; fix: "
                           f"[{bad[0]}] with key = \"...\" under it")
    return Secrets({k: {n: str(x) for n, x in v.items()} for k, v in data.items()},
                   extra=(smtp_password,))


def check_secrets(routing: Routing, secrets: Secrets, where: str) -> None:
    """Every robot receiver has its secrets, or an error naming the receiver and fix."""
    for r in routing.receivers.values():
        for need in NEEDS.get(r.kind, ()):
            if not secrets.get(r.name, need):
                raise RoutingError(
                    f"receiver {r.name!r} ({r.kind}) has no {need} in the secrets file "
                    f"{where!r}; fix: add [{r.name}] {need} = \"...\" there (from the "
                    "robot's settings in the group), or run `hj212 notify --print`")


class Sender:
    """One per service: a pooled HTTP client, the SMTP settings, the secrets."""

    def __init__(self, routing: Routing, secrets: Secrets, settings: NotifySettings, *,
                 print_to: TextIO | None = None, print_all: bool = False) -> None:
        self.routing = routing
        self.secrets = secrets
        self.settings = settings
        self.print_to = print_to or sys.stdout
        self.print_all = print_all
        self.client = httpx.AsyncClient(timeout=routing.delivery.timeout_s)

    async def close(self) -> None:
        await self.client.aclose()

    async def send(self, receiver: Receiver, n: Notification) -> Outcome:
        try:
            if self.print_all or receiver.kind == "print":
                return self._print(receiver, n)
            if receiver.kind == "wecom":
                url = f"{receiver.url or WECOM_URL}?key=" + quote(
                    self.secrets.get(receiver.name, "key"), safe="")
                return await self._robot(url, render.wecom_body(n, receiver))
            if receiver.kind == "dingtalk":
                url = dingtalk_url(receiver.url or DINGTALK_URL,
                                   self.secrets.get(receiver.name, "access_token"),
                                   self.secrets.get(receiver.name, "secret"),
                                   int(time.time() * 1000))
                return await self._robot(url, render.dingtalk_body(n, receiver))
            if receiver.kind == "webhook":
                return await self._webhook(receiver, n)
            if receiver.kind == "mail":
                return await asyncio.to_thread(self._mail, receiver, n)
        except httpx.HTTPError as exc:
            # connect/read errors and timeouts: the network, worth another try
            return Outcome(ok=False, retry=True,
                           error=self.secrets.redact(f"{type(exc).__name__}: {exc}")[:300])
        return Outcome(ok=False, error=f"receiver kind {receiver.kind!r} unknown")

    async def _robot(self, url: str, body: dict[str, Any]) -> Outcome:
        r = await self.client.post(url, json=body)
        if r.status_code != 200:
            out = classify_http(r.status_code, r.text)
        else:
            try:
                answer = r.json()
                out = classify_robot(int(answer.get("errcode", -1)),
                                     str(answer.get("errmsg", "")))
            except (ValueError, AttributeError, TypeError):
                out = Outcome(ok=False, retry=True,
                              error=f"HTTP 200 without a robot answer: {r.text[:120]!r}")
        return Outcome(out.ok, out.retry, out.rate_limited, self.secrets.redact(out.error))

    async def _webhook(self, receiver: Receiver, n: Notification) -> Outcome:
        headers = {"Idempotency-Key": n.notification_id}
        token = self.secrets.get(receiver.name, "token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        r = await self.client.post(receiver.url, json=render.webhook_body(n, receiver),
                                   headers=headers)
        out = classify_http(r.status_code, r.text)
        return Outcome(out.ok, out.retry, out.rate_limited, self.secrets.redact(out.error))

    def _mail(self, receiver: Receiver, n: Notification) -> Outcome:
        s = self.settings
        subject, text = render.mail_text(n, receiver)
        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = s.mail_from
        msg["To"] = ", ".join(receiver.to)
        msg["Message-ID"] = f"<{n.notification_id}@hj212-notify>"
        msg.set_content(text)
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port,
                              timeout=self.routing.delivery.timeout_s) as smtp:
                if s.smtp_starttls:
                    smtp.starttls()
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password)
                smtp.send_message(msg)
        except smtplib.SMTPResponseException as exc:
            # 4xx: try again later; 5xx: the server will not take it
            return Outcome(ok=False, retry=400 <= exc.smtp_code < 500,
                           error=self.secrets.redact(f"SMTP {exc.smtp_code}: "
                                                     f"{exc.smtp_error!r}")[:300])
        except smtplib.SMTPRecipientsRefused as exc:
            return Outcome(ok=False, retry=False,
                           error=f"SMTP refused recipients {sorted(exc.recipients)}")
        except (OSError, smtplib.SMTPException) as exc:
            return Outcome(ok=False, retry=True, error=self.secrets.redact(
                f"SMTP {s.smtp_host}:{s.smtp_port}: {type(exc).__name__}: {exc}")[:300])
        return Outcome(ok=True)

    def _print(self, receiver: Receiver, n: Notification) -> Outcome:
        if receiver.kind == "webhook":
            body = json.dumps(render.webhook_body(n, receiver), ensure_ascii=False)
        elif receiver.kind == "mail":
            subject, body = render.mail_text(n, receiver)
            body = f"Subject: {subject}\n{body}"
        else:
            body = render.markdown(n, receiver, wecom=receiver.kind == "wecom")
        self.print_to.write(f"[notify → {receiver.title or receiver.name} ({receiver.kind})]"
                            f"\n{body}\n\n")
        self.print_to.flush()
        return Outcome(ok=True)
