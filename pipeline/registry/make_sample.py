"""Generate the bundled sample registry (``data/stations.csv`` and ``data/limits.csv``).

Run once, commit the CSVs: ``python -m pipeline.registry.make_sample``. Seeded, so a
re-run writes the same bytes. The stations are waste-water and flue-gas outlets of made-up
enterprises spread over every province of the eight service regions (and two in Tibet,
which needs an explicit region). Limits follow the national standards such stations are
held to (GB 18918 for municipal waste-water plants, GB 8978 and sewer discharge for
industry, ultra-low emission and GB 13223 / GB 13271 for boilers), with analyser ranges
of the usual 2 to 5 times the limit.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from pipeline.registry import csv_io
from pipeline.registry.model import REGIONS, Limit, Station

DATA_DIR = Path(__file__).parent / "data"
SEED = 212
N_STATIONS = 320
NAN = math.nan

_CITIES: dict[str, tuple[str, ...]] = {
    "辽宁": ("沈阳", "大连", "鞍山"), "吉林": ("长春", "吉林"), "黑龙江": ("哈尔滨", "大庆"),
    "内蒙古": ("呼和浩特", "包头", "鄂尔多斯"), "北京": ("北京",), "天津": ("天津",),
    "河北": ("石家庄", "唐山", "邯郸"), "山东": ("济南", "青岛", "淄博", "潍坊"),
    "山西": ("太原", "大同", "长治"), "河南": ("郑州", "洛阳", "新乡"), "陕西": ("西安", "榆林"),
    "宁夏": ("银川", "石嘴山"), "青海": ("西宁",), "甘肃": ("兰州", "金昌"),
    "新疆": ("乌鲁木齐", "昌吉"), "云南": ("昆明", "曲靖"), "贵州": ("贵阳", "遵义"),
    "四川": ("成都", "宜宾", "德阳"), "重庆": ("重庆",), "广东": ("广州", "深圳", "佛山", "东莞"),
    "广西": ("南宁", "柳州"), "湖南": ("长沙", "株洲", "岳阳"), "海南": ("海口",),
    "湖北": ("武汉", "宜昌", "襄阳"), "浙江": ("杭州", "宁波", "绍兴", "嘉兴"),
    "福建": ("福州", "厦门", "泉州"), "江西": ("南昌", "九江"),
    "江苏": ("南京", "苏州", "无锡", "南通", "盐城"), "安徽": ("合肥", "芜湖", "马鞍山"),
    "上海": ("上海",), "西藏": ("拉萨",),
}
_STEMS = "华东恒盛鑫源泰达新宏远润金绿清中天力永嘉瑞丰海安"
_WATER_KINDS = ("污水处理厂", "化工有限公司", "印染有限公司", "造纸有限公司", "制药有限公司",
                "食品有限公司", "电镀有限公司")
_GAS_KINDS = ("热电有限公司", "发电有限责任公司", "钢铁有限公司", "水泥有限公司",
              "玻璃有限公司", "焦化有限公司", "供热有限公司")

# (code, limit_low, limit_high, range_low, range_high, unit) per discharge standard
_WATER_CLASSES: dict[str, list[tuple[str, float, float, float, float, str]]] = {
    "GB18918-1A": [("w01018", NAN, 50, 0, 200, "mg/L"), ("w21003", NAN, 5, 0, 20, "mg/L"),
                   ("w21011", NAN, 0.5, 0, 5, "mg/L"), ("w21001", NAN, 15, 0, 50, "mg/L")],
    "GB18918-1B": [("w01018", NAN, 60, 0, 200, "mg/L"), ("w21003", NAN, 8, 0, 20, "mg/L"),
                   ("w21011", NAN, 1, 0, 5, "mg/L"), ("w21001", NAN, 20, 0, 50, "mg/L")],
    "GB8978-1": [("w01018", NAN, 100, 0, 500, "mg/L"), ("w21003", NAN, 15, 0, 50, "mg/L"),
                 ("w21011", NAN, 0.5, 0, 5, "mg/L"), ("w21001", NAN, NAN, 0, 100, "mg/L")],
    "sewer": [("w01018", NAN, 500, 0, 1500, "mg/L"), ("w21003", NAN, 45, 0, 100, "mg/L"),
              ("w21011", NAN, 8, 0, 20, "mg/L"), ("w21001", NAN, 70, 0, 200, "mg/L")],
}
_WATER_COMMON = [("w00000", NAN, NAN, 0, 500, "L/s"), ("w01001", 6, 9, 0, 14, "-")]

_GAS_CLASSES: dict[str, list[tuple[str, float, float, float, float, str]]] = {
    "ultra-low": [("a34013", NAN, 10, 0, 50, "mg/m3"), ("a21026", NAN, 35, 0, 200, "mg/m3"),
                  ("a21002", NAN, 50, 0, 300, "mg/m3")],
    "GB13223": [("a34013", NAN, 20, 0, 100, "mg/m3"), ("a21026", NAN, 50, 0, 300, "mg/m3"),
                ("a21002", NAN, 100, 0, 500, "mg/m3")],
    "GB13271": [("a34013", NAN, 30, 0, 200, "mg/m3"), ("a21026", NAN, 200, 0, 1000, "mg/m3"),
                ("a21002", NAN, 200, 0, 1000, "mg/m3")],
}
_GAS_COMMON = [("a19001", NAN, NAN, 0, 25, "%"), ("a00000", NAN, NAN, 0, 500, "m3/s"),
               ("a01012", NAN, NAN, 0, 300, "degC"), ("a01013", NAN, NAN, -10, 10, "kPa"),
               ("a01014", NAN, NAN, 0, 40, "%")]
# converted-to-reference-O2 values are what flue-gas limits apply to
_ZS_CODES = {"a34013", "a21026", "a21002"}


def _mn(rng: random.Random, edition: int, used: set[str]) -> str:
    while True:
        if edition == 2005:
            mn = "".join(rng.choice("0123456789") for _ in range(14))
        else:
            mn = f"{rng.getrandbits(96):024X}"
        if mn not in used:
            used.add(mn)
            return mn


def make(seed: int = SEED, n: int = N_STATIONS) -> tuple[list[Station], list[Limit]]:
    rng = random.Random(seed)
    provinces = [p for ps in REGIONS.values() for p in ps]
    # industrial provinces hold more stations, as they do in reality
    weights = [3 if p in ("江苏", "浙江", "山东", "广东", "河北", "河南") else 1
               for p in provinces]
    stations: list[Station] = []
    limits: list[Limit] = []
    used: set[str] = set()
    for i in range(n):
        gas = i % 2 == 1
        if i < 2:
            province, region = "西藏", "宁青甘新"  # outside the seed's regions: explicit
        else:
            province = rng.choices(provinces, weights)[0]
            region = next(r for r, ps in REGIONS.items() if province in ps)
        roll = rng.random()
        edition = 2005 if roll < 0.15 else (2025 if roll < 0.3 else 2017)
        city = rng.choice(_CITIES[province])
        stem = "".join(rng.sample(_STEMS, 2))
        kind = rng.choice(_GAS_KINDS if gas else _WATER_KINDS)
        enterprise = f"{city}{stem}{kind}"
        if gas:
            k = rng.randint(1, 3)
            outlet = f"DA00{k} {k}号锅炉排放口"
            table = _GAS_CLASSES[rng.choice(list(_GAS_CLASSES))] + _GAS_COMMON
        else:
            outlet = "DW001 废水总排口"
            cls = "GB18918-1A" if kind == "污水处理厂" and rng.random() < 0.7 else \
                rng.choice(list(_WATER_CLASSES))
            table = _WATER_COMMON + _WATER_CLASSES[cls]
        mn = _mn(rng, edition, used)
        pw = "".join(rng.choice("0123456789") for _ in range(6))
        stations.append(Station(
            mn=mn, pw=pw, enterprise=enterprise, outlet=outlet, st="31" if gas else "32",
            edition=edition, province=province, region=region,
            rtd_interval=rng.choice((30, 60, 60, 300)), min_interval=rng.choice((10, 10, 5, 1)),
            active=rng.random() > 0.03,
        ))
        for code, lo, hi, rlo, rhi, unit in table:
            limits.append(Limit(mn=mn, code=code, limit_low=lo, limit_high=hi,
                                basis="zs_avg" if code in _ZS_CODES else "avg",
                                range_low=rlo, range_high=rhi, unit=unit))
    return stations, limits


def main() -> None:
    stations, limits = make()
    DATA_DIR.mkdir(exist_ok=True)
    with (DATA_DIR / "stations.csv").open("w", encoding="utf-8", newline="") as fh:
        csv_io.write_stations(stations, fh)
    with (DATA_DIR / "limits.csv").open("w", encoding="utf-8", newline="") as fh:
        csv_io.write_limits(limits, fh)
    print(f"wrote {len(stations)} stations and {len(limits)} limits to {DATA_DIR}")


if __name__ == "__main__":
    main()
