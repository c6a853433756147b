"""Roles, region scope and permission checks (admin/roles.py): pure, no server."""

from __future__ import annotations

import pytest

from admin.accounts import ROLE_LABELS, PermissionDenied, Role, User, require
from admin.roles import (
    SERVICE_REGIONS,
    AccountError,
    can_see_region,
    check_scope,
    check_username,
    parse_regions,
    parse_roles,
    require_region,
)
from pipeline.registry.model import REGIONS


def user(*roles: Role, regions: tuple[str, ...] = (), active: bool = True) -> User:
    return User(username="zhang.wei", display_name="张伟", roles=frozenset(roles),
                regions=frozenset(regions), active=active)


def test_the_six_roles_and_their_labels_chinese_first():
    assert {r.value for r in Role} == {"duty_operator", "duty_supervisor", "field_engineer",
                                       "quality", "analyst", "admin"}
    assert ROLE_LABELS == {
        Role.DUTY_OPERATOR: "值守员 duty operator",
        Role.DUTY_SUPERVISOR: "值守主管 duty supervisor",
        Role.FIELD_ENGINEER: "驻地工程师 field engineer",
        Role.QUALITY: "质量管理 quality",
        Role.ANALYST: "分析 analyst",
        Role.ADMIN: "管理员 admin",
    }
    assert Role("analyst") is Role.ANALYST and Role.ANALYST == "analyst"


def test_service_regions_are_the_registrys_eight():
    assert tuple(REGIONS) == SERVICE_REGIONS
    assert len(SERVICE_REGIONS) == 8 and "苏皖沪" in SERVICE_REGIONS


def test_has_is_any_of_and_admin_has_every_role():
    op = user(Role.DUTY_OPERATOR)
    assert op.has(Role.DUTY_OPERATOR)
    assert op.has(Role.ANALYST, Role.DUTY_OPERATOR)
    assert not op.has(Role.ANALYST)
    assert op.has()  # any active user
    admin = user(Role.ADMIN)
    assert all(admin.has(r) for r in Role)
    assert admin.is_admin


def test_a_disabled_user_has_nothing_and_sees_nothing():
    off = user(Role.ADMIN, active=False)
    assert not off.has() and not off.has(Role.ADMIN)
    assert not off.sees_region("苏皖沪")
    with pytest.raises(PermissionDenied, match="disabled"):
        require(off, Role.ANALYST)


def test_require_names_the_role_needed():
    require(user(Role.ANALYST), Role.ANALYST)
    require(user(Role.ADMIN), Role.QUALITY)
    with pytest.raises(PermissionDenied) as exc:
        require(user(Role.ANALYST), Role.DUTY_SUPERVISOR, Role.QUALITY)
    text = str(exc.value)
    assert "zhang.wei" in text
    assert "值守主管 duty supervisor or 质量管理 quality" in text
    assert "fix:" in text


def test_region_scope():
    eng = user(Role.FIELD_ENGINEER, regions=("苏皖沪", "浙闽赣"))
    assert eng.sees_region("苏皖沪") and can_see_region(eng, "浙闽赣")
    assert not eng.sees_region("京津冀鲁")
    with pytest.raises(PermissionDenied, match="京津冀鲁"):
        require_region(eng, "京津冀鲁")
    # empty: every region; admin: every region whatever is stored
    assert user(Role.ANALYST).sees_region("京津冀鲁")
    assert user(Role.ADMIN, regions=("苏皖沪",)).sees_region("京津冀鲁")


def test_role_labels_in_role_order():
    assert user(Role.ADMIN, Role.DUTY_OPERATOR).role_labels == [
        "值守员 duty operator", "管理员 admin"]


@pytest.mark.parametrize("name", ["zhang.wei", "Li_Na", "  ops-1 ", "ab"])
def test_usernames_allowed_are_normalized(name):
    assert check_username(name) == name.strip().lower()


@pytest.mark.parametrize("name", ["a", "", "1abc", "zhang wei", "张伟", "a'b", "x" * 33,
                                  "bob;drop"])
def test_usernames_refused_say_what_is_allowed(name):
    with pytest.raises(AccountError, match="fix: 2 to 32 characters"):
        check_username(name)


def test_roles_and_regions_are_checked_by_name():
    assert parse_roles(["analyst", Role.ADMIN, " Quality "]) == {
        Role.ANALYST, Role.ADMIN, Role.QUALITY}
    with pytest.raises(AccountError, match=r"role 'boss' does not exist.*duty_operator"):
        parse_roles(["boss"])
    assert parse_regions([" 苏皖沪"]) == {"苏皖沪"}
    with pytest.raises(AccountError, match=r"region '江苏' does not exist.*苏皖沪"):
        parse_regions(["江苏"])


def test_a_field_engineer_needs_a_region_and_everyone_a_role():
    with pytest.raises(AccountError, match="at least one role"):
        check_scope(frozenset(), frozenset())
    with pytest.raises(AccountError, match="field engineer"):
        check_scope(frozenset({Role.FIELD_ENGINEER}), frozenset())
    check_scope(frozenset({Role.FIELD_ENGINEER}), frozenset({"苏皖沪"}))
    check_scope(frozenset({Role.FIELD_ENGINEER, Role.ADMIN}), frozenset())
    check_scope(frozenset({Role.ANALYST}), frozenset())
