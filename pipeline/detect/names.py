"""The one vocabulary of alarm rules and severities: what the detectors write, what the
rules file may name, what the schema comments, the pages, the weekly report, `hj212
alarms` and `hj212 notify` show, in the users' words and in English.

Every rule belongs to one class:
- ``value``: a judgement on the values of one pollutant (``values.py``);
- ``time``: a judgement on a record's data time (``values.py``);
- ``station``: the station as a whole (``missing.py``: offline, missing data);
- ``clue``: a data-authenticity clue (异常线索) for the enforcement side: not a fault of
  the instruments but a sign that the data may not be true (``pipeline/clues/``).

Rows written before this list was one may carry older names; ``canonical`` maps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

RuleClass = Literal["value", "time", "station", "clue"]

#: gravest last, as the rules file and the routing file order them
SEVERITIES: Final = ("info", "warning", "major", "critical")
#: severities, gravest first, in Chinese
SEVERITY_ZH: Final = {"critical": "严重", "major": "重要", "warning": "警告", "info": "提示"}


@dataclass(frozen=True, slots=True)
class RuleName:
    rule: str
    zh: str
    en: str
    cls: RuleClass


_ALL: Final = (
    RuleName("over_limit", "超标", "over limit", "value"),
    RuleName("negative", "负值", "negative", "value"),
    RuleName("zero_streak", "连续零值", "zero streak", "value"),
    RuleName("constant_streak", "数据恒值", "constant streak", "value"),
    RuleName("out_of_range", "超出量程", "out of range", "value"),
    RuleName("spike", "数据突变", "spike", "value"),
    RuleName("non_n_flag", "非正常数据标记", "non-N flag", "value"),
    RuleName("logic_min_avg_max", "最小/均值/最大值矛盾", "min/avg/max logic", "value"),
    RuleName("logic_zs_without_o2", "折算值缺少氧含量", "converted without O2", "value"),
    RuleName("logic_cou", "排放量逻辑异常", "total (Cou) logic", "value"),
    RuleName("time_future", "数据时间超前", "data time in future", "time"),
    RuleName("time_stale", "数据时间滞后", "stale data time", "time"),
    RuleName("time_conflict", "数据时间冲突", "data time conflict", "time"),
    RuleName("offline", "站点离线", "offline", "station"),
    RuleName("missing", "数据缺失", "missing data", "station"),
    RuleName("clue_o2_conversion", "折算值与氧含量不符", "converted value disagrees with O2",
             "clue"),
    RuleName("clue_stopped_unflagged", "停运未标记", "stopped but flagged valid", "clue"),
    RuleName("clue_flagged_running", "标记停运但在运行", "flagged stopped while running",
             "clue"),
    RuleName("clue_hour_vs_minute", "小时数据与分钟数据不符", "hourly disagrees with minute data",
             "clue"),
    RuleName("clue_held_under_limit", "贴线排放", "held just under the limit", "clue"),
    RuleName("clue_repeated_day", "数据重复前日", "a day repeats an earlier day", "clue"),
    RuleName("clue_twin_stations", "两站数据雷同", "two stations send the same series", "clue"),
)

#: rule -> its entry, in the order above
VOCABULARY: Final[dict[str, RuleName]] = {r.rule: r for r in _ALL}
#: rule -> (Chinese, English)
RULES: Final[dict[str, tuple[str, str]]] = {r.rule: (r.zh, r.en) for r in _ALL}
RULE_ZH: Final = {rule: zh for rule, (zh, _) in RULES.items()}
#: the rules of each class, in the order above
VALUE_RULES: Final = tuple(r.rule for r in _ALL if r.cls == "value")
TIME_RULES: Final = tuple(r.rule for r in _ALL if r.cls == "time")
STATION_RULES: Final = tuple(r.rule for r in _ALL if r.cls == "station")
CLUE_RULES: Final = tuple(r.rule for r in _ALL if r.cls == "clue")
#: the rules the stream detectors write (the rules file's thresholds name these)
DETECTOR_RULES: Final = VALUE_RULES + TIME_RULES + STATION_RULES

#: names older rows and older schema comments used -> the rule they meant
OLD_NAMES: Final = {"missing_data": "missing", "constant": "constant_streak",
                    "flag": "non_n_flag"}


def canonical(rule: str) -> str:
    """The rule's name in this vocabulary (an older row's name mapped; unknown kept)."""
    return OLD_NAMES.get(rule, rule)


def rule_class(rule: str) -> RuleClass | None:
    found = VOCABULARY.get(canonical(rule))
    return found.cls if found else None


def rule_zh(rule: str) -> str:
    return RULE_ZH.get(canonical(rule), rule)


#: rule classes in the users' words (value, time, station, clue)
CLASS_ZH: Final = {"value": "数值", "time": "时间", "station": "站点", "clue": "异常线索"}

#: data types (CN) an alarm can come from, in the users' words and in English
DATA_TYPES: Final = {2011: ("实时", "real-time"), 2051: ("分钟", "minute"),
                     2061: ("小时", "hourly"), 2031: ("日", "daily")}


def data_type_zh(cn: int) -> str:
    """``实时``, ``分钟``, ``小时``, ``日``; another CN by number, 0 as ``站点`` (the
    station as a whole: offline, missing data)."""
    if cn in DATA_TYPES:
        return DATA_TYPES[cn][0]
    return "站点" if not cn else str(cn)


def _clock(t: datetime | str | None) -> str:
    """``MM-DD HH:MM:SS`` of a time or of its ISO text ('' when unknown)."""
    if t is None or t == "":
        return ""
    text = t.isoformat(sep=" ") if isinstance(t, datetime) else str(t).replace("T", " ")
    return text[5:19] if len(text) >= 19 else text


def raised_line(raised_at: datetime | str | None, raised_data_time: datetime | str | None,
                evidence_began: datetime | str | None, opened_cn: int) -> str:
    """When, from what: ``发出 05-10 12:01:07（数据 12:00:00），证据始于 05-10 11:00:00，来自
    小时数据`` for the notices, the duty desk and the run screen. An older alarm row
    knows no raised time: the line then says only when its evidence began."""
    parts = []
    if raised_at:
        data = _clock(raised_data_time)
        parts.append(f"发出 {_clock(raised_at)}" + (f"（数据 {data}）" if data else ""))
    if evidence_began:
        parts.append(f"证据始于 {_clock(evidence_began)}")
    if opened_cn:
        parts.append(f"来自{data_type_zh(opened_cn)}数据")
    return "，".join(parts)
