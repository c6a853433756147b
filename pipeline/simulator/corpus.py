"""A seeded generator of realistic data-logger frames: the logger's side of the wire.

Frames are built with ``hj212.encode`` so that what the parser is tested against is what
the codec itself produces for the standard's fields. A share of them is then damaged the
way real links and firmware damage frames (see ``DEFECTS``), and a share carries the
harmless deviations that lenient parsing accepts with a warning (see ``DEVIATIONS``).

Everything is driven by one ``random.Random(seed)`` and a simulated clock, never the wall
clock, so the same arguments give the same bytes on every machine; the benchmarks and the
tests rely on that.

Typical use::

    corpus = Corpus(seed=7, stations=100, error_rate=0.02)
    frames = corpus.frames(10_000)                # list[bytes]
    for chunk in corpus.stream(chunk_size=512):   # TCP-like pieces, endless
        ...
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import hj212

from pipeline.timebase import CN_KIND, cn_period, from_s, to_s

#: ways a frame gets damaged; each leaves a frame no correct parser may accept
DEFECTS: tuple[str, ...] = ("crc", "length", "garbage", "truncated", "date", "value")
#: deviations lenient parsing accepts and reports as warnings
DEVIATIONS: tuple[str, ...] = ("crc_lowercase", "bare_lf")

DEFAULT_EDITIONS: Mapping[int, float] = {2005: 0.15, 2017: 0.7, 2025: 0.15}
#: data uploads by command code; real-time dominates as it comes every RtdInterval
DEFAULT_CNS: Mapping[int, float] = {2011: 0.7, 2051: 0.15, 2061: 0.1, 2031: 0.05}

ST_GAS = 31
ST_WATER = 32

#: seconds covered by one record of each data command (2011 is one sample)
_PERIOD_S = {cn: cn_period(cn) or 0 for cn in CN_KIND}
_REFERENCE_O2 = 6.0  # % O2 of the emission standard for coal-fired boilers
_INSTRUMENT_FLAGS = "FMSDCTB"


@dataclass(frozen=True, slots=True)
class Profile:
    """How one pollutant behaves at a typical station."""

    code: str  # 2017 code
    code_2005: str | None  # None: the 2005 edition had no code for it
    low: float  # typical range of the station's baseline value
    high: float
    decimals: int
    #: what Cou means: "volume" (flow), "mass" (concentration x flow), or None (no Cou)
    cou: str | None = None
    #: flue-gas pollutants reported converted to reference O2 as well (ZsRtd/ZsAvg)
    zs: bool = False


def _p(code: str, c2005: str | None, low: float, high: float, dec: int,
       cou: str | None = None, zs: bool = False) -> Profile:
    return Profile(code, c2005, low, high, dec, cou, zs)


# The first entries of each list are the pollutants every station of that kind measures;
# the rest are added, in random order, to stations that measure more.
WATER: tuple[Profile, ...] = (
    _p("w00000", "B01", 5.0, 200.0, 2, "volume"),  # flow, L/s
    _p("w01018", "011", 10.0, 80.0, 1, "mass"),  # COD, mg/L
    _p("w21003", "060", 0.1, 5.0, 2, "mass"),  # ammonia nitrogen
    _p("w21011", "101", 0.05, 1.0, 3, "mass"),  # total phosphorus
    _p("w21001", "065", 1.0, 15.0, 2, "mass"),  # total nitrogen
    _p("w01001", "001", 6.5, 8.5, 2),  # pH
    _p("w01012", "003", 5.0, 50.0, 1, "mass"),  # suspended solids
    _p("w01017", "010", 3.0, 30.0, 1, "mass"),  # BOD5
    _p("w01020", "015", 5.0, 40.0, 1, "mass"),  # TOC
    _p("w01009", None, 2.0, 8.0, 1),  # dissolved oxygen
    _p("w01010", None, 10.0, 30.0, 1),  # water temperature
    _p("w01014", None, 200.0, 1500.0, 1),  # conductivity
    _p("w20111", "020", 0.01, 0.5, 3, "mass"),  # mercury, ug/L
    _p("w20115", "022", 0.1, 5.0, 2, "mass"),  # cadmium, ug/L
    _p("w20116", "023", 0.01, 0.5, 3, "mass"),  # total chromium
    _p("w20117", "024", 1.0, 50.0, 2, "mass"),  # hexavalent chromium, ug/L
    _p("w20119", "026", 1.0, 50.0, 2, "mass"),  # arsenic, ug/L
    _p("w20120", "027", 1.0, 50.0, 1, "mass"),  # lead, ug/L
    _p("w20121", "028", 0.01, 0.5, 3, "mass"),  # nickel
    _p("w20122", "029", 0.01, 0.5, 3, "mass"),  # copper
    _p("w20123", "030", 0.01, 1.0, 3, "mass"),  # zinc
    _p("w21016", "070", 0.001, 0.2, 3, "mass"),  # cyanide
    _p("w21017", "072", 0.1, 5.0, 2, "mass"),  # fluoride
    _p("w22001", "080", 0.05, 5.0, 2, "mass"),  # petroleum oil
    _p("w23002", "110", 0.001, 0.5, 3, "mass"),  # volatile phenol
)
WATER_CORE = 6

GAS: tuple[Profile, ...] = (
    _p("a21026", "02", 5.0, 100.0, 2, "mass", zs=True),  # SO2, mg/m3
    _p("a21002", "03", 20.0, 150.0, 2, "mass", zs=True),  # NOx
    _p("a34013", "01", 1.0, 20.0, 2, "mass", zs=True),  # dust
    _p("a19001", "S01", 6.0, 12.0, 2),  # O2, %
    _p("a00000", "B02", 20.0, 200.0, 2, "volume"),  # flue-gas flow, m3/s
    _p("a01012", "S03", 40.0, 150.0, 1),  # temperature, degC
    _p("a01013", "S08", 0.05, 1.5, 3),  # pressure, kPa
    _p("a01014", "S05", 2.0, 15.0, 1),  # humidity, %
    _p("a01011", "S02", 5.0, 20.0, 2),  # velocity, m/s
    _p("a21005", "04", 10.0, 200.0, 2, "mass"),  # CO
    _p("a21024", "08", 1.0, 30.0, 2, "mass"),  # HCl
    _p("a21001", "10", 0.5, 8.0, 2, "mass"),  # ammonia slip
    _p("a21028", "05", 0.1, 5.0, 2, "mass"),  # H2S
    _p("a21018", "06", 0.1, 5.0, 2, "mass"),  # fluoride
    _p("a25003", "17", 0.1, 20.0, 2, "mass"),  # toluene
    _p("a25005", "18", 0.1, 20.0, 2, "mass"),  # xylene
    _p("a20057", "31", 0.001, 0.03, 4, "mass"),  # mercury compounds
    _p("a05001", "30", 1.0, 15.0, 2, "mass"),  # CO2 (as in the table, mg/m3)
    _p("a01017", "S04", 0.05, 1.0, 3),  # dynamic pressure, kPa
    _p("a01015", "S06", 2.0, 6.0, 1),  # cooler temperature, degC
    _p("a24088", None, 1.0, 60.0, 2, "mass"),  # non-methane hydrocarbons
    _p("a21003", None, 10.0, 100.0, 2, "mass"),  # NO
    _p("a21004", None, 1.0, 20.0, 2, "mass"),  # NO2
)
GAS_CORE = 8

PROFILES: dict[str, Profile] = {p.code: p for p in WATER + GAS}
MAX_POLLUTANTS = 20
MAX_CP = 950  # bytes of the data area between CP=&& and && (standard, table 2)
MAX_SEGMENT = 1024  # bytes of the whole data segment


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One data logger: its identity, edition and what it measures (2017 codes)."""

    mn: str
    pw: str
    st: int  # 31 flue gas, 32 waste water
    edition: int  # 2005, 2017 or 2025
    pollutants: tuple[str, ...]
    #: each pollutant's usual value; the generator adds noise around it
    baselines: Mapping[str, float] = field(default_factory=dict, compare=False)

    def wire_code(self, code: str) -> str:
        """The code this station puts on the wire (2005 loggers use the short codes)."""
        if self.edition == 2005:
            short = PROFILES[code].code_2005
            if short is None:  # pragma: no cover - make_station never picks such codes
                raise ValueError(f"{code} has no 2005 code; station {self.mn} cannot send it")
            return short
        return code


@dataclass(frozen=True, slots=True)
class Sample:
    """One generated frame and what was done to it."""

    raw: bytes
    station: DeviceSpec
    cn: int
    #: one of DEFECTS, or None for a frame the standard accepts
    defect: str | None = None
    #: one of DEVIATIONS, or None
    deviation: str | None = None

    @property
    def good(self) -> bool:
        return self.defect is None


def _weighted(rng: random.Random, weights: Mapping[int, float]) -> int:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def make_station(rng: random.Random, *, edition: int, gas: bool,
                 n_pollutants: int | None = None) -> DeviceSpec:
    """A random but plausible station of the given edition and kind."""
    profiles = GAS if gas else WATER
    core = GAS_CORE if gas else WATER_CORE
    if edition == 2005:
        profiles = tuple(p for p in profiles if p.code_2005 is not None)
    if n_pollutants is None:
        # most stations measure the usual set; some fewer (a flow meter and one analyser),
        # some many more (heavy-metal or VOC plants)
        roll = rng.random()
        if roll < 0.5:
            n_pollutants = core
        elif roll < 0.8:
            n_pollutants = rng.randint(1, core)
        else:
            n_pollutants = rng.randint(core, MAX_POLLUTANTS)
    n_pollutants = max(1, min(n_pollutants, len(profiles), MAX_POLLUTANTS))
    head = list(profiles[: min(core, n_pollutants)])
    extra = list(profiles[core:])
    rng.shuffle(extra)
    chosen = (head + extra)[:n_pollutants]
    if edition == 2005:
        mn = "".join(rng.choice("0123456789") for _ in range(14))
    else:
        # an EPC-96 code: 24 upper-case hex digits
        mn = f"{rng.getrandbits(96):024X}"
    pw = "".join(rng.choice("0123456789") for _ in range(6))
    baselines = {p.code: rng.uniform(p.low, p.high) for p in chosen}
    return DeviceSpec(mn=mn, pw=pw, st=ST_GAS if gas else ST_WATER, edition=edition,
                   pollutants=tuple(p.code for p in chosen), baselines=baselines)


def reframe(segment: bytes) -> bytes:
    """Wrap a data segment as a frame with a correct length and CRC (for damaged segments
    that ``hj212.encode`` would refuse to build)."""
    return b"##%04d%s%04X\r\n" % (len(segment), segment, hj212.crc16(segment))


def _segment(raw: bytes) -> bytes:
    return raw[6:-6]


def _fmt(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return "0" + text[2:] if text.startswith("-0") and float(text) == 0 else text


_DATATIME = re.compile(rb"DataTime=(\d{14})")
_NUMBER = re.compile(rb"-(?:Rtd|Avg)=(-?[0-9.]+)")
_NEVER_UTF8 = bytes([0xC0, 0xC1, *range(0xF5, 0x100)])
_BAD_DATES = (b"0230", b"0431", b"1301", b"0000", b"0631")  # MMDD that no calendar has
_BAD_NUMBERS = (b"12.3a", b"abc", b"--", b"1.2.3", b"7..5", b"N/A", b"0x1F")


def damage(raw: bytes, defect: str, rng: random.Random) -> bytes:
    """``raw`` given one of ``DEFECTS``, drawing from ``rng`` (the virtual loggers' fault
    injection uses it too)."""
    seg = _segment(raw)
    if defect == "crc":
        crc = bytearray(raw[-6:-2])
        i = rng.randrange(4)
        current = chr(crc[i]).upper()
        crc[i] = ord(rng.choice([c for c in "0123456789ABCDEF" if c != current]))
        return raw[:-6] + bytes(crc) + raw[-2:]
    if defect == "length":
        declared = len(seg) + rng.choice((-1, 1)) * rng.randint(1, 20)
        if declared < 0:
            declared = len(seg) + rng.randint(1, 20)
        return b"##%04d" % declared + raw[6:]
    if defect == "truncated":
        return raw[: rng.randint(3, len(raw) - 1)]
    if defect == "garbage":
        start = seg.index(b"CP=&&") + 5
        at = rng.randint(start, len(seg) - 2)
        noise = bytes(rng.choice(_NEVER_UTF8) for _ in range(rng.randint(1, 12)))
        return reframe(seg[:at] + noise + seg[at:])
    if defect == "date":
        m = _DATATIME.search(seg)
        assert m is not None  # every generated frame carries DataTime
        bad = m.group(1)[:4] + rng.choice(_BAD_DATES) + m.group(1)[8:]
        return reframe(seg[: m.start(1)] + bad + seg[m.end(1):])
    if defect == "value":
        matches = list(_NUMBER.finditer(seg))
        assert matches  # every generated frame carries a Rtd or an Avg
        m = rng.choice(matches)
        return reframe(seg[: m.start(1)] + rng.choice(_BAD_NUMBERS) + seg[m.end(1):])
    raise ValueError(f"unknown defect {defect!r}; choose from {', '.join(DEFECTS)}")


def junk(rng: random.Random) -> bytes:
    """Line noise as seen between frames: modem chatter, half-sent bytes (never a ``#``,
    so a framer skips it whole)."""
    if rng.random() < 0.5:
        return rng.choice((b"AT+CIPSEND\r\n", b"\x00\x00\xff", b"OK\r\n", b"\r\n"))
    return bytes(rng.choice(_NO_HASH) for _ in range(rng.randint(1, 40)))


_NO_HASH = bytes(b for b in range(256) if b != ord("#"))


class Corpus:
    """A fleet of simulated stations and a deterministic stream of their frames.

    ``stations`` is a count (stations are made from the seed) or a list of ``DeviceSpec``.
    ``error_rate`` is the share of frames given one of ``defects``; ``deviation_rate`` the
    share of the remaining frames given a harmless deviation. ``editions`` and ``cns`` are
    relative weights. ``start`` is the simulated clock's start and ``step_s`` how far it
    moves per frame.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        stations: int | Sequence[DeviceSpec] = 50,
        error_rate: float = 0.0,
        defects: Sequence[str] = DEFECTS,
        deviation_rate: float = 0.0,
        editions: Mapping[int, float] = DEFAULT_EDITIONS,
        cns: Mapping[int, float] = DEFAULT_CNS,
        gas_share: float = 0.5,
        start: datetime = datetime(2024, 3, 1, 8, 0, 0),
        step_s: float = 0.5,
        non_n_flag_rate: float = 0.02,
        resend_rate: float = 0.1,
    ) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate={error_rate}: must be between 0 and 1")
        if not 0.0 <= deviation_rate <= 1.0:
            raise ValueError(f"deviation_rate={deviation_rate}: must be between 0 and 1")
        unknown = set(defects) - set(DEFECTS)
        if unknown or (error_rate > 0 and not defects):
            raise ValueError(f"defects={list(defects)}: choose from {', '.join(DEFECTS)}")
        bad_editions = set(editions) - {2005, 2017, 2025}
        if bad_editions:
            raise ValueError(f"editions {sorted(bad_editions)}: choose from 2005, 2017, 2025")
        bad_cns = set(cns) - set(_PERIOD_S)
        if bad_cns:
            raise ValueError(f"cns {sorted(bad_cns)}: choose from {sorted(_PERIOD_S)}")
        self.seed = seed
        self.rng = random.Random(seed)
        # chunk sizes draw from their own generator so that stream(n) carries exactly
        # the frames that frames(n) would return
        self.chunk_rng = random.Random(seed ^ 0x5EED)
        self.error_rate = error_rate
        self.defects = tuple(defects)
        self.deviation_rate = deviation_rate
        self.cns = dict(cns)
        self.clock = start
        self.step = timedelta(seconds=step_s)
        self.non_n_flag_rate = non_n_flag_rate
        self.resend_rate = resend_rate
        if isinstance(stations, int):
            if stations < 1:
                raise ValueError(f"stations={stations}: need at least 1")
            self.stations: list[DeviceSpec] = [
                make_station(self.rng, edition=_weighted(self.rng, editions),
                             gas=self.rng.random() < gas_share)
                for _ in range(stations)
            ]
        else:
            self.stations = list(stations)
            if not self.stations:
                raise ValueError("stations: the list is empty")

    # --- public API --------------------------------------------------------------------

    def sample(self) -> Sample:
        """The next frame, with what was done to it."""
        rng = self.rng
        station = rng.choice(self.stations)
        cn = _weighted(rng, self.cns)
        self.clock += self.step
        raw = self._good_frame(station, cn, self.clock)
        if self.error_rate and rng.random() < self.error_rate:
            defect = rng.choice(self.defects)
            return Sample(self._damage(raw, defect), station, cn, defect=defect)
        if self.deviation_rate and rng.random() < self.deviation_rate:
            raw, deviation = self._deviate(raw)
            return Sample(raw, station, cn, deviation=deviation)
        return Sample(raw, station, cn)

    def samples(self, n: int) -> list[Sample]:
        return [self.sample() for _ in range(n)]

    def frames(self, n: int) -> list[bytes]:
        """The next ``n`` frames as bytes (good and damaged, in stream order)."""
        return [self.sample().raw for _ in range(n)]

    def stream(self, n: int | None = None, *, chunk_size: int = 512, noise: float = 0.0,
               batch: int = 64) -> Iterator[bytes]:
        """The next ``n`` frames (endless when None) as one byte stream cut into chunks of
        1..``chunk_size`` bytes, the way TCP reads arrive. ``noise`` is the share of frames
        preceded by line junk (no ``#`` in it), which a framer must skip."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size={chunk_size}: must be at least 1")
        rng = self.rng
        cuts = self.chunk_rng
        pending = bytearray()
        made = 0
        while n is None or made < n:
            count = batch if n is None else min(batch, n - made)
            for _ in range(count):
                if noise and rng.random() < noise:
                    pending += self.junk()
                pending += self.sample().raw
            made += count
            while len(pending) >= chunk_size:
                cut = cuts.randint(1, chunk_size)
                yield bytes(pending[:cut])
                del pending[:cut]
        while pending:
            cut = cuts.randint(1, chunk_size)
            yield bytes(pending[:cut])
            del pending[:cut]

    def junk(self) -> bytes:
        """Line noise as seen between frames: modem chatter, half-sent bytes."""
        return junk(self.rng)

    # --- building frames ---------------------------------------------------------------

    def _good_frame(self, station: DeviceSpec, cn: int, now: datetime) -> bytes:
        rng = self.rng
        period = _PERIOD_S[cn]
        # records are stamped at the start of their period, as loggers do; naive
        # arithmetic keeps the result independent of the machine's time zone
        secs = to_s(now)
        data_time = from_s(secs - secs % period)
        qn: str | None = None
        flag: int | None = None
        rf: str | None = None
        if station.edition != 2005:
            qn = f"{now:%Y%m%d%H%M%S}{rng.randrange(1000):03d}"
            if station.edition == 2017:
                flag = 5 if rng.random() < 0.7 else 4
            else:
                flag = 9
                if rng.random() < self.resend_rate:
                    rf = "1"
        # the whole segment is capped too (1024 bytes), so the header eats into the budget
        header = (f"QN={qn};" if qn else "") + f"ST={station.st};CN={cn};PW={station.pw};" \
            f"MN={station.mn};" + (f"Flag={flag};" if flag is not None else "") \
            + (f"RF={rf};" if rf else "") + "CP=&&&&"
        head = f"DataTime={data_time:%Y%m%d%H%M%S};"
        budget = min(MAX_CP, MAX_SEGMENT - len(header)) - len(head)
        cp = head + self._data_area(station, cn, budget)
        return hj212.encode(cn=cn, st=station.st, mn=station.mn, pw=station.pw, qn=qn,
                            flag=flag, rf=rf, cp=cp)

    def _data_area(self, station: DeviceSpec, cn: int, budget: int) -> str:
        rng = self.rng
        base = station.baselines
        period = _PERIOD_S[cn]
        gas = station.st == ST_GAS
        flow_code = "a00000" if gas else "w00000"
        # Cou needs the flow even at a station that does not report it
        flow = base.get(flow_code, 50.0) * (1 + rng.gauss(0, 0.05))
        # m3 over the period: gas flow is m3/s, water flow L/s
        volume = max(flow, 0.0) * period * (1.0 if gas else 0.001)
        o2 = base.get("a19001", 9.0)
        zs_factor = (21.0 - _REFERENCE_O2) / (21.0 - min(o2, 20.0))
        groups: list[str] = []
        used = 0
        for code in station.pollutants:
            prof = PROFILES[code]
            wire = station.wire_code(code)
            dec = prof.decimals
            value = base[code] * (1 + rng.gauss(0, 0.05))
            if code == flow_code:
                value = flow
            value = max(value, 0.0)
            flag = "N"
            if rng.random() < self.non_n_flag_rate:
                flag = rng.choice(_INSTRUMENT_FLAGS)
            if cn == 2011:
                parts = [f"{wire}-Rtd={_fmt(value, dec)}"]
                if prof.zs:
                    parts.append(f"{wire}-ZsRtd={_fmt(value * zs_factor, dec)}")
            else:
                spread = rng.uniform(0.02, 0.15)
                parts = [
                    f"{wire}-Min={_fmt(value * (1 - spread), dec)}",
                    f"{wire}-Avg={_fmt(value, dec)}",
                    f"{wire}-Max={_fmt(value * (1 + spread), dec)}",
                ]
                if prof.zs:
                    parts.append(f"{wire}-ZsAvg={_fmt(value * zs_factor, dec)}")
                if prof.cou == "volume":
                    parts.append(f"{wire}-Cou={_fmt(volume, 1)}")
                elif prof.cou == "mass":
                    # kg: mg/m3 x m3 = mg, mg/L x m3 = g
                    kg = value * volume * (1e-6 if gas else 1e-3)
                    parts.append(f"{wire}-Cou={_fmt(kg, 4)}")
            parts.append(f"{wire}-Flag={flag}")
            group = ",".join(parts)
            # the data area of one packet holds at most 950 bytes; a logger with more
            # factors than fit would split the message, which this corpus does not do,
            # so the period record carries the factors that fit
            if used + len(group) + 1 > budget:
                break
            used += len(group) + 1
            groups.append(group)
        return ";".join(groups)

    # --- damaging frames ---------------------------------------------------------------

    def _damage(self, raw: bytes, defect: str) -> bytes:
        return damage(raw, defect, self.rng)

    def _deviate(self, raw: bytes) -> tuple[bytes, str]:
        crc = raw[-6:-2]
        if crc.upper() != crc.lower() and self.rng.random() < 0.5:
            return raw[:-6] + crc.lower() + raw[-2:], "crc_lowercase"
        return raw[:-2] + b"\n", "bare_lf"
