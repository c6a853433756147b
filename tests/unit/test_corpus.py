"""The simulated logger corpus: deterministic, realistic in shape, and honest about errors."""

from __future__ import annotations

import re
from collections import Counter

import hj212
import pytest

from pipeline.simulator import DEFECTS, Corpus, DeviceSpec
from pipeline.simulator.corpus import GAS, PROFILES, WATER, reframe


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    a = Corpus(42, stations=20, error_rate=0.1).frames(300)
    b = Corpus(42, stations=20, error_rate=0.1).frames(300)
    c = Corpus(43, stations=20, error_rate=0.1).frames(300)
    assert a == b
    assert a != c


def test_frames_continue_the_same_sequence() -> None:
    whole = Corpus(5).frames(50)
    split = Corpus(5)
    assert split.frames(20) + split.frames(30) == whole


def test_good_frames_all_parse_strictly_and_match_their_station() -> None:
    corpus = Corpus(7, stations=60)
    samples = corpus.samples(2000)
    assert all(s.good for s in samples)
    for s in samples:
        frame = hj212.parse(s.raw, strict=True)
        assert frame.mn == s.station.mn
        assert frame.pw == s.station.pw
        assert int(frame.cn) == s.cn
        assert int(frame.st) == s.station.st
        assert frame.edition == s.station.edition
        assert frame.data_time is not None and len(frame.data_time) == 14
        assert 1 <= len(frame.pollutants) <= 20
        if s.cn == 2011:
            assert len(frame.pollutants) == len(s.station.pollutants)
        else:
            # period records of stations with many factors carry what fits one packet
            assert list(frame.pollutants) == [
                s.station.wire_code(c) for c in s.station.pollutants[: len(frame.pollutants)]
            ]
        assert len(frame.cp_text) <= 950 and len(frame.segment) <= 1024
        assert not frame.warnings


def test_editions_and_their_wire_forms() -> None:
    samples = Corpus(11, stations=80).samples(3000)
    by_edition = Counter(s.station.edition for s in samples)
    assert set(by_edition) == {2005, 2017, 2025}
    rf_seen = False
    for s in samples:
        frame = hj212.parse(s.raw)
        if s.station.edition == 2005:
            assert frame.qn is None and frame.flag is None
            assert len(frame.mn or "") == 14
            # short 2005 codes such as 011-Rtd
            assert all(len(code) <= 3 for code in frame.pollutants)
        else:
            assert frame.qn is not None and len(frame.qn) == 17
            assert re.fullmatch(r"[0-9A-F]{24}", frame.mn or "")
            assert all(len(code) == 6 for code in frame.pollutants)
            if s.station.edition == 2017:
                assert frame.flag in (4, 5)
            else:
                assert frame.flag == 9
                rf_seen = rf_seen or frame.rf == "1"
        assert len(frame.pw or "") == 6
    assert rf_seen


def test_commands_and_fields_per_data_type() -> None:
    samples = Corpus(3, stations=40).samples(3000)
    assert {s.cn for s in samples} == {2011, 2051, 2061, 2031}
    for s in samples[:500]:
        frame = hj212.parse(s.raw)
        suffixes = {suffix for fields in frame.pollutants.values() for suffix in fields}
        assert "Flag" in suffixes
        if s.cn == 2011:
            assert "Rtd" in suffixes and "Avg" not in suffixes
        else:
            assert {"Min", "Avg", "Max"} <= suffixes and "Rtd" not in suffixes
        if s.station.st == 31 and s.station.edition != 2005:
            zs = {"a21026", "a21002", "a34013"} & set(frame.pollutants)
            for code in zs:
                assert ("ZsRtd" if s.cn == 2011 else "ZsAvg") in frame.pollutants[code]


def test_station_kinds_use_their_pollutant_codes() -> None:
    corpus = Corpus(9, stations=100)
    water_codes = {p.code for p in WATER}
    gas_codes = {p.code for p in GAS}
    sts = {s.st for s in corpus.stations}
    assert sts == {31, 32}
    for station in corpus.stations:
        assert 1 <= len(station.pollutants) <= 20
        allowed = gas_codes if station.st == 31 else water_codes
        assert set(station.pollutants) <= allowed
    assert max(len(s.pollutants) for s in corpus.stations) > 8


def test_2005_codes_agree_with_the_codec_tables() -> None:
    for profile in PROFILES.values():
        if profile.code_2005 is not None:
            assert hj212.pollutant_2017(profile.code_2005) == profile.code, profile


@pytest.mark.parametrize("rate", [0.05, 0.3])
def test_error_share_close_to_requested_and_every_defect_rejected(rate: float) -> None:
    n = 4000
    samples = Corpus(13, stations=50, error_rate=rate).samples(n)
    bad = [s for s in samples if s.defect is not None]
    assert abs(len(bad) / n - rate) < 0.03
    assert {s.defect for s in bad} == set(DEFECTS)
    for s in samples:
        if s.defect is None:
            hj212.parse(s.raw, strict=True)
            continue
        with pytest.raises(hj212.FrameError):
            hj212.parse(s.raw, strict=True)
        # lenient parsing may tolerate a defect (a wrong length field with a good CRC),
        # but never silently
        try:
            frame = hj212.parse(s.raw)
        except hj212.FrameError:
            continue
        assert frame.warnings, (s.defect, s.raw)


def test_defects_are_what_they_say() -> None:
    for defect, kinds in {
        "crc": {"crc"},
        "length": {"length"},
        "truncated": {"length", "tail", "crc"},
        # bytes that are never UTF-8; the codec may blame the value they landed in
        "garbage": {"encoding", "value", "cp", "field"},
        "date": {"value", "cp", "field"},
        "value": {"value", "cp"},
    }.items():
        samples = Corpus(17, error_rate=1.0, defects=[defect]).samples(100)
        for s in samples:
            with pytest.raises(hj212.FrameError) as info:
                hj212.parse(s.raw, strict=True)
            assert info.value.kind in kinds, (defect, info.value.kind, str(info.value))


def test_deviations_parse_leniently_with_a_warning() -> None:
    samples = Corpus(19, deviation_rate=1.0).samples(200)
    assert {s.deviation for s in samples} == {"crc_lowercase", "bare_lf"}
    for s in samples:
        frame = hj212.parse(s.raw)
        assert frame.warnings, s.raw


def test_stream_is_the_frames_in_chunks() -> None:
    frames = Corpus(23, error_rate=0.0).frames(300)
    chunks = list(Corpus(23, error_rate=0.0).stream(300, chunk_size=97))
    assert b"".join(chunks) != b""
    assert max(len(c) for c in chunks) <= 97
    # chunking draws from the same generator, so compare what the Framer makes of it
    framer = hj212.Framer()
    out = [item for chunk in chunks for item in framer.feed(chunk)]
    assert [f.raw for f in out if isinstance(f, hj212.Frame)] == frames
    assert framer.buffered == 0


def test_stream_with_noise_and_errors_through_the_framer() -> None:
    corpus = Corpus(29, stations=30, error_rate=0.05)
    framer = hj212.Framer()
    accepted = rejected = 0
    for chunk in corpus.stream(3000, chunk_size=300, noise=0.05):
        for item in framer.feed(chunk):
            if isinstance(item, hj212.FrameError):
                rejected += 1
            else:
                accepted += 1
    assert accepted > 2500
    assert rejected > 0
    assert framer.stats["garbage_bytes"] > 0


def test_reframe_gives_a_valid_frame() -> None:
    raw = Corpus(31).frames(1)[0]
    assert reframe(raw[6:-6]) == raw
    assert hj212.parse(reframe(raw[6:-6]), strict=True).segment == raw[6:-6].decode()


def test_station_list_can_be_given() -> None:
    station = DeviceSpec(mn="0123456789ABCDEF01234567", pw="123456", st=32, edition=2017,
                      pollutants=("w01018", "w00000"),
                      baselines={"w01018": 30.0, "w00000": 20.0})
    frames = Corpus(1, stations=[station]).frames(20)
    for raw in frames:
        frame = hj212.parse(raw)
        assert frame.mn == station.mn
        assert set(frame.pollutants) == {"w01018", "w00000"}


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        Corpus(error_rate=1.5)
    with pytest.raises(ValueError, match="defects"):
        Corpus(error_rate=0.1, defects=["cosmic_ray"])
    with pytest.raises(ValueError, match="editions"):
        Corpus(editions={2010: 1.0})
