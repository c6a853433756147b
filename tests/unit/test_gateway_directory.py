"""The gateway's station directory from a stations CSV is the registry's reading of it:
same columns, checks, encodings and errors as `hj212 stations import`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pipeline.gateway.auth import CachedDirectory, StationEntry, csv_loader
from pipeline.registry import csv_io
from pipeline.registry.cli import SAMPLE_FILES

HEADER = ",".join(csv_io.STATION_COLUMNS)
MN = "010000A8900016F000169DC0"
ROW = f"{MN},123456,某化工有限公司,DW001,32,2017,江苏,,60,10"


def load(tmp_path: Path, text: str, encoding: str = "utf-8") -> dict[str, StationEntry]:
    path = tmp_path / "stations.csv"
    path.write_bytes(text.encode(encoding))
    return dict(csv_loader(path)())


def test_the_sample_registry_loads_with_every_station(tmp_path: Path) -> None:
    entries = csv_loader(SAMPLE_FILES[0])()
    reg = csv_io.read_files([SAMPLE_FILES[0]])
    assert len(entries) == len(reg.stations) >= 300
    for s in reg.stations:
        e = entries[s.mn]
        assert (e.pw, e.st, e.edition, e.active, e.crc_variants) == (
            s.pw, s.st, s.edition, s.active, ())


@pytest.mark.parametrize(("cell", "active"), [("1", True), ("", True), ("t", True),
                                              ("是", True), ("0", False), ("f", False),
                                              ("false", False), ("否", False)])
def test_active_means_what_the_registry_says(tmp_path: Path, cell: str, active: bool) -> None:
    # the gateway's own reader once took "f" for active; the registry's takes it for false
    entries = load(tmp_path, f"{HEADER}\n{ROW},{cell}\n")
    assert entries[MN].active is active


def test_a_bad_row_is_refused_naming_file_line_column_and_value(tmp_path: Path) -> None:
    text = (f"{HEADER}\n{ROW},1\n"
            "ABC,12,某厂,DW001,32,2017,江苏,,60,10,1\n")  # line 3: bad MN and PW
    with pytest.raises(ValueError) as info:
        load(tmp_path, text)
    message = str(info.value)
    path = tmp_path / "stations.csv"
    assert "HJ212_GATEWAY__REGISTRY_CSV" in message and "uses none of the file" in message
    assert f"{path}:3: column mn='ABC'" in message and "24 characters" in message
    assert f"{path}:3: column pw='12'" in message and "6 characters" in message
    assert "--dry-run" in message


def test_missing_columns_are_the_registrys_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing column"):
        load(tmp_path, f"mn,pw\n{MN},123456\n")


def test_a_limits_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a limits file"):
        load(tmp_path, ",".join(csv_io.LIMIT_COLUMNS) + "\n")


def test_an_unreadable_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(OSError, match=r"HJ212_GATEWAY__REGISTRY_CSV=.*cannot be read"):
        csv_loader(tmp_path / "nope.csv")()


def test_gb18030_and_crc_variants(tmp_path: Path) -> None:
    header = HEADER + ",crc_variants"
    text = (f"{header}\n{ROW},1,modbus\n"
            "43559874088992,480139,某水泥有限公司,DA001,31,2005,西藏,宁青甘新,30,10,0,\n")
    entries = load(tmp_path, text, "gb18030")
    assert entries[MN].crc_variants == ("modbus",)
    assert entries["43559874088992"] == StationEntry("43559874088992", "480139", "31", 2005,
                                                     False, ())


def test_an_unknown_crc_variant_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r":2: column crc_variants='crc32'.*unknown CRC variant"):
        load(tmp_path, f"{HEADER},crc_variants\n{ROW},1,crc32\n")


def test_a_bad_refresh_keeps_the_last_directory(tmp_path: Path) -> None:
    path = tmp_path / "stations.csv"
    path.write_text(f"{HEADER}\n{ROW},1\n", encoding="utf-8")

    async def main() -> None:
        d = CachedDirectory(csv_loader(path), refresh_s=0.05, source="csv")
        await d.load()
        d.start()
        path.write_text(f"{HEADER}\nBAD,1,x,,32,2017,江苏,,60,10,1\n", encoding="utf-8")
        await asyncio.sleep(0.2)
        assert d.lookup(MN) is not None  # the broken file did not lock the station out
        await d.stop()

    asyncio.run(main())
