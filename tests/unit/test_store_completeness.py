"""Which hours and days a batch touches, and the completeness rows made from counts."""

from datetime import datetime, timedelta

import numpy as np

from pipeline.store.completeness import Period, figures, periods_of

CST = timedelta(hours=8)


def epoch(local: datetime) -> int:
    return int((local - CST - datetime(1970, 1, 1)).total_seconds())


def test_hours_of_minute_data_and_days_of_hourly_data_on_china_time():
    times = [datetime(2024, 3, 1, 0, 10), datetime(2024, 3, 1, 0, 50),
             datetime(2024, 3, 1, 7, 59), datetime(2024, 3, 1, 23, 0),
             datetime(2024, 3, 1, 0, 0)]
    cns = np.array([2051, 2051, 2051, 2061, 2011])
    got = periods_of(cns, np.array([epoch(t) for t in times], dtype=np.int64),
                     ["A", "A", "B", "A", "A"])
    assert got == {
        ("A", Period("hour", epoch(datetime(2024, 3, 1, 0, 0)))),
        ("B", Period("hour", epoch(datetime(2024, 3, 1, 7, 0)))),
        # 23:00 CST is 15:00 UTC: still the CST day of March 1st
        ("A", Period("day", epoch(datetime(2024, 3, 1)))),
    }


def test_rows_per_pollutant_and_station_with_the_three_rates():
    p = Period("day", epoch(datetime(2024, 3, 1)))
    cols = figures(p, {"A": 24}, [("A", "w01018", 12, 9)], [("A", 12, 6)], now=1000.0)
    assert cols["code"] == ["w01018", ""]
    assert cols["transmission_rate"] == [0.5, 0.5]
    assert cols["validity_rate"] == [0.75, 0.5]
    assert cols["transmission_efficiency"] == [0.375, 0.25]
    assert cols["period"] == ["day", "day"] and cols["period_start"] == [p.start, p.start]
    assert cols["version"] == [1_000_000, 1_000_000]


def test_more_records_than_expected_cap_the_transmission_rate():
    p = Period("hour", 0)
    cols = figures(p, {"A": 6}, [("A", "a21026", 8, 8)], [], now=0.0)
    assert cols["transmission_rate"] == [1.0]
