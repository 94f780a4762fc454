"""French formatting of what a person reads: numbers, money, dates, plurals, order.

One module for every screen, chart and export, built on Babel's CLDR data
(locale ``fr_FR``) rather than hand-written replacements: digits are grouped
by a narrow no-break space, the decimal mark is a comma, « % » and « € » follow
a no-break space. Times are stored in UTC (ISO 8601) and shown in the time of
mainland France.

Every function takes missing values (None, NaN, NaT, ``pd.NA``, empty text) and
returns :data:`MISSING` for them (or the ``missing`` text given): a person never
reads « None » or « nan ».

Sorting for people uses :func:`sort_key`. Babel has no collation and PyICU needs
the ICU headers and a C++ build, so the key is a three-level comparison in
the manner of the Unicode Collation Algorithm, built on :mod:`unicodedata`: the
letters without accents and case first (« Île » among the I, « Écossolies »
among the E), then the accents, then the case. It is exact for the French
alphabet; it does not try to order other scripts the way ICU would.
"""

# size: every French formatter (numbers, money, dates, plurals), the collation key
# and the French argparse, so that every screen and export imports one « fr »;
# 24 functions, the longest 40 lines.

from __future__ import annotations

import argparse
import datetime as dt
import math
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any, SupportsFloat, SupportsIndex, TypeVar

from babel import Locale
from babel.dates import format_date, format_datetime, get_timezone
from babel.numbers import (
    format_compact_currency,
    format_currency,
    format_decimal,
    format_percent,
)

__all__ = [
    "LOCALE",
    "MISSING",
    "NOT_GIVEN",
    "VEGA_LOCALE",
    "ArgumentParser",
    "count",
    "date",
    "date_time",
    "euros",
    "euros_compact",
    "file_size",
    "integer",
    "is_missing",
    "number",
    "percent",
    "plural",
    "sort_key",
    "sorted_fr",
    "table",
    "text",
    "time_of_day",
    "year",
]

#: The locale of the interface.
LOCALE = "fr_FR"
#: What stands for a value that is not known (a number, a date, a name).
MISSING = "—"
#: What stands for a category nobody filled in (a filière, a phase…).
NOT_GIVEN = "non renseigné"
_PARIS = get_timezone("Europe/Paris")
_FR = Locale.parse(LOCALE)
_NNBSP = "\u202f"  # narrow no-break space: French digit grouping
_NBSP = "\u00a0"  # no-break space: before « € » and « % »

#: The d3-format / d3-time-format locale of Vega (``config.locale``), so that
#: Altair's axes, legends and tooltips write numbers as this module does.
VEGA_LOCALE: dict[str, Any] = {
    "number": {
        "decimal": ",",
        "thousands": _NNBSP,
        "grouping": [3],
        "currency": ["", f"{_NBSP}€"],
        "percent": f"{_NBSP}%",
        "minus": "\u2212",
        "nan": MISSING,
    },
    "time": {
        "dateTime": "%A %e %B %Y à %X",
        "date": "%d/%m/%Y",
        "time": "%H:%M:%S",
        "periods": ["", ""],
        # CLDR's names; d3 starts the week on Sunday, CLDR's index 6.
        "days": [_FR.days["format"]["wide"][(i + 6) % 7] for i in range(7)],
        "shortDays": [_FR.days["format"]["abbreviated"][(i + 6) % 7] for i in range(7)],
        "months": [_FR.months["format"]["wide"][i] for i in range(1, 13)],
        "shortMonths": [_FR.months["format"]["abbreviated"][i] for i in range(1, 13)],
    },
}

T = TypeVar("T")


# -- missing values -------------------------------------------------------------------


def is_missing(value: object) -> bool:
    """Tell whether a value stands for nothing known.

    Parameters
    ----------
    value : object
        Anything a table cell may hold.

    Returns
    -------
    bool
        True for None, NaN (float or numpy), NaT, ``pd.NA`` and text that is
        empty or only spaces.
    """
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return math.isnan(value)
    # pandas' NA and NaT, numpy scalars: without importing pandas here.
    name = type(value).__name__
    if name in ("NAType", "NaTType"):
        return True
    if hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0:
        try:
            return bool(value != value)  # NaN and NaT differ from themselves
        except (TypeError, ValueError):
            return False
    return False


def _unknown(value: object) -> bool:
    # An infinite ratio (a share of nothing) is no more known than a NaN.
    return is_missing(value) or (isinstance(value, float) and math.isinf(value))


def text(value: object, missing: str = MISSING) -> str:
    """Return a value as text, or ``missing`` when it is not known.

    Parameters
    ----------
    value : object
    missing : str, optional
        :data:`MISSING` by default; :data:`NOT_GIVEN` for a category.

    Returns
    -------
    str
    """
    if _unknown(value):
        return missing
    return str(value).strip()


# -- numbers -------------------------------------------------------------------------


def _pattern(decimals: int | None, suffix: str = "") -> str | None:
    if decimals is None:
        return None
    return "#,##0" + ("." + "0" * decimals if decimals > 0 else "") + suffix


def number(
    value: float | int | None, decimals: int | None = None, missing: str = MISSING
) -> str:
    """Return a number written the French way: « 1 234,5 ».

    Parameters
    ----------
    value : int or float or None
    decimals : int, optional
        Exactly this many digits after the comma (rounded half to even);
        by default as many as needed, at most three.
    missing : str, optional
        Returned for a missing value (:data:`MISSING`).

    Returns
    -------
    str
        Digits grouped by a narrow no-break space, decimal comma.
    """
    if value is None or _unknown(value):
        return missing
    text = format_decimal(value, format=_pattern(decimals), locale=LOCALE)
    return "0" if text in ("-0", "-0,0") and decimals == 0 else text


def integer(value: float | int | None, missing: str = MISSING) -> str:
    """Return a whole number: « 12 345 » (rounded), or ``missing``.

    Parameters
    ----------
    value : int or float or None
    missing : str, optional

    Returns
    -------
    str
    """
    return number(value, 0, missing)


def euros(value: float | int | None, decimals: int = 0, missing: str = MISSING) -> str:
    """Return an amount in euros: « 1 235 € » (whole euros by default).

    Amounts of support are known to the euro at best, often rounded to the
    thousand: cents would suggest a precision the sources do not have.

    Parameters
    ----------
    value : int or float or None
    decimals : int, optional
        Digits after the comma (0: whole euros; 2: « 1 234,50 € »).
    missing : str, optional

    Returns
    -------
    str
    """
    if value is None or _unknown(value):
        return missing
    return format_currency(
        value,
        "EUR",
        format=_pattern(decimals, f"{_NBSP}¤"),
        currency_digits=False,
        locale=LOCALE,
    )


def euros_compact(value: float | int | None, missing: str = MISSING) -> str:
    """Return an amount in a few characters: « 850 € », « 12 k€ », « 1,3 M€ ».

    Parameters
    ----------
    value : int or float or None
    missing : str, optional

    Returns
    -------
    str
        CLDR's short French form, the space inside « k € » dropped to keep
        the unit in one piece in a heatmap cell.
    """
    if value is None or _unknown(value):
        return missing
    if abs(value) < 1000:
        return euros(value, 0, missing)
    short = format_compact_currency(value, "EUR", locale=LOCALE, fraction_digits=1)
    return short.replace(f"{_NBSP}€", "€")


def file_size(n_bytes: float | int | None, missing: str = MISSING) -> str:
    """Return a size in French units: « 704 ko », « 19,3 Mo », « 1,2 Go ».

    Parameters
    ----------
    n_bytes : int or float or None
        A size in bytes (powers of 1,000, as the SI prefixes say).
    missing : str, optional

    Returns
    -------
    str
    """
    if n_bytes is None or _unknown(n_bytes):
        return missing
    for factor, unit, decimals in ((1e9, "Go", 1), (1e6, "Mo", 1), (1e3, "ko", 0)):
        if abs(n_bytes) >= factor:
            return f"{number(n_bytes / factor, decimals)}{_NBSP}{unit}"
    return f"{integer(n_bytes)}{_NBSP}{plural(int(n_bytes), 'octet')}"


def percent(share: float | None, decimals: int = 0, missing: str = MISSING) -> str:
    """Return a share as a percentage: ``percent(0.123, 1)`` → « 12,3 % ».

    Parameters
    ----------
    share : float or None
        A fraction of one (0.5 is half).
    decimals : int, optional
        Digits after the comma.
    missing : str, optional

    Returns
    -------
    str
    """
    if share is None or _unknown(share):
        return missing
    return format_percent(share, format=_pattern(decimals, f"{_NBSP}%"), locale=LOCALE)


def plural(n: int, singular: str, plural: str | None = None) -> str:
    """Return the form of a noun for ``n``: singular for 0 and 1, as in French.

    Parameters
    ----------
    n : int
    singular : str
    plural : str, optional
        ``singular + "s"`` by default.

    Returns
    -------
    str
    """
    return singular if abs(n) < 2 else (plural or f"{singular}s")


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
    word = globals()["plural"](n, singular, plural)
    return f"{integer(n)}{_NBSP}{word}"


# -- dates ---------------------------------------------------------------------------


def year(value: object, missing: str = MISSING) -> str:
    """Return a year as four digits, never grouped: « 2019 ».

    Parameters
    ----------
    value : int, float, str, date or None
        A year (2019, 2019.0, "2019") or a date.
    missing : str, optional

    Returns
    -------
    str
    """
    if is_missing(value):
        return missing
    if isinstance(value, dt.date):
        return str(value.year)
    if not isinstance(value, str | bytes | SupportsFloat | SupportsIndex):
        return missing
    try:
        return str(int(float(value)))
    except (TypeError, ValueError, OverflowError):
        return missing


def date(value: str | dt.date | None, missing: str = MISSING) -> str:
    """Return a day as French text: « 12 mars 2021 », « 1er mai 2026 ».

    Parameters
    ----------
    value : str, date, datetime or None
        An ISO 8601 date (« 2021-03-12 ») or a date; a datetime is taken as
        it is (no change of time zone).
    missing : str, optional

    Returns
    -------
    str
    """
    if value is None or is_missing(value):
        return missing
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return missing
    day: dt.date = value
    if hasattr(day, "to_pydatetime"):  # a pandas Timestamp
        day = day.to_pydatetime()
    if isinstance(day, dt.datetime):
        day = day.date()
    # French writes the first day of a month as an ordinal: « 1er mai ».
    text = format_date(day, "d MMMM y", locale=LOCALE)
    return "1er" + text[1:] if day.day == 1 else text


def _moment(value: str | dt.datetime | None) -> dt.datetime | None:
    if value is None or is_missing(value):
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


# -- order ---------------------------------------------------------------------------

#: Letters that Unicode does not decompose but French sorts as two.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE"})


def sort_key(value: object) -> tuple:
    """Return a key that sorts text in French dictionary order.

    Three levels, as the Unicode Collation Algorithm: the base letters
    (case and accents ignored, ligatures spelt out), then the accents, then
    the case; the text itself breaks the last ties. « Île-de-France » sorts
    among the I, « Les Écossolies » before « Les Grandlieu'Zarts », « cote »
    < « côte » < « Côte ». Missing values go last.

    Parameters
    ----------
    value : object
        Usually a str; anything else is sorted by its text.

    Returns
    -------
    tuple
    """
    if is_missing(value):
        return (1, "", "", "", "")
    raw = str(value).translate(_LIGATURES)
    decomposed = unicodedata.normalize("NFD", raw)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    accents = "".join(
        # One mark (or none) per base letter, compared letter by letter.
        "".join(
            c for c in unicodedata.normalize("NFD", letter) if unicodedata.combining(c)
        )
        or " "
        for letter in unicodedata.normalize("NFC", raw)
    )
    case = "".join("1" if c.isupper() else "0" for c in base)
    return (0, base.casefold(), accents, case, str(value))


def sorted_fr(items: Iterable[T], key: Callable[[T], object] | None = None) -> list[T]:
    """Sort for people: French dictionary order (see :func:`sort_key`).

    Parameters
    ----------
    items : iterable
    key : callable, optional
        The text of an item (the item itself by default).

    Returns
    -------
    list
    """
    if key is None:
        return sorted(items, key=sort_key)
    return sorted(items, key=lambda item: sort_key(key(item)))


# -- command lines ------------------------------------------------------------------

#: argparse's English messages (Python 3.11) and their French.
_ARGPARSE = [
    (r"the following arguments are required: (.*)", r"arguments obligatoires : \1"),
    (r"unrecognized arguments: (.*)", r"arguments inconnus : \1"),
    (
        r"invalid choice: (.*) \(choose from (.*)\)",
        r"choix impossible : \1 (possibles : \2)",
    ),
    (r"expected one argument", "une valeur est attendue"),
    (r"expected at least one argument", "au moins une valeur est attendue"),
    (r"expected (\d+) arguments?", r"\1 valeur(s) attendue(s)"),
    (r"invalid (\w+) value: (.*)", r"valeur incorrecte : \2"),
    (r"ambiguous option: (\S+) could match (.*)", r"option ambiguë : \1 (\2)"),
    (r"not allowed with argument (.*)", r"incompatible avec \1"),
    (r"one of the arguments (.*) is required", r"l'un des arguments \1 est requis"),
    (r"ignored explicit argument (.*)", r"valeur inattendue : \1"),
    (r"^argument (\S+): ", r"argument \1 : "),
]


def _argparse_french(message: str) -> str:
    for english, french in _ARGPARSE:
        message = re.sub(english, french, message)
    return message


class _HelpFormatter(argparse.HelpFormatter):
    def _format_usage(self, usage, actions, groups, prefix):
        # argparse passes prefix="" when it builds a sub-command's name.
        if prefix is None:
            prefix = "utilisation : "
        return super()._format_usage(usage, actions, groups, prefix)


class ArgumentParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` that speaks French.

    Usage, help headings and errors are in French; an error ends in one
    line « Erreur : … » after the usage, and exit code 2, as argparse does.
    Sub-commands made by ``add_subparsers().add_parser`` are French too.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = "arguments"
        self._optionals.title = "options"
        self.add_argument(
            "-h", "--help", action="help", help="afficher cette aide et quitter"
        )

    def add_subparsers(self, **kwargs):
        """Add French sub-commands (see :mod:`argparse`)."""
        kwargs.setdefault("parser_class", ArgumentParser)
        kwargs.setdefault("title", "commandes")
        kwargs.setdefault("metavar", "COMMANDE")
        return super().add_subparsers(**kwargs)

    def error(self, message: str):
        """Print the usage and the error in French; exit with code 2."""
        self.print_usage(sys.stderr)
        self.exit(2, f"Erreur : {_argparse_french(message)}\n")


# -- tables --------------------------------------------------------------------------


def table(
    frame, money: Iterable[str] = (), keep: Iterable[str] = (), missing: str = MISSING
):
    """Return a copy of a table ready to be read: no raw missing value in text.

    For ``st.dataframe``, which draws on a canvas: amounts become French text
    (« 12 000 € », the « (€) » of their header dropped: the unit is in each
    cell), text columns get ``missing`` for their empty cells. Numbers and
    years stay numbers, so that they sort; give ``st.dataframe`` the
    ``placeholder=MISSING`` for their empty cells.

    Parameters
    ----------
    frame : pandas.DataFrame
    money : iterable of str, optional
        Columns of amounts in euros.
    keep : iterable of str, optional
        Columns left as they are (links: an empty link stays empty).
    missing : str, optional

    Returns
    -------
    pandas.DataFrame
    """
    out = frame.copy()
    money = [c for c in money if c in out.columns]
    kept = set(keep)
    for column in out.columns:
        if column in kept:
            continue
        if column in money:
            out[column] = [euros(v, missing=missing) for v in out[column]]
        elif out[column].dtype == object or str(out[column].dtype).startswith(
            ("string", "str")
        ):
            out[column] = [
                v if isinstance(v, list | tuple) else text(v, missing)
                for v in out[column]
            ]
    return out.rename(columns={c: c.replace(" (€)", "") for c in money})
