"""Streamlit's own English kept away from the user, in a real browser.

Each page path is opened as the first request after a fresh server start
(no "Page not found"); the sidebar's multiselects offer no "Select all"; the
⋮ menu offers no "Print" or "Record screen".
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from tests.browser import streamlit_server
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")


TIMEOUT_MS = 90_000
#: Every URL path of the menu, and the root.
PATHS = ("", "accueil", "carte", "annuaire", "collectivites", "statistiques",
         "presentation", "donnees", "sources", "reperes")  # fmt: skip
#: The title each path shows.
TITLES = {
    "": "Atlas des PTCE",
    "accueil": "Atlas des PTCE",
    "carte": "Carte",
    "annuaire": "Annuaire des PTCE",
    "collectivites": "Collectivités",
    "statistiques": "Statistiques",
    "presentation": "",  # the title of the récit's first view
    "donnees": "Données",
    "sources": "Territoires et sources",
    "reperes": "Repères — collectivités et PTCE",
}
ENGLISH = re.compile(r"Page not found|Select all|Select \d+ matches|\bPrint\b|Record")


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    from lib.io.demo import install_demo
    from lib.store.ptce import Store

    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'atlas.sqlite'}"
    install_demo(Store(url))
    return {"DATABASE_URL": url}


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(url)
    # The shared sidebar is drawn on every page once the script has run
    # (hidden on the full-screen Présentation).
    page.wait_for_selector(
        "[data-testid='sidebar-counter']", state="attached", timeout=TIMEOUT_MS
    )
    page.wait_for_selector("h1", timeout=TIMEOUT_MS)
    _idle(page)
    return page


def _idle(page) -> None:
    # Streamlit marks its root when a run ends: a click during a run may land
    # on a widget that is being redrawn (seen on a loaded machine).
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']",
        timeout=TIMEOUT_MS,
    )


def _visible_text(page) -> str:
    return page.evaluate("document.body.innerText")


@pytest.mark.parametrize("path", PATHS)
def test_every_path_works_as_the_first_request(browser, built_cache, database, path):
    with streamlit_server(ROOT, env=database) as url:
        page = _open(browser, f"{url}/{path}")
        try:
            page.wait_for_function(
                "t => [...document.querySelectorAll('h1')]"
                ".some(h => h.innerText.includes(t))",
                arg=TITLES[path],
                timeout=TIMEOUT_MS,
            )
            text = _visible_text(page)
            assert "Page not found" not in text
            assert "main page" not in text
            assert not ENGLISH.search(text), ENGLISH.search(text)
            # The address stays the one asked for (no jump to the home).
            assert urlparse(page.url).path == f"/{path}"
        finally:
            page.close()


@pytest.fixture(scope="module")
def server(built_cache, database):
    with streamlit_server(ROOT, env=database) as url:
        yield url


def test_multiselects_offer_no_select_all(browser, server):
    page = _open(browser, f"{server}/annuaire")
    try:
        boxes = page.locator("[data-testid='stSidebar'] [data-testid='stMultiSelect']")
        assert boxes.count() >= 8
        for i in range(boxes.count()):
            listbox = _open_dropdown(page, boxes.nth(i))
            options = listbox.inner_text()
            assert options.strip(), f"multiselect {i}: no option shown"
            assert "Select all" not in options, f"multiselect {i}: {options[:80]}"
            assert not re.search(r"Select \d+ matches", options)
            page.keyboard.press("Escape")
    finally:
        page.close()


def _open_dropdown(page, box):
    """Open a multiselect's list of options (a click may only focus it)."""
    listbox = page.locator("[data-testid='stMultiSelectDropdown']")
    for _ in range(5):
        _idle(page)
        box.click()
        try:
            listbox.first.wait_for(timeout=3_000)
            return listbox.first
        except sync_api.TimeoutError:
            page.keyboard.press("Escape")
    raise AssertionError("the multiselect's options never opened")


def test_main_menu_offers_nothing_in_english(browser, server):
    page = _open(browser, f"{server}/carte")
    try:
        menu = page.locator("[data-testid='stMainMenu']")
        if menu.count():
            menu.first.click()
            popover = page.locator("[data-testid='stMainMenuPopover']")
            popover.wait_for(timeout=TIMEOUT_MS)
            items = popover.inner_text()
            assert "Print" not in items and "Record" not in items, items
        text = _visible_text(page)
        assert "Print" not in text and "Record a screencast" not in text
    finally:
        page.close()
