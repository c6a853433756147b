"""Findings into alarm steps (pipeline/clues/episodes.py): open, update, clear, and a
period swept again writes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from pipeline.clues.episodes import ClueBook, KnownAlarm
from pipeline.clues.model import Finding, Judgement
from pipeline.clues.settings import ClueSettings

S = ClueSettings.load()
RULE = S.rule("clue_hour_vs_minute")
MN = "STATION00000000000000001"
H = datetime(2026, 11, 10, 10)
HOUR = timedelta(hours=1)


def judged(at: datetime, found: bool, code: str = "w01018") -> Judgement:
    j = Judgement(RULE.rule, judged={(MN, code)})
    if found:
        j.findings.append(Finding(MN, code, RULE.rule, 2061, at, at, "中文 / English",
                                  {"value": 1.0, "threshold": 2.0}))
    return j


def transitions(steps) -> list[tuple[str, int, datetime, datetime]]:
    return [(s.event.transition, s.number, s.opened_at, s.event.last_seen) for s in steps]


def test_open_update_clear():
    book = ClueBook()
    assert transitions(book.apply(judged(H, True), H, RULE)) == [("open", 1, H, H)]
    assert transitions(book.apply(judged(H + HOUR, True), H + HOUR, RULE)) == [
        ("update", 2, H, H + HOUR)]
    steps = book.apply(judged(H + 2 * HOUR, False), H + 2 * HOUR, RULE)
    assert transitions(steps) == [("clear", 3, H, H + 2 * HOUR)]
    assert steps[0].event.severity == RULE.severity
    assert steps[0].event.evidence["cleared_by"] == str(H + 2 * HOUR)
    # a new finding later is a new alarm
    assert transitions(book.apply(judged(H + 5 * HOUR, True), H + 5 * HOUR, RULE)) == [
        ("open", 1, H + 5 * HOUR, H + 5 * HOUR)]


def test_no_data_clears_nothing():
    book = ClueBook()
    book.apply(judged(H, True), H, RULE)
    nothing = Judgement(RULE.rule)  # the station was silent: not judged
    assert book.apply(nothing, H + HOUR, RULE) == []
    assert (MN, "w01018", RULE.rule) in book.open


def test_periods_swept_again_write_nothing():
    open_alarm = KnownAlarm(MN, "w01018", RULE.rule, "open", "major", 2061, H, H + HOUR, 2)
    book = ClueBook([open_alarm])
    assert book.apply(judged(H, True), H, RULE) == []
    assert book.apply(judged(H + HOUR, True), H + HOUR, RULE) == []
    assert transitions(book.apply(judged(H + 2 * HOUR, True), H + 2 * HOUR, RULE)) == [
        ("update", 3, H, H + 2 * HOUR)]
    cleared = KnownAlarm(MN, "w01018", RULE.rule, "cleared", "major", 2061, H, H + 3 * HOUR, 4)
    book = ClueBook([cleared])
    assert book.apply(judged(H + HOUR, True), H + HOUR, RULE) == []
    assert book.apply(judged(H + 2 * HOUR, False), H + 2 * HOUR, RULE) == []


def test_steps_carry_the_evidence_and_the_class():
    (step,) = ClueBook().apply(judged(H, True), H, RULE)
    assert step.event.evidence["class"] == "clue"
    assert step.event.evidence["value"] == 1.0
    assert step.event.first_seen == H and step.event.cn == 2061


def test_when_and_from_what_it_was_raised_stays_on_every_step():
    book = ClueBook()
    wall = datetime(2026, 11, 10, 13, 2, 5)
    (opened,) = book.apply(judged(H, True), H, RULE, period_cn=2061, now=wall)
    (updated,) = book.apply(judged(H + HOUR, True), H + HOUR, RULE, now=wall + HOUR)
    (cleared,) = book.apply(judged(H + 2 * HOUR, False), H + 2 * HOUR, RULE,
                            now=wall + 2 * HOUR)
    for step in (opened, updated, cleared):
        assert (step.raised_at, step.raised_data_time, step.opened_cn) == (wall, H, 2061)
    day = datetime(2026, 11, 10)
    (daily,) = ClueBook().apply(judged(day, True), day, RULE, period_cn=2031, now=wall)
    assert daily.opened_cn == 2031 and daily.raised_data_time == day
