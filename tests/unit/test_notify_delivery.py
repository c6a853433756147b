"""DingTalk signing against HMAC computed here from its definition (RFC 2104), the retry
schedule and what a reply means, and the senders against the real local receiver
server (loopback HTTP, no other service)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from pipeline.config import NotifySettings
from pipeline.notify import retry
from pipeline.notify.local_receiver import LocalReceiver
from pipeline.notify.model import Item, Notification
from pipeline.notify.receivers import Secrets, Sender, dingtalk_sign, dingtalk_url
from tests.unit.notify_helpers import T0_MS, alarm


def hmac_sha256(key: bytes, msg: bytes) -> bytes:
    """HMAC from RFC 2104 with SHA-256 (block 64 bytes), not the hmac module."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key) + msg).digest()
    return hashlib.sha256(bytes(k ^ 0x5C for k in key) + inner).digest()


def test_dingtalk_sign_matches_the_definition_and_is_url_encoded():
    secret = "SECabc+/=测试" + "x" * 70  # longer than a block, and with URL-special bytes
    ts = 1_717_200_000_123
    want = base64.b64encode(hmac_sha256(secret.encode(), f"{ts}\n{secret}".encode()))
    assert dingtalk_sign(secret, ts) == want.decode()
    url = dingtalk_url("http://h/robot/send", "tok en", secret, ts)
    q = parse_qs(urlsplit(url).query)
    assert q == {"access_token": ["tok en"], "timestamp": [str(ts)], "sign": [want.decode()]}
    assert "+" not in urlsplit(url).query.split("sign=")[1]  # '+' travels as %2B


def test_backoff_doubles_to_the_cap_with_equal_jitter():
    lo = [retry.backoff_s(a, base=2, cap=60, rand=0.0) for a in range(1, 8)]
    hi = [retry.backoff_s(a, base=2, cap=60, rand=1.0) for a in range(1, 8)]
    assert hi == [2, 4, 8, 16, 32, 60, 60]
    assert lo == [h / 2 for h in hi]


@pytest.mark.parametrize(("status", "body", "retry_", "rate"), [
    (200, "", None, None), (500, "x", True, False), (503, "x", True, False),
    (429, "x", True, True), (400, "bad", False, False), (404, "", False, False)])
def test_http_classes(status, body, retry_, rate):
    out = retry.classify_http(status, body)
    assert out.ok == (retry_ is None)
    if retry_ is not None:
        assert (out.retry, out.rate_limited) == (retry_, rate)


def test_robot_errcodes():
    assert retry.classify_robot(0, "ok").ok
    assert retry.classify_robot(45009, "api freq out of limit").rate_limited
    assert retry.classify_robot(130101, "send too fast").rate_limited
    bad = retry.classify_robot(93000, "invalid webhook url")
    assert not bad.ok and not bad.retry


ROUTES = """
[receivers.wc]
kind = "wecom"
url = "{wecom}"
[receivers.dt]
kind = "dingtalk"
url = "{ding}"
[receivers.wh]
kind = "webhook"
url = "{hook}"
[root]
receivers = ["wc"]
"""


def _setup(srv: LocalReceiver, secrets: dict) -> Sender:
    from pipeline.notify.routing import parse_routing

    r = parse_routing(ROUTES.format(wecom=srv.wecom_url, ding=srv.dingtalk_url,
                                    hook=srv.webhook_url("wh")))
    return Sender(r, Secrets(secrets), NotifySettings())


def _n(receiver: str) -> Notification:
    a = alarm()
    return Notification.of(receiver, [Item(receiver, "r", "mn:MN1", "firing", 0, a)], T0_MS)


def test_senders_against_the_local_robots_and_what_their_refusals_mean():
    secrets = {"wc": {"key": "k-123"}, "dt": {"access_token": "t-9", "secret": "SEC-s"},
               "wh": {"token": "bear"}}
    with LocalReceiver(wecom={"wc": "k-123"}, dingtalk={"dt": ("t-9", "SEC-s")},
                       webhooks={"wh": "bear"}, per_minute=3) as srv:
        sender = _setup(srv, secrets)
        rec = sender.routing.receivers

        async def go() -> list:
            out = [await sender.send(rec[name], _n(name)) for name in ("wc", "dt", "wh")]
            # the 4th message to wc in a minute: the robot's rate limit
            out += [await sender.send(rec["wc"], _n("wc")) for _ in range(3)]
            srv.fail("dt", 1, "http500")
            out.append(await sender.send(rec["dt"], _n("dt")))
            await sender.close()
            return out

        out = asyncio.run(go())
        assert [o.ok for o in out[:3]] == [True, True, True]
        assert [o.ok for o in out[3:5]] == [True, True]
        assert out[5].rate_limited and out[5].retry and "45009" in out[5].error
        assert out[6].retry and not out[6].ok and "500" in out[6].error
        assert srv.violations == []
        assert [m.name for m in srv.messages()] == ["wc", "dt", "wh", "wc", "wc"]
        assert srv.messages("wh")[0].headers["Idempotency-Key"].startswith("N-")

        # a wrong signing secret and a wrong key: permanent, and no secret in the error
        bad = _setup(srv, {"wc": {"key": "k-wrong"},
                           "dt": {"access_token": "t-9", "secret": "SEC-wrong"}})

        async def bad_go() -> list:
            out = [await bad.send(bad.routing.receivers[n], _n(n)) for n in ("wc", "dt")]
            await bad.close()
            return out

        wc, dt = asyncio.run(bad_go())
        assert not wc.retry and "93000" in wc.error and "k-wrong" not in wc.error
        assert not dt.retry and "310000" in dt.error and "SEC-wrong" not in dt.error
        assert len(srv.violations) == 2


def test_network_errors_are_retried_and_the_key_is_not_in_the_error():
    from pipeline.notify.routing import parse_routing

    r = parse_routing('[receivers.wc]\nkind = "wecom"\nurl = "http://127.0.0.1:9/x"\n'
                      '[root]\nreceivers = ["wc"]\n[delivery]\ntimeout_s = 2')
    sender = Sender(r, Secrets({"wc": {"key": "very-secret-key"}}), NotifySettings())

    async def go():
        out = await sender.send(r.receivers["wc"], _n("wc"))
        await sender.close()
        return out

    started = time.monotonic()
    out = asyncio.run(go())
    assert out.retry and not out.ok and "very-secret-key" not in out.error
    assert time.monotonic() - started < 5


def test_print_receiver_shows_what_a_robot_would_get_and_needs_no_secret():
    import io

    from pipeline.notify.routing import load_routing

    r = load_routing()
    out = io.StringIO()
    sender = Sender(r, Secrets(), NotifySettings(), print_to=out, print_all=True)

    async def go():
        res = await sender.send(r.receivers["yunguichuanyu_365"], _n("yunguichuanyu_365"))
        await sender.close()
        return res

    assert asyncio.run(go()).ok
    text = out.getvalue()
    assert text.startswith("[notify → 云贵川渝 365 群 (wecom)]") and "超标(over_limit)" in text
