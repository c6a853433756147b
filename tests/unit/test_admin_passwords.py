"""Password policy and argon2 hashing (admin/passwords.py): no server."""

from __future__ import annotations

import pytest

from admin.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    PasswordPolicyError,
    check_policy,
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)

SECRET = "correct horse battery"


def test_policy_accepts_ten_characters_and_more():
    assert MIN_LENGTH == 10
    check_policy("x" * 10, "zhang.wei")
    check_policy("密码也可以是中文的十个字", "zhang.wei")


@pytest.mark.parametrize(("password", "rule"), [
    ("short-pw1", "at least 10"),
    ("", "at least 10"),
    (" " * 12, "only blanks"),
    ("Zhang.Wei.Admin"[:9], "at least 10"),
    ("x" * (MAX_LENGTH + 1), "at most"),
])
def test_policy_refusals_name_the_rule_never_the_password(password, rule):
    with pytest.raises(PasswordPolicyError, match=rule) as exc:
        check_policy(password, "zhang.wei")
    if password.strip():
        assert password not in str(exc.value)
    assert "fix:" in str(exc.value)


def test_the_user_name_is_not_a_password_in_any_case():
    with pytest.raises(PasswordPolicyError, match="is the user name"):
        check_policy("Operator.01", "operator.01")


def test_hash_is_salted_argon2id_and_verifies():
    one, two = hash_password(SECRET), hash_password(SECRET)
    assert one.startswith("$argon2id$") and one != two
    assert SECRET not in one
    assert verify_password(one, SECRET) and verify_password(two, SECRET)
    assert not verify_password(one, SECRET + " ")
    assert not verify_password(one, "")
    assert not needs_rehash(one)


def test_damaged_or_empty_hashes_match_nothing():
    assert not verify_password("", SECRET)
    assert not verify_password("$argon2id$garbage", SECRET)
    assert not verify_password("plain text", SECRET)
    assert needs_rehash("plain text")


def test_oversized_input_is_refused_unhashed():
    stored = hash_password("y" * MAX_LENGTH)
    assert verify_password(stored, "y" * MAX_LENGTH)
    assert not verify_password(stored, "y" * (MAX_LENGTH + 1))


def test_the_stand_in_hash_of_unknown_names_is_one_and_real():
    assert dummy_hash() is dummy_hash()
    assert dummy_hash().startswith("$argon2id$")
    assert not verify_password(dummy_hash(), SECRET)
