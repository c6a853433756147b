"""The login form: a wrong password and an unknown name get the same clear message,
which says nothing about whether the user exists; the form shows no page before it."""

from __future__ import annotations

import pytest

from dashboards import session
from tests.browser import browser_seed

pytestmark = pytest.mark.integration


def test_the_login_form_is_the_only_page_before_a_sign_in(app, driver):
    driver.open(app.url + "overview")
    driver.field("用户名 User name")
    driver.idle()
    assert "总览 Overview" not in driver.text()
    assert not driver.css('[data-testid="stMetric"]')
    driver.screenshot("login")


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
