"""Words the pages share: Chinese first, English beside it (DESIGN.md, Conventions)."""

from __future__ import annotations

from typing import Final

from pipeline.detect.names import CLASS_ZH, DATA_TYPES, RULES, canonical, rule_class
from pipeline.detect.names import RULE_ZH as RULE_ZH  # the one map, shared with pipeline


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


RULE_LABELS: Final = {rule: bi(zh, en) for rule, (zh, en) in RULES.items()}


def rule_label(rule: str) -> str:
    """``超标 over limit (over_limit)``: the rule's name with its code beside it."""
    label = RULE_LABELS.get(canonical(rule))
    return f"{label} ({rule})" if label else rule


def rule_class_label(rule: str, stored: str = "") -> str:
    """``数值 value``: the rule's class as the row stored it (migration 015), or for an
    older row as the vocabulary gives it; '—' for a rule the vocabulary does not know."""
    cls = stored or rule_class(rule) or ""
    return bi(CLASS_ZH[cls], cls) if cls in CLASS_ZH else "—"


def data_type_label(cn: int) -> str:
    """``小时 hourly``: a data type (CN) in the users' words; 0 is the station as a whole
    (offline, missing data)."""
    if cn in DATA_TYPES:
        return bi(*DATA_TYPES[cn])
    return bi("整站", "station") if not cn else str(cn)


def region_label(region: str) -> str:
    """A service region as shown; '' is a station the registry does not know."""
    return region or NO_REGION


def severity_label(severity: str) -> str:
    return SEVERITY_LABELS.get(severity, severity)


def query_caption(*names: str) -> str:
    """The small caption under a figure naming the named queries it comes from."""
    return bi("数据来源", "source") + ": " + ", ".join(
        f"`{name}`" for name in names) + " (pipeline/store/)"
