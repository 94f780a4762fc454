"""French formatting of what a person reads: dates and times, counts.

One module for every screen and export, built on Babel's CLDR data
(locale ``fr_FR``) rather than hand-written replacements. Times are stored
in UTC (ISO 8601) and shown in the time of mainland France.
"""

from __future__ import annotations

import datetime as dt

from babel.dates import format_datetime, get_timezone
from babel.numbers import format_decimal

__all__ = ["LOCALE", "MISSING", "count", "date_time", "number", "time_of_day"]

#: The locale of the interface.
LOCALE = "fr_FR"
#: What stands for a value that is not known.
MISSING = "—"
_PARIS = get_timezone("Europe/Paris")


def _moment(value: str | dt.datetime | None) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def time_of_day(value: str | dt.datetime | None) -> str:
    """Return the hour of a moment in Paris: « 14:05 ».

    Parameters
    ----------
    value : str, datetime or None
        As for :func:`date_time`.

    Returns
    -------
    str
        The hour, or :data:`MISSING`.
    """
    moment = _moment(value)
    if moment is None:
        return MISSING
    return format_datetime(moment, "HH:mm", tzinfo=_PARIS, locale=LOCALE)


def date_time(value: str | dt.datetime | None) -> str:
    """Return a moment as French text: « 2 déc. 2026 à 05:15 ».

    Parameters
    ----------
    value : str, datetime or None
        An ISO 8601 time (UTC when it has no offset) or a datetime.

    Returns
    -------
    str
        The time in Paris, or :data:`MISSING` when there is none or it
        cannot be read.
    """
    moment = _moment(value)
    if moment is None:
        return MISSING
    return format_datetime(moment, "d MMM y 'à' HH:mm", tzinfo=_PARIS, locale=LOCALE)


def number(value: float | int) -> str:
    """Return a number written the French way: « 1 234,5 ».

    Parameters
    ----------
    value : int or float

    Returns
    -------
    str
        Digits grouped by a narrow no-break space, decimal comma.
    """
    return format_decimal(value, locale=LOCALE)


def count(n: int, singular: str, plural: str | None = None) -> str:
    """Return « 1 problème », « 2 problèmes », « 0 problème ».

    Parameters
    ----------
    n : int
    singular : str
        The noun (with its adjectives) for one.
    plural : str, optional
        For two or more; ``singular + "s"`` by default. French takes the
        singular for 0 and 1.

    Returns
    -------
    str
    """
    word = singular if abs(n) < 2 else (plural or f"{singular}s")
    return f"{number(n)}\u00a0{word}"
