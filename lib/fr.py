"""French formatting of what a person reads: dates and times, counts.

One module for every screen and export, built on Babel's CLDR data
(locale ``fr_FR``) rather than hand-written replacements. Times are stored
in UTC (ISO 8601) and shown in the time of mainland France.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys

from babel.dates import format_datetime, get_timezone
from babel.numbers import format_decimal

__all__ = [
    "LOCALE",
    "MISSING",
    "ArgumentParser",
    "count",
    "date_time",
    "number",
    "time_of_day",
]

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
