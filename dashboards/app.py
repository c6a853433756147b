"""The web app's entry script (``hj212 ui`` runs ``streamlit run`` on it).

Before a sign-in the only page is the login form; after it, the pages the user's roles
allow (``navigation.py``), each of which checks the role again itself.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboards import auth, navigation
from dashboards.labels import APP_TITLE, bi


def _no_pages() -> None:
    st.warning(bi("您的角色暂无可查看的页面，请联系管理员。",
                  "No page is open to your roles yet; ask an administrator."))


def _login_at(key: str) -> Callable[[], None]:
    def page() -> None:
        auth.login_page()

    # Streamlit tells pages given as functions apart by their names
    page.__name__ = f"login_at_{key}"
    return page


def main() -> None:
    st.set_page_config(page_title=APP_TITLE, page_icon=":material/monitoring:",
                       layout="wide")
    user = auth.current_user()
    if user is None:
        # every page's address shows the login form too, so a bookmark or a shared link
        # asks for a sign-in (and then opens that page) instead of "page not found"
        pages = [st.Page(auth.login_page, title=bi("登录", "Sign in"),
                         icon=":material/login:", url_path="login", default=True)]
        pages += [st.Page(_login_at(spec.key), title=spec.title, url_path=spec.key)
                  for spec in navigation.PAGES]
        st.navigation(pages, position="hidden").run()
        return
    auth.sidebar(user)
    specs = navigation.pages_for(user)
    if not specs:
        page = st.navigation([st.Page(_no_pages, title=APP_TITLE, url_path="none",
                                      default=True)])
        page.run()
        return
    first = specs[0]
    page = st.navigation({
        section: [st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.key,
                          default=spec is first) for spec in group]
        for section, group in navigation.sections_for(user).items()
    }, expanded=True)  # every page in view: the menu folds after ten links otherwise
    page.run()


main()
