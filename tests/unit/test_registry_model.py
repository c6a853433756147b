"""Registry rules: MN, PW, ST, cadences, provinces and their service regions."""

from __future__ import annotations

import pytest

from pipeline.registry import model


@pytest.mark.parametrize("text,province,region", [
    ("江苏", "江苏", "苏皖沪"), ("江苏省", "江苏", "苏皖沪"), ("Jiangsu", "江苏", "苏皖沪"),
    ("jiangsu province", "江苏", "苏皖沪"), ("Inner Mongolia", "内蒙古", "辽吉黑蒙"),
    ("内蒙古自治区", "内蒙古", "辽吉黑蒙"), ("广西壮族自治区", "广西", "粤桂湘琼鄂"),
    ("Shaanxi", "陕西", "晋豫陕"), ("Shanxi", "山西", "晋豫陕"), ("上海市", "上海", "苏皖沪"),
    ("Chongqing", "重庆", "云贵川渝"), ("新疆维吾尔自治区", "新疆", "宁青甘新"),
    ("Tibet", "西藏", None), ("Hong Kong", "香港", None),
])
def test_province_names_and_regions(text, province, region):
    assert model.province_name(text) == province
    assert model.region_of(province) == region


def test_every_seed_province_has_one_region():
    provinces = [p for ps in model.REGIONS.values() for p in ps]
    assert len(provinces) == len(set(provinces)) == 30
    assert len(model.REGIONS) == 8
    assert model.province_name("Atlantis") is None


def test_mn_forms():
    assert model.check_mn("010000A8900016F000169DC0", 2017) is None
    assert model.check_mn("010000A8900016F000169DC0", 2025) is None
    assert "upper-case" in (model.check_mn("010000a8900016f000169dc0", 2017) or "")
    assert "24 characters" in (model.check_mn("12345", 2017) or "")
    assert model.check_mn("12345678901234", 2005) is None
    assert model.check_mn("A" * 25, 2005) is not None
    assert model.check_mn("12-34", 2005) is not None


def test_pw_st_cadences_codes():
    assert model.check_pw("123456") is None
    assert "exactly 6" in (model.check_pw("12345") or "")
    assert model.check_pw("12;456") is not None
    assert model.check_st("31") is None and model.check_st("32") is None
    assert "system interaction" in (model.check_st("91") or "")
    assert model.check_st("99") is not None
    assert model.check_rtd_interval(30) is None and model.check_rtd_interval(3600) is None
    assert model.check_rtd_interval(29) is not None and model.check_rtd_interval(3601) is not None
    assert model.check_min_interval(10) is None and model.check_min_interval(7) is not None
    assert model.check_pollutant_code("w01018") is None
    assert "w01018" in (model.check_pollutant_code("011") or "")
    assert model.check_basis("zs_avg") is None and model.check_basis("max") is not None
