"""French formatting of what a person reads: dates and times, counts.

One module for every screen and export, built on Babel's CLDR data
(locale ``fr_FR``) rather than hand-written replacements. Times are stored
in UTC (ISO 8601) and shown in the time of mainland France.
"""

from __future__ import annotations

import datetime as dt

from babel.dates import format_datetime, get_timezone

__all__ = ["LOCALE", "MISSING", "date_time", "time_of_day"]

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
