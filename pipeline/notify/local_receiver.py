"""A real local HTTP server standing in for WeCom and DingTalk group robots and JSON
webhooks, for tests and trials (``python -m pipeline.notify.local_receiver``).

It checks what the real ones check: a WeCom robot's key and its markdown (at most 4096
bytes of UTF-8), a DingTalk robot's access token, its 加签 signature (HMAC-SHA256 of
"<timestamp>\\n<secret>" with the secret, base64; the timestamp in ms within an hour)
and its markdown title and text, a webhook's bearer token and JSON; each robot takes at
most 20 messages in any minute and answers more with its rate-limit errcode (WeCom
45009, DingTalk 130101). It counts what it took, and can be told to fail (HTTP 500,
the rate-limit errcode, HTTP 400) a number of times or to answer slowly.

Standard library only (http.server in a thread): aiohttp is not installed here.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, TextIO
from urllib.parse import parse_qs, urlsplit

WECOM_MAX_BYTES: Final = 4096
DINGTALK_MAX_BYTES: Final = 20000
PER_MINUTE: Final = 20


@dataclass(frozen=True, slots=True)
class Received:
    kind: str  # wecom, dingtalk, webhook
    name: str  # the receiver, as configured here
    body: dict[str, Any]
    at: float  # time.time() when it was taken
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        md = self.body.get("markdown") or {}
        return str(md.get("content") or md.get("text") or self.body.get("title", ""))


@dataclass
class _Fault:
    times: int
    mode: str  # http500, ratelimit, http400


class LocalReceiver:
    def __init__(self, *, wecom: Mapping[str, str] | None = None,
                 dingtalk: Mapping[str, tuple[str, str]] | None = None,
                 webhooks: Mapping[str, str] | None = None, per_minute: int = PER_MINUTE,
                 host: str = "127.0.0.1", port: int = 0, echo: TextIO | None = None
                 ) -> None:
        """``wecom``: name -> key; ``dingtalk``: name -> (access token, secret);
        ``webhooks``: name -> bearer token ('' for none)."""
        self.wecom = {key: name for name, key in (wecom or {}).items()}
        self.dingtalk = {tok: (name, sec) for name, (tok, sec) in (dingtalk or {}).items()}
        self.webhooks = dict(webhooks or {})
        self.per_minute = per_minute
        self.echo = echo
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.violations: list[str] = []
        self.refused: list[tuple[str, str]] = []  # (name, why) answered with an error
        self.faults: dict[str, _Fault] = {}
        self.delay_s = 0.0
        self._windows: dict[str, deque[float]] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if len(raw) < length:
                    # the sender went away mid-body (a kill -9): no request came, and a
                    # robot would not see one either; not a malformed message
                    self.close_connection = True
                    return
                status, answer = owner._handle(self.path, dict(self.headers.items()), raw)
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # the sender may have gone (a kill -9 test): what it sent is counted
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name="local-receiver")

    # --- control ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def wecom_url(self) -> str:
        return f"{self.url}/wecom/send"

    @property
    def dingtalk_url(self) -> str:
        return f"{self.url}/dingtalk/send"

    def webhook_url(self, name: str) -> str:
        return f"{self.url}/webhook/{name}"

    def start(self) -> LocalReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> LocalReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail(self, name: str, times: int, mode: str = "http500") -> None:
        """The next ``times`` messages to ``name`` fail: ``http500``, ``ratelimit``
        (the robot's rate-limit errcode) or ``http400``."""
        with self.lock:
            self.faults[name] = _Fault(times, mode)

    def slow(self, seconds: float) -> None:
        self.delay_s = seconds

    def messages(self, name: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.received if name is None or r.name == name]

    # --- the robots -------------------------------------------------------------------

    def _handle(self, path: str, headers: dict[str, str], raw: bytes
                ) -> tuple[int, dict[str, Any]]:
        if self.delay_s:
            time.sleep(self.delay_s)
        url = urlsplit(path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self._violation("?", "body is not UTF-8 JSON", 400,
                                   {"errcode": 40001, "errmsg": "invalid json"})
        if url.path == "/wecom/send":
            return self._wecom(q, body, headers)
        if url.path == "/dingtalk/send":
            return self._dingtalk(q, body, headers)
        if url.path.startswith("/webhook/"):
            return self._webhook(url.path.split("/", 2)[2], body, headers)
        return 404, {"error": f"no such path {url.path}"}

    def _violation(self, name: str, why: str, status: int, answer: dict[str, Any]
                   ) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.violations.append(f"{name}: {why}")
        return status, answer

    def _fault(self, name: str, rate_answer: dict[str, Any]
               ) -> tuple[int, dict[str, Any]] | None:
        with self.lock:
            f = self.faults.get(name)
            if f is None or f.times <= 0:
                return None
            f.times -= 1
            self.refused.append((name, f.mode))
        if f.mode == "ratelimit":
            return 200, rate_answer
        if f.mode == "http400":
            return 400, {"errcode": 40008, "errmsg": "invalid message type"}
        return 500, {"errcode": -1, "errmsg": "system busy"}

    def _rate(self, name: str) -> bool:
        """Whether ``name`` may take another message now (20 in any 60 s)."""
        now = time.monotonic()
        with self.lock:
            w = self._windows.setdefault(name, deque())
            while w and w[0] <= now - 60:
                w.popleft()
            if len(w) >= self.per_minute:
                self.refused.append((name, "rate"))
                return False
            w.append(now)
            return True

    def _take(self, kind: str, name: str, body: dict[str, Any], headers: dict[str, str]
              ) -> None:
        r = Received(kind, name, body, time.time(), headers)
        with self.lock:
            self.received.append(r)
        if self.echo is not None:
            self.echo.write(f"[{kind} {name}]\n{r.text}\n\n")
            self.echo.flush()

    def _wecom(self, q: dict[str, str], body: Any, headers: dict[str, str]
               ) -> tuple[int, dict[str, Any]]:
        name = self.wecom.get(q.get("key", ""))
        if name is None:
            return self._violation("wecom", "unknown key", 200,
                                   {"errcode": 93000, "errmsg": "invalid webhook url"})
        rate = {"errcode": 45009, "errmsg": "api freq out of limit"}
        if (f := self._fault(name, rate)) is not None:
            return f
        if not isinstance(body, dict) or body.get("msgtype") not in ("markdown", "text"):
            return self._violation(name, f"msgtype {body.get('msgtype')!r}", 200,
                                   {"errcode": 40008, "errmsg": "invalid message type"})
        part = body.get(body["msgtype"]) or {}
        content = part.get("content")
        limit = WECOM_MAX_BYTES if body["msgtype"] == "markdown" else 2048
        if not isinstance(content, str) or not content:
            return self._violation(name, "no content", 200,
                                   {"errcode": 44004, "errmsg": "empty content"})
        if len(content.encode()) > limit:
            return self._violation(name, f"content {len(content.encode())} bytes", 200,
                                   {"errcode": 40058, "errmsg": "content exceed max length"})
        if not self._rate(name):
            return 200, rate
        self._take("wecom", name, body, headers)
        return 200, {"errcode": 0, "errmsg": "ok"}

    def _dingtalk(self, q: dict[str, str], body: Any, headers: dict[str, str]
                  ) -> tuple[int, dict[str, Any]]:
        robot = self.dingtalk.get(q.get("access_token", ""))
        if robot is None:
            return self._violation("dingtalk", "unknown access_token", 200,
                                   {"errcode": 300001, "errmsg": "token is not exist"})
        name, secret = robot
        try:
            ts = int(q.get("timestamp", ""))
        except ValueError:
            return self._violation(name, "no timestamp", 200,
                                   {"errcode": 310000, "errmsg": "invalid timestamp"})
        want = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(),
                                         hashlib.sha256).digest()).decode()
        # parse_qs has already URL-decoded the sign
        if not hmac.compare_digest(q.get("sign", ""), want):
            return self._violation(name, "sign does not match", 200,
                                   {"errcode": 310000, "errmsg": "sign not match"})
        if abs(time.time() * 1000 - ts) > 3600_000:
            return self._violation(name, "timestamp over an hour off", 200,
                                   {"errcode": 310000, "errmsg": "invalid timestamp"})
        rate = {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        if (f := self._fault(name, rate)) is not None:
            return f
        md = body.get("markdown") if isinstance(body, dict) else None
        if (body.get("msgtype") != "markdown" or not isinstance(md, dict)
                or not md.get("title") or not md.get("text")):
            return self._violation(name, "not a markdown message with title and text", 200,
                                   {"errcode": 40035, "errmsg": "missing parameter"})
        if len(str(md["text"]).encode()) > DINGTALK_MAX_BYTES:
            return self._violation(name, "text too long", 200,
                                   {"errcode": 460101, "errmsg": "message too long"})
        if not self._rate(name):
            return 200, rate
        self._take("dingtalk", name, body, headers)
        return 200, {"errcode": 0, "errmsg": "ok"}

    def _webhook(self, name: str, body: Any, headers: dict[str, str]
                 ) -> tuple[int, dict[str, Any]]:
        if name not in self.webhooks:
            return 404, {"error": f"no webhook {name}"}
        token = self.webhooks[name]
        if token and headers.get("Authorization") != f"Bearer {token}":
            return self._violation(name, "bad bearer token", 401, {"error": "unauthorized"})
        if (f := self._fault(name, {"error": "rate"})) is not None:
            status, answer = f
            return (429 if answer == {"error": "rate"} else status), answer
        if not isinstance(body, dict) or not body.get("notification_id") or not isinstance(
                body.get("items"), list):
            return self._violation(name, "no notification_id or items", 400,
                                   {"error": "bad body"})
        self._take("webhook", name, body, headers)
        return 200, {"ok": True}


def main() -> None:  # pragma: no cover - a manual tool
    import argparse

    p = argparse.ArgumentParser(description="a local stand-in for WeCom/DingTalk robots")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--wecom", action="append", default=[], help="name=key")
    p.add_argument("--dingtalk", action="append", default=[], help="name=token:secret")
    p.add_argument("--webhook", action="append", default=[], help="name[=bearer]")
    a = p.parse_args()
    wecom = dict(x.split("=", 1) for x in a.wecom)
    ding = {n: tuple(v.split(":", 1)) for n, v in (x.split("=", 1) for x in a.dingtalk)}
    hooks = {x.split("=", 1)[0]: [*x.split("=", 1), ""][1] for x in a.webhook}
    r = LocalReceiver(wecom=wecom, dingtalk=ding, webhooks=hooks,
                      port=a.port, echo=sys.stdout)
    print(f"listening on {r.url}: wecom {r.wecom_url}, dingtalk {r.dingtalk_url}")
    r.server.serve_forever()


if __name__ == "__main__":  # pragma: no cover
    main()
