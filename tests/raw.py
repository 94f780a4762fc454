"""What a person must never read: raw values, for the page tests."""

from __future__ import annotations

from lib import fr

#: Raw values of Python, pandas and JavaScript.
RAW = ("None", "nan", "NaN", "NaT", "<NA>", "null", "undefined", "inf")


def assert_no_raw_text(text: str) -> None:
    """Fail when ``text`` shows a raw value as a word."""
    import re

    for raw in RAW:
        assert not re.search(rf"(?<![\w-]){re.escape(raw)}(?![\w-])", text), (raw, text)


def assert_no_raw_frame(table) -> None:
    """Fail on a raw value a person would read in a ``st.dataframe``.

    The grid draws on a canvas: what it shows is the frame's cells as they
    are and, for empty cells, the placeholder, which must be a dash.

    Parameters
    ----------
    table : streamlit.testing.v1.element_tree.Dataframe
    """
    assert table.proto.placeholder == fr.MISSING
    frame = table.value
    for column in frame.columns:
        for value in frame[column]:
            if fr.is_missing(value):
                continue  # shown as the placeholder
            assert_no_raw_text(str(value))
