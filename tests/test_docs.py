"""The README says what the app has: its table of pages is the app's menu."""

from __future__ import annotations

import re

from tests.conftest import ROOT

_MENU_ROW = re.compile(r'^\s+\(\w+, "([^"]+)", "[a-z_]+", "[a-z_]+"\),$', re.M)


def _readme_pages() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| page | contenu |", 1)[1].split("\n\n", 1)[0]
    return [
        line.split("|")[1].strip()
        for line in table.splitlines()
        if line.startswith("| ") and not line.startswith("| ---")
    ]


def test_readme_lists_every_page_of_the_menu_in_its_order():
    menu = _MENU_ROW.findall((ROOT / "app.py").read_text(encoding="utf-8"))
    assert len(menu) >= 8, "the menu table of app.py was not found"
    assert _readme_pages() == menu
