"""Words the pages share: Chinese first, English beside it (DESIGN.md, Conventions)."""

from __future__ import annotations

from typing import Final


def bi(zh: str, en: str) -> str:
    """A label in both languages, the users' own first."""
    return f"{zh} {en}"


APP_TITLE_ZH: Final = "污染源自动监控平台"
APP_TITLE_EN: Final = "HJ 212 pollution-source monitoring"
APP_TITLE: Final = bi(APP_TITLE_ZH, "HJ 212 monitoring")
NO_REGION: Final = bi("未登记", "unregistered")

#: severities of alarm episodes (pipeline.detect.model.Severity), gravest first
SEVERITIES: Final = ("critical", "major", "warning", "info")
SEVERITY_LABELS: Final = {
    "critical": bi("严重", "critical"),
    "major": bi("重要", "major"),
    "warning": bi("警告", "warning"),
    "info": bi("提示", "info"),
}


#: the detectors' rules (pipeline/detect: rules.RULE_NAMES, missing.py, offline) in the
#: users' words and in English; one map for every page and the weekly report
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
RULE_LABELS: Final = {rule: bi(zh, en) for rule, (zh, en) in RULES.items()}


def rule_label(rule: str) -> str:
    """``超标 over limit (over_limit)``: the rule's name with its code beside it."""
    label = RULE_LABELS.get(rule)
    return f"{label} ({rule})" if label else rule


def region_label(region: str) -> str:
    """A service region as shown; '' is a station the registry does not know."""
    return region or NO_REGION


def severity_label(severity: str) -> str:
    return SEVERITY_LABELS.get(severity, severity)


def query_caption(*names: str) -> str:
    """The small caption under a figure naming the named queries it comes from."""
    return bi("数据来源", "source") + ": " + ", ".join(
        f"`{name}`" for name in names) + " (pipeline/store/)"
