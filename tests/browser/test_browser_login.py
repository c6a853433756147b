"""The login form: a wrong password and an unknown name get the same clear message,
which says nothing about whether the user exists; the form shows no page before it."""

from __future__ import annotations

import pytest

from dashboards import session
from tests.browser import browser_seed
from tests.browser.browser_app import free_port, running_app
from tests.browser.browser_driver import RUN_DIR

pytestmark = pytest.mark.integration


def test_a_page_address_asks_for_a_sign_in_and_then_opens_that_page(app, driver):
    driver.open(app.url + "overview")
    driver.field("用户名 User name")
    driver.idle()
    assert "总览 Overview" not in driver.text() and "Page not found" not in driver.text()
    assert not driver.css('[data-testid="stMetric"]')
    driver.screenshot("login")
    driver.field("用户名 User name").send_keys("analyst")
    driver.field("密码 Password").send_keys(browser_seed.PASSWORD)
    driver.button("登录 Sign in").click()
    driver.wait_for("the overview", lambda: "总览 Overview" in driver.text())
    driver.idle()
    assert driver.exceptions() == []


@pytest.mark.parametrize(("username", "password"), [
    ("admin", "not-the-password-1"),
    ("nobody-here", browser_seed.PASSWORD),
])
def test_a_wrong_login_gets_one_clear_message(app, driver, username, password):
    driver.sign_in(app.url, username, password)
    driver.wait_for("the refusal", lambda: session.BAD_CREDENTIALS in driver.text())
    driver.idle()
    assert "总览 Overview" not in driver.text()
    assert driver.exceptions() == []
    # the refused password does not stay in the form; the name does
    assert driver.field("密码 Password").get_attribute("value") == ""
    assert driver.field("用户名 User name").get_attribute("value") == username
    if username == "admin":
        driver.screenshot("login_wrong_password")


def test_clickhouse_down_is_a_clear_page(driver):
    """`hj212 ui` starts while ClickHouse is away (a port where nothing listens) and a
    sign-in gets the bilingual message, not a stack trace."""
    dead = f"clickhouse://default:@127.0.0.1:{free_port()}/hj212"
    with running_app(dead, RUN_DIR / "hj212-ui-down.log") as down:
        assert "could not check for a first user" in down.log.read_text()
        driver.sign_in(down.url, "admin", browser_seed.PASSWORD)
        driver.wait_for("the message", lambda: session.LOGIN_UNAVAILABLE in driver.text(),
                        timeout=20)
        driver.idle()
        assert driver.exceptions() == []
        driver.screenshot("clickhouse_down")
