"""The [admin] and [ui] settings: defaults, limits, and a secret never shown."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.config import SECRET_SHOWN, ConfigError, load_settings, settings_rows

PASSWORD = "first admin pw 0451"


def test_defaults():
    s = load_settings(env={})
    assert s.admin.initial_password == ""
    assert (s.ui.host, s.ui.port, s.ui.session_ttl_s) == ("127.0.0.1", 8501, 8 * 3600)
    assert (s.ui.login_fail_window_s, s.ui.login_fail_limit, s.ui.login_fail_source_limit,
            s.ui.login_lockout_s, s.ui.login_lockout_max_s) == (900, 5, 20, 30, 900)


def test_env_and_limits():
    s = load_settings(env={"HJ212_UI__PORT": "8600", "HJ212_UI__LOGIN_FAIL_LIMIT": "0"})
    assert s.ui.port == 8600 and s.ui.login_fail_limit == 0
    with pytest.raises(ConfigError, match="HJ212_UI__SESSION_TTL_S"):
        load_settings(env={"HJ212_UI__SESSION_TTL_S": "5"})
    with pytest.raises(ConfigError, match="HJ212_UI__PORT"):
        load_settings(env={"HJ212_UI__PORT": "0"})


def test_the_initial_password_is_read_but_never_shown():
    s = load_settings(env={"HJ212_ADMIN__INITIAL_PASSWORD": PASSWORD})
    assert s.admin.initial_password == PASSWORD
    assert PASSWORD not in repr(s)
    rows = {env: value for env, _toml, value, _source in settings_rows(s)}
    assert rows["HJ212_ADMIN__INITIAL_PASSWORD"] == SECRET_SHOWN
    assert PASSWORD not in str(rows)
    # unset, it shows as empty: nothing to hide
    rows = {env: value for env, _t, value, _s in settings_rows(load_settings(env={}))}
    assert rows["HJ212_ADMIN__INITIAL_PASSWORD"] == ""


def test_hj212_settings_hides_it():
    result = CliRunner().invoke(main, ["settings"],
                                env={"HJ212_ADMIN__INITIAL_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    assert "HJ212_ADMIN__INITIAL_PASSWORD" in result.output
    assert SECRET_SHOWN in result.output and PASSWORD not in result.output


def test_a_bad_secret_value_is_not_echoed_in_the_error(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[admin]\ninitial_password = 123456789012345\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(config, env={})
    assert "initial_password" in str(exc.value)
    assert "123456789012345" not in str(exc.value)
