"""Each role signs in, sees its name and roles, finds exactly the pages its roles allow,
and every one of them draws without an exception; a screenshot of each is saved under
tests/browser/screenshots/ (<user>_<page>.png)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from admin.accounts import ROLE_LABELS, Role, User
from dashboards import navigation
from dashboards.data import UNAVAILABLE
from tests.browser import browser_seed
from tests.browser.browser_driver import SIGN_OUT

pytestmark = pytest.mark.integration


def _user(username: str) -> User:
    _, display, roles, regions = next(u for u in browser_seed.USERS if u[0] == username)
    return User(username=username, display_name=display, roles=frozenset(roles),
                regions=frozenset(regions), active=True)


def _key(href: str, default: str) -> str:
    """The page key of a menu link: its path, or the default page's key at the root."""
    return urlsplit(href).path.strip("/") or default


@pytest.mark.parametrize("username", [u[0] for u in browser_seed.USERS])
def test_each_role_visits_its_pages(app, driver, username):
    user = _user(username)
    allowed = navigation.pages_for(user)
    assert allowed, f"{username} may open no page"
    driver.sign_in(app.url, username, browser_seed.PASSWORD)
    driver.wait_for(f"{username}'s first page", lambda: allowed[0].title in driver.text())
    driver.idle()

    sidebar = driver.css('[data-testid="stSidebar"]')[0].text
    assert user.display_name in sidebar
    for role in Role:
        assert (ROLE_LABELS[role] in sidebar) == (role in user.roles), (role, sidebar)
    links = {_key(a.get_attribute("href"), allowed[0].key)
             for a in driver.css('[data-testid="stSidebarNav"] a')}
    if len(allowed) > 1:  # one page only: Streamlit draws no menu
        assert links == {p.key for p in allowed}
    for page in navigation.PAGES:
        if page not in allowed:
            assert page.key not in links

    for page in allowed:
        if page is not allowed[0]:
            link = next(a for a in driver.css('[data-testid="stSidebarNav"] a')
                        if _key(a.get_attribute("href"), allowed[0].key) == page.key)
            link.click()
            driver.wait_for(f"the page {page.key}", lambda p=page: p.title in driver.text())
        driver.idle()
        driver.screenshot(f"{username}_{page.key}")
        assert driver.exceptions() == [], f"{page.key} as {username}"
        assert UNAVAILABLE not in driver.text(), f"{page.key} as {username}"


def test_sign_out_returns_to_the_login_form(app, driver):
    driver.sign_in(app.url, "analyst", browser_seed.PASSWORD)
    driver.idle()
    driver.button(SIGN_OUT).click()
    driver.wait_for("the signed-out note", lambda: "您已退出登录" in driver.text())
    driver.idle()
    assert driver.css('input[aria-label="密码 Password"]')
    driver.screenshot("signed_out")
