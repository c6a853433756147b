"""Shared helpers for the gateway unit tests: a gateway on a free loopback port with a
fixed station directory and no Kafka (the spool is read directly)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import hj212

from pipeline.config import load_settings
from pipeline.gateway import envelope
from pipeline.gateway.auth import StaticDirectory, StationEntry
from pipeline.gateway.server import Gateway
from tests.codec_vectors import crc16_modbus

MN = "010000A8900016F000169DC0"
PW = "123456"
MN_2005 = "43559874088992"
#: a station allowed CRC-16/MODBUS (registry column crc_variants)
VARIANT_MN = "0123456789ABCDEF01234567"
CODEC_HAS_VARIANTS = "modbus" in getattr(hj212, "CRC_VARIANTS", ())


def settings(tmp: Path, **gateway: Any) -> Any:
    s = load_settings(env={})
    g = dataclasses.replace(s.gateway, port=1, metrics_port=0, id="gw-test", **gateway)
    sp = dataclasses.replace(s.spool, dir=str(tmp / "spool"), fsync_interval=0.0)
    return dataclasses.replace(s, gateway=g, spool=sp, run_dir=tmp)


def directory() -> StaticDirectory:
    return StaticDirectory([StationEntry(MN, PW), StationEntry(MN_2005, PW, edition=2005)])


async def start(tmp: Path, **gateway: Any) -> Gateway:
    gw = Gateway(settings(tmp, **gateway), directory=directory(), publish=False,
                 downlink=False)
    # port 0: let the OS pick
    gw.settings = dataclasses.replace(gw.settings, gateway=dataclasses.replace(
        gw.settings.gateway, port=0))
    await gw.start()
    return gw


def upload(i: int = 0, *, mn: str = MN, pw: str = PW, flag: int = 5, cn: int = 2011) -> bytes:
    qn = f"20240101{i:09d}"
    return hj212.encode(cn=cn, st=32, mn=mn, pw=pw, qn=qn, flag=flag,
                        cp=f"DataTime=20240101000000;w01018-Rtd={i}.5,w01018-Flag=N")


async def read_answers(reader: asyncio.StreamReader, n: int, timeout: float = 5.0
                       ) -> list[hj212.Frame]:
    out = []
    for _ in range(n):
        line = await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout)
        out.append(hj212.parse(line))
    return out


def spooled(gw: Gateway) -> list[tuple[int, bytes, envelope.Envelope]]:
    out = []
    while True:
        batch = gw.spool.read_nowait(100_000, 1 << 30)
        if batch is None:
            return out
        out.extend((t, k, envelope.decode(v)) for t, k, v in batch.records)




def resigned(frame: bytes, crc: int) -> bytes:
    """``frame`` with its CRC replaced (data segment untouched)."""
    return frame[:-6] + f"{crc:04X}".encode() + frame[-2:]


def modbus_signed(frame: bytes) -> bytes:
    return resigned(frame, crc16_modbus(frame[6:-6]))
