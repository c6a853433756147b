"""``hj212 demo``: a simulated fleet streamed through the codec, with a live summary.

The bytes are cut into random TCP-sized chunks before they reach ``hj212.Framer``, so the
demo exercises what the gateway will: frames split over reads, several frames in one read,
junk between frames, and damaged frames. The summary shows what the codec made of it.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

import hj212

from pipeline.interrupts import sigterm_as_interrupt
from pipeline.simulator.corpus import Corpus

TICK_S = 0.1  # how often frames are produced; small ticks keep the rate smooth
REFRESH_S = 1.0


@dataclass
class DemoStats:
    """Running totals of a demo run."""

    started: float = field(default_factory=time.monotonic)
    sent_frames: int = 0
    sent_defective: int = 0
    sent_bytes: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    by_cn: Counter[str] = field(default_factory=Counter)
    by_edition: Counter[int] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    buffered: int = 0
    garbage_bytes: int = 0
    samples: list[hj212.Frame] = field(default_factory=list)
    last_error: hj212.FrameError | None = None

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    def take(self, item: hj212.Frame | hj212.FrameError) -> None:
        if isinstance(item, hj212.FrameError):
            self.rejected[item.kind] += 1
            self.last_error = item
            return
        self.accepted += 1
        self.by_cn[item.cn] += 1
        self.by_edition[item.edition] += 1
        for w in item.warnings:
            self.warnings[w.split(":", 1)[0]] += 1
        if item.pollutants:
            # keep the newest frame per command so the screen shows each kind of record
            self.samples = [*[s for s in self.samples if s.cn != item.cn][-3:], item]


def _name(code: str) -> str:
    """'w01018 COD (mg/L)'-style label from the code tables, tolerant of 2005 codes."""
    code_2017 = code if len(code) == 6 else (hj212.pollutant_2017(code) or code)
    row = hj212.lookup("pollutant", code_2017)
    if not row:
        return code
    name = row.get("name_en") or row.get("name") or ""
    unit = row.get("unit") or row.get("unit_rtd") or ""
    label = f"{code} {name}".strip()
    return f"{label} ({unit})" if unit and unit not in ("-", "无量纲") else label


def _reading(frame: hj212.Frame, limit: int = 3) -> str:
    parts = []
    for code, fields in list(frame.pollutants.items())[:limit]:
        value = next((fields[k] for k in ("Rtd", "Avg") if k in fields), None)
        flag = fields.get("Flag", "")
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{_name(code)}={shown}{'[' + str(flag) + ']' if flag else ''}")
    more = len(frame.pollutants) - limit
    return ", ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def summary_lines(stats: DemoStats, rate_window: float) -> list[str]:
    """The live summary as lines of text (no terminal codes)."""
    total = stats.accepted + sum(stats.rejected.values())
    lines = [
        f"hj212 demo: {stats.elapsed:6.1f} s   {rate_window:9,.0f} frames/s now   "
        f"{total / stats.elapsed:9,.0f} frames/s average",
        f"sent      {stats.sent_frames:>10,} frames ({stats.sent_defective:,} damaged on "
        f"purpose), {stats.sent_bytes / 1e6:,.2f} MB",
        f"accepted  {stats.accepted:>10,}   by CN: "
        + "  ".join(f"{cn}={n:,}" for cn, n in sorted(stats.by_cn.items())),
        "          by edition: "
        + "  ".join(f"{ed}={n:,}" for ed, n in sorted(stats.by_edition.items())),
        f"rejected  {sum(stats.rejected.values()):>10,}   by kind: "
        + ("  ".join(f"{k}={n:,}" for k, n in stats.rejected.most_common()) or "-"),
        f"warnings  {sum(stats.warnings.values()):>10,}   "
        + ("  ".join(f"{k}={n:,}" for k, n in stats.warnings.most_common(4)) or "-"),
        f"framer    {stats.buffered:>10,} bytes buffered, {stats.garbage_bytes:,} garbage "
        "bytes skipped",
        "latest readings:",
    ]
    for frame in stats.samples[-3:]:
        lines.append(f"  CN={frame.cn} MN={frame.mn} {frame.data_time or ''}")
        lines.append(f"    {_reading(frame)}")
    if stats.last_error is not None:
        err = stats.last_error
        msg = str(err)
        lines.append(f"latest rejection: [{err.kind}] {msg[:150]}")
    return lines


def _line(stats: DemoStats, rate_window: float) -> str:
    """One plain line per refresh, for logs and CI where redrawing would be noise."""
    total = stats.accepted + sum(stats.rejected.values())
    kinds = ",".join(f"{k}={n}" for k, n in sorted(stats.rejected.items())) or "-"
    cns = ",".join(f"{cn}={n}" for cn, n in sorted(stats.by_cn.items()))
    return (f"t={stats.elapsed:.0f}s rate={rate_window:.0f}/s frames={total} "
            f"accepted={stats.accepted} rejected={sum(stats.rejected.values())} ({kinds}) "
            f"cn={cns} warnings={sum(stats.warnings.values())} buffered={stats.buffered}")


def run_demo(
    *,
    seconds: float | None = None,
    rate: float = 2000.0,
    stations: int = 50,
    chunk_size: int = 512,
    seed: int = 1,
    error_rate: float = 0.03,
    noise: float = 0.01,
    strict: bool = False,
    out: TextIO | None = None,
    live: bool | None = None,
) -> DemoStats:
    """Stream a simulated fleet through ``hj212.Framer`` until ``seconds`` pass (or for
    ever) or Ctrl-C; returns the totals. ``live`` redraws one screen (default: when
    ``out`` is a terminal); otherwise one line per second is printed."""
    out = out if out is not None else sys.stdout
    if live is None:
        live = out.isatty()
    # the simulated clock advances 1/rate per frame, so data times follow the wall clock
    corpus = Corpus(seed, stations=stations, error_rate=error_rate, deviation_rate=0.02,
                    start=datetime.now().replace(microsecond=0), step_s=1.0 / rate)
    chunker = random.Random(seed + 1)
    framer = hj212.Framer(strict=strict)
    stats = DemoStats(started=time.monotonic())
    pending = bytearray()
    next_refresh = stats.started + REFRESH_S
    window_start, window_frames = stats.started, 0

    if live:
        out.write("\x1b[2J")
    # SIGTERM (make, systemd, a CI timeout) ends the demo the same clean way as Ctrl-C
    with sigterm_as_interrupt():
        try:
            while True:
                now = time.monotonic()
                if seconds is not None and now - stats.started >= seconds:
                    break
                due = int(rate * (now - stats.started)) - stats.sent_frames
                # when the machine cannot keep up, stay responsive (refresh, Ctrl-C) and let
                # the summary show the rate actually reached
                due = min(due, max(1, int(rate * TICK_S * 5)))
                for _ in range(max(due, 0)):
                    if noise and corpus.rng.random() < noise:
                        pending += corpus.junk()
                    sample = corpus.sample()
                    pending += sample.raw
                    stats.sent_frames += 1
                    stats.sent_defective += sample.defect is not None
                stats.sent_bytes += len(pending)
                while pending:
                    cut = chunker.randint(1, chunk_size)
                    for item in framer.feed(bytes(pending[:cut])):
                        stats.take(item)
                        window_frames += 1
                    del pending[:cut]
                stats.buffered = framer.buffered
                stats.garbage_bytes = framer.stats.get("garbage_bytes", 0)
                now = time.monotonic()
                if now >= next_refresh:
                    rate_now = window_frames / max(now - window_start, 1e-9)
                    _render(out, stats, rate_now, live)
                    window_start, window_frames = now, 0
                    next_refresh = now + REFRESH_S
                time.sleep(max(0.0, TICK_S - (time.monotonic() - now)))
        except KeyboardInterrupt:
            pass
    return stats


def _render(out: TextIO, stats: DemoStats, rate_now: float, live: bool) -> None:
    if live:
        body = "".join(f"{line}\x1b[K\n" for line in summary_lines(stats, rate_now))
        out.write("\x1b[H" + body + "\x1b[J")
    else:
        out.write(_line(stats, rate_now) + "\n")
    out.flush()


def final_report(stats: DemoStats) -> str:
    """What a person reads after the demo stops."""
    total = stats.accepted + sum(stats.rejected.values())
    return "\n".join([
        "",
        *summary_lines(stats, total / stats.elapsed),
        "",
        f"stopped after {stats.elapsed:.1f} s: {total:,} frames out of the framer, "
        f"{stats.accepted:,} accepted, {sum(stats.rejected.values()):,} rejected.",
    ])
