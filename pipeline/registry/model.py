"""Stations and limits, and the rules a registry entry must meet.

Each ``check_*`` function returns an error message (what is wrong and what is allowed)
or None, so the CSV reader can report every problem of a file at once instead of
stopping at the first.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import hj212

EDITIONS = (2005, 2017, 2025)
RTD_INTERVAL_MIN, RTD_INTERVAL_MAX = 30, 3600
#: minute-data intervals that divide an hour, so minute records tile each hourly record
MIN_INTERVALS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)
BASES = ("avg", "zs_avg")
#: CRC algorithms other than the standard's that field loggers are known to use, by the
#: codec's name for each ("modbus": CRC-16/MODBUS, which a popular open-source logger
#: simulator computes: 0759 instead of 1C80 on the standard's example frame). A station
#: may be allowed some of them while its firmware is fixed; frames are then accepted
#: with a warning instead of rejected with QnRtn 9. (A codec built before it knew
#: variants has no CRC_VARIANTS; its frames are then never accepted under one.)
CRC_VARIANTS: tuple[str, ...] = tuple(
    v for v in getattr(hj212, "CRC_VARIANTS", ("hj212", "modbus")) if v != "hj212")
_VARIANT_SEPARATORS = re.compile(r"[\s,;|]+")

#: service region (服务区域) -> provinces, as in SERVICE.md (Chinese short names)
REGIONS: dict[str, tuple[str, ...]] = {
    "辽吉黑蒙": ("辽宁", "吉林", "黑龙江", "内蒙古"),
    "京津冀鲁": ("北京", "天津", "河北", "山东"),
    "晋豫陕": ("山西", "河南", "陕西"),
    "宁青甘新": ("宁夏", "青海", "甘肃", "新疆"),
    "云贵川渝": ("云南", "贵州", "四川", "重庆"),
    "粤桂湘琼鄂": ("广东", "广西", "湖南", "海南", "湖北"),
    "浙闽赣": ("浙江", "福建", "江西"),
    "苏皖沪": ("江苏", "安徽", "上海"),
}
#: provinces in no region of the seed; a station there needs an explicit region
UNREGIONED = ("西藏", "香港", "澳门", "台湾")

# Province names as people type them: Chinese short and full forms, pinyin, English.
_ALIASES: dict[str, tuple[str, ...]] = {
    "辽宁": ("liaoning",), "吉林": ("jilin",), "黑龙江": ("heilongjiang",),
    "内蒙古": ("neimenggu", "innermongolia", "neimongol", "nei mongol"),
    "北京": ("beijing", "peking"), "天津": ("tianjin",), "河北": ("hebei",),
    "山东": ("shandong",), "山西": ("shanxi",), "河南": ("henan",),
    "陕西": ("shaanxi",), "宁夏": ("ningxia",), "青海": ("qinghai",), "甘肃": ("gansu",),
    "新疆": ("xinjiang",), "云南": ("yunnan",), "贵州": ("guizhou",),
    "四川": ("sichuan",), "重庆": ("chongqing",), "广东": ("guangdong",),
    "广西": ("guangxi",), "湖南": ("hunan",), "海南": ("hainan",), "湖北": ("hubei",),
    "浙江": ("zhejiang",), "福建": ("fujian",), "江西": ("jiangxi",),
    "江苏": ("jiangsu",), "安徽": ("anhui",), "上海": ("shanghai",),
    "西藏": ("xizang", "tibet"), "香港": ("hongkong", "xianggang"),
    "澳门": ("macao", "macau", "aomen"), "台湾": ("taiwan",),
}
_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "特别行政区", "省", "市")
_EN_SUFFIXES = ("province", "autonomousregion", "municipality", "sar", "city")


def _key(text: str) -> str:
    return re.sub(r"[\s\-_.'’]", "", text).lower()


_PROVINCE_BY_KEY: dict[str, str] = {}
for _name, _names in _ALIASES.items():
    _PROVINCE_BY_KEY[_name] = _name
    for _alias in _names:
        _PROVINCE_BY_KEY[_key(_alias)] = _name
_REGION_OF: dict[str, str] = {p: r for r, ps in REGIONS.items() for p in ps}


def province_name(text: str) -> str | None:
    """The Chinese short name of a province given in Chinese (short or full) or pinyin or
    English (any case, spaces ignored), or None."""
    raw = text.strip()
    for suffix in _SUFFIXES:
        if raw.endswith(suffix) and raw[: -len(suffix)] in _ALIASES:
            return raw[: -len(suffix)]
    key = _key(raw)
    if key in _PROVINCE_BY_KEY:
        return _PROVINCE_BY_KEY[key]
    for suffix in _EN_SUFFIXES:
        if key.endswith(suffix) and key[: -len(suffix)] in _PROVINCE_BY_KEY:
            return _PROVINCE_BY_KEY[key[: -len(suffix)]]
    return None


def region_of(province: str) -> str | None:
    """The service region of a province (Chinese short name), None for the four outside."""
    return _REGION_OF.get(province)


@dataclass(frozen=True, slots=True)
class Station:
    mn: str
    pw: str
    enterprise: str
    outlet: str
    st: str
    edition: int
    province: str  # Chinese short name
    region: str
    rtd_interval: int
    min_interval: int
    active: bool = True
    #: CRC variants (names of CRC_VARIANTS) the gateway accepts from this station
    crc_variants: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Limit:
    """Limits of one pollutant at one station. NaN where a bound does not apply."""

    mn: str
    code: str  # 2017 pollutant code
    limit_low: float
    limit_high: float
    basis: str  # "avg" or "zs_avg": which hourly value is held against the limit
    range_low: float
    range_high: float
    unit: str
    active: bool = True


# --- checks: each returns a message, or None when the value is fine ----------------------

_HEX24 = re.compile(r"^[0-9A-F]{24}$")
_ALNUM = re.compile(r"^[0-9A-Za-z]{1,24}$")
_CODE_2017 = re.compile(r"^[a-z][0-9]{5}$")
_PW_FORBIDDEN = set(";,=&\r\n")


def check_mn(mn: str, edition: int) -> str | None:
    if edition in (2017, 2025):
        if _HEX24.match(mn):
            return None
        hint = " (use upper-case A-F)" if _HEX24.match(mn.upper()) else ""
        return (f"a {edition} MN is 24 characters 0-9/A-F (an EPC-96 code); got {len(mn)} "
                f"characters{hint}")
    if _ALNUM.match(mn):
        return None
    return "a 2005 MN is 1 to 24 letters or digits"


def check_pw(pw: str) -> str | None:
    if len(pw) != 6:
        return f"PW is exactly 6 characters; got {len(pw)}"
    if any(c in _PW_FORBIDDEN or not c.isprintable() or ord(c) > 126 for c in pw):
        return "PW is 6 printable ASCII characters without ; , = &"
    return None


def check_st(st: str) -> str | None:
    if st == "91":
        return "ST 91 is system interaction (answers), not a kind of station"
    if re.fullmatch(r"\d{2}", st) and hj212.lookup("st", st) is not None:
        return None
    return "ST must be a system code of the standard, e.g. 31 flue gas, 32 waste water " \
           "(see `hj212 codes st`)"


def check_edition(edition: int) -> str | None:
    return None if edition in EDITIONS else "edition is 2005, 2017 or 2025"


def parse_crc_variants(text: str) -> tuple[str, ...]:
    """Variant names as written in a cell ("modbus", "modbus;other", ...), lower case, in
    order, each once; empty text gives ()."""
    names = [n.lower() for n in _VARIANT_SEPARATORS.split(text.strip()) if n]
    return tuple(dict.fromkeys(names))


def format_crc_variants(names: tuple[str, ...]) -> str:
    """The canonical text of a variant list (CSV cell and ClickHouse column)."""
    return ",".join(names)


def check_crc_variants(names: tuple[str, ...]) -> str | None:
    if "hj212" in names:
        return "hj212 is the standard's CRC, always accepted; name only the other ones"
    unknown = [n for n in names if n not in CRC_VARIANTS]
    if not unknown:
        return None
    return (f"unknown CRC variant {', '.join(unknown)}; known: {', '.join(CRC_VARIANTS)} "
            "(empty: only the standard's CRC)")


def check_rtd_interval(seconds: int) -> str | None:
    if RTD_INTERVAL_MIN <= seconds <= RTD_INTERVAL_MAX:
        return None
    return f"RtdInterval is {RTD_INTERVAL_MIN}..{RTD_INTERVAL_MAX} seconds"


def check_min_interval(minutes: int) -> str | None:
    if minutes in MIN_INTERVALS:
        return None
    return ("MinInterval is a number of minutes that divides an hour: "
            + ", ".join(str(m) for m in MIN_INTERVALS))


def check_pollutant_code(code: str) -> str | None:
    if _CODE_2017.match(code):
        return None
    new = hj212.pollutant_2017(code)
    if new:
        return f"use the 2017 code {new} for the 2005 code {code}"
    return "a pollutant code is the 2017 form: one lower-case letter and 5 digits, e.g. w01018"


def check_basis(basis: str) -> str | None:
    return None if basis in BASES else "basis is avg (waste water) or zs_avg (flue gas, " \
                                       "converted to reference O2)"


def is_nan(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)
