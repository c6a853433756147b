"""What an audit row may hold (admin/audit.py), checked without a server."""

from __future__ import annotations

import json

import pytest

from admin.audit import AuditLog, clip, encode_detail


def test_detail_is_sorted_json_with_chinese_readable():
    text = encode_detail({"roles": ["analyst"], "display_name": "张伟"})
    assert text == '{"display_name": "张伟", "roles": ["analyst"]}'
    assert json.loads(text)["display_name"] == "张伟"
    assert encode_detail(None) == "{}" and encode_detail({}) == "{}"


@pytest.mark.parametrize("key", ["password", "new_password", "Passwd", "password_hash",
                                 "hash", "token", "api_secret", "pw", "pwd"])
def test_secret_looking_keys_are_refused_by_name(key):
    with pytest.raises(ValueError, match=f"audit detail key '{key}' looks like a secret"):
        encode_detail({key: "x"})


def test_long_text_is_clipped():
    assert clip("zhang.wei") == "zhang.wei"
    long = "x" * 200
    assert len(clip(long)) == 65 and clip(long).endswith("…")


class _NoServer:
    def insert_columns(self, *_a, **_k):  # pragma: no cover - must not be reached
        raise AssertionError("nothing may be written")


def test_a_bad_action_or_detail_writes_nothing():
    log = AuditLog(_NoServer())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="audit action 'User Add'"):
        log.record("root", "User Add")
    with pytest.raises(ValueError, match="password"):
        log.record("root", "user_passwd", detail={"password": "hunter2hunter2"})
