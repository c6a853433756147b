"""What the detectors' rules and severities are called, in the users' words and in
English: one map for the pages, the weekly report, `hj212 alarms` and `hj212 notify`."""

from __future__ import annotations

from typing import Final

#: rule -> (Chinese, English); every rule of rules.RULE_NAMES, missing.py and offline
RULES: Final[dict[str, tuple[str, str]]] = {
    "over_limit": ("超标", "over limit"),
    "negative": ("负值", "negative"),
    "zero_streak": ("连续零值", "zero streak"),
    "constant_streak": ("数据恒值", "constant streak"),
    "out_of_range": ("超出量程", "out of range"),
    "spike": ("数据突变", "spike"),
    "non_n_flag": ("非正常数据标记", "non-N flag"),
    "logic_min_avg_max": ("最小/均值/最大值矛盾", "min/avg/max logic"),
    "logic_zs_without_o2": ("折算值缺少氧含量", "converted without O2"),
    "logic_cou": ("排放量逻辑异常", "total (Cou) logic"),
    "time_future": ("数据时间超前", "data time in future"),
    "time_stale": ("数据时间滞后", "stale data time"),
    "time_conflict": ("数据时间冲突", "data time conflict"),
    "offline": ("站点离线", "offline"),
    "missing": ("数据缺失", "missing data"),
    "missing_data": ("数据缺失", "missing data"),
}
RULE_ZH: Final = {rule: zh for rule, (zh, _) in RULES.items()}

#: severities, gravest first, in Chinese
SEVERITY_ZH: Final = {"critical": "严重", "major": "重要", "warning": "警告", "info": "提示"}


def rule_zh(rule: str) -> str:
    return RULE_ZH.get(rule, rule)
