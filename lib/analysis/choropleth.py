"""Choropleth values, classes and legend per département or EPCI.

Indicators are computed from the explorer frames (PTCE placed by their seat).
Classes come from mapclassify (the PySAL library geopandas itself uses):
quantiles, Fisher-Jenks natural breaks, equal intervals, head/tail breaks.
No class is ever empty, whole-number indicators get whole-number bounds, and
territories left out by the territorial filters are counted apart ("hors
sélection") from those of the selection without any PTCE. The legend is data
the app draws itself (:meth:`Legend.entries`), so the interactive map, the
static exports and the tests read the same lines.
"""

# size: indicator values, mapclassify classes and the Legend that the web map,
# the static exports and the tests all read (Legend alone: 116 lines).

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
import pandas as pd

from lib import fr
from lib.domain.selection import Frames

__all__ = [
    "EMPTY_COLOR",
    "INDICATORS",
    "METHODS",
    "METHOD_HELP",
    "OUTSIDE",
    "OUTSIDE_COLOR",
    "OUTSIDE_HATCH",
    "SEQUENTIAL",
    "ZERO_LABELS",
    "Legend",
    "LegendEntry",
    "class_bins",
    "classify",
    "indicator",
    "outside_selection",
    "summary",
    "uncounted",
]

INDICATORS = {
    "nombre": ("Nombre de PTCE", "PTCE"),
    # A narrow no-break space in 100 000, as lib.fr writes numbers.
    "par_habitant": ("PTCE pour 100\u202f000 habitants", "PTCE / 100\u202f000 hab."),
    "montant": ("Montant total des soutiens reçus", "€"),
    "collectivites": ("Nombre de collectivités qui soutiennent", "collectivités"),
}
#: Classification methods (keys stay in links: ``?classes=jenks``).
METHODS = {
    "quantiles": "quantiles",
    "jenks": "seuils naturels",
    "intervalles": "intervalles égaux",
    "tete_queue": "tête/queue",
}
#: What each method does, in a sentence (help of the Carte's selector).
METHOD_HELP = {
    "quantiles": "autant de territoires dans chaque classe",
    "jenks": "classes les plus homogènes possible (Fisher-Jenks)",
    "intervalles": "classes de même largeur, du plus petit au plus grand",
    "tete_queue": (
        "la tête (au-dessus de la moyenne) est redécoupée : pour des valeurs "
        "très inégales, quelques territoires très au-dessus des autres"
    ),
}
#: What a territory of the selection at 0 is called, per indicator: at 0 €
#: a département may hold PTCE, just no known amount.
ZERO_LABELS = {
    "nombre": "aucun PTCE",
    "par_habitant": "aucun PTCE",
    "montant": "aucun montant connu",
    "collectivites": "aucune collectivité",
}
#: Label of the territories left out by the territorial filters.
OUTSIDE = "hors sélection"
#: ColorBrewer YlGnBu, readable by colour-blind people, light to dark.
SEQUENTIAL = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")
#: Territories of the selection with no PTCE (value 0).
EMPTY_COLOR = "#e6e6e6"
#: Territories outside the selection: white, hatched with this grey.
OUTSIDE_COLOR = "#ffffff"
OUTSIDE_HATCH = "#a0a0a0"
#: How territories of each grid are counted in a legend (singular, plural).
_TERRITORY_WORDS = {
    "departement": ("département", "départements"),
    "epci": ("EPCI", "EPCI"),
}
#: Unit forms for one and for several, when the plural differs.
_UNIT_FORMS = {"collectivités": ("collectivité", "collectivités")}
#: Unit written after each class, when not the indicator's: a rate's unit
#: is in the legend's title, and repeated on every line it made the legend
#: too wide for the map.
_CLASS_UNITS = {"par_habitant": ""}


@dataclass(frozen=True)
class LegendEntry:
    """One line of a choropleth legend.

    Attributes
    ----------
    color : str
        Fill colour (for ``kind == "hors"``: the background of the hatch).
    label : str
        What the territories have, e.g. « 3 à 5 PTCE ».
    count : int
        How many territories are drawn so.
    kind : {"classe", "zero", "hors"}
        A class of values, the territories at 0, or those outside the
        selection (drawn hatched).
    text : str
        The line read by a person: « 3 à 5 PTCE — 4 départements ».
    """

    color: str
    label: str
    count: int
    kind: str
    text: str

    @property
    def hatched(self) -> bool:
        """Whether the swatch is hatched (territories outside the selection)."""
        return self.kind == "hors"


@dataclass(frozen=True)
class Legend:
    """Classes of a choropleth: bounds, colours and counts of territories.

    ``bounds`` has ``len(colors) + 1`` increasing values: class ``i`` holds
    the values ``v`` with ``bounds[i] < v <= bounds[i + 1]`` (the first one
    includes ``bounds[0]``, the smallest value); ``ranges`` gives the
    smallest and largest value found in each class. Every class holds at
    least one territory.
    """

    title: str
    unit: str
    bounds: tuple[float, ...]
    colors: tuple[str, ...]
    counts: tuple[int, ...]
    empty: int  # territories of the selection at 0
    integer: bool = False  # whole-number values (counts)
    outside: int = 0  # territories outside the selection
    maille: str = ""
    method: str = ""
    zero_label: str = "aucun PTCE"
    ranges: tuple[tuple[float, float], ...] = ()  # smallest, largest value
    uncounted: int = 0  # PTCE of the selection whose territory is not known

    def labels(self) -> list[str]:
        """Return the French label of each class, unit included.

        A class reads from its smallest to its largest value, e.g. « 1 PTCE »,
        « 2 à 4 PTCE », « 1 000 à 5 000 € », « 2 collectivités »: what the
        territories drawn so really have, never a bound no territory
        reaches. A rate's unit is left to the title.
        """
        values = [v for pair in self.ranges for v in pair]
        decimals = 0 if self.integer else _decimals(values)
        return [self._range(lo, hi, decimals) for lo, hi in self.ranges]

    def _range(self, lo: float, hi: float, decimals: int) -> str:
        low, high = fr.number(lo, decimals), fr.number(hi, decimals)
        if low == high:
            return self._with_unit(high, hi)
        return self._with_unit(f"{low} à {high}", hi)

    def _with_unit(self, text: str, value: float) -> str:
        if not self.unit:
            return text
        one, several = _UNIT_FORMS.get(self.unit, (self.unit, self.unit))
        return f"{text}\u00a0{one if abs(value) < 2 else several}"

    def territories(self, n: int) -> str:
        """Return « 4 départements », « 1 EPCI », « 2 territoires »."""
        singular, plural = _TERRITORY_WORDS.get(
            self.maille, ("territoire", "territoires")
        )
        return fr.count(n, singular, plural)

    def note(self) -> str:
        """Return the line under the title: « par EPCI, classes : quantiles »."""
        parts = []
        if self.maille:
            parts.append(f"par {_TERRITORY_WORDS.get(self.maille, ('territoire',))[0]}")
        if self.method and self.colors:
            parts.append(f"classes : {METHODS.get(self.method, self.method)}")
        return ", ".join(parts)

    def footnote(self) -> str:
        """Return the line on PTCE left out of the counts, or ``""``.

        E.g. « 2 PTCE sans département connu : non comptés ».
        """
        if not self.uncounted:
            return ""
        word = _TERRITORY_WORDS.get(self.maille, ("territoire",))[0]
        ptce = fr.count(self.uncounted, "PTCE", "PTCE")
        counted = fr.plural(self.uncounted, "compté", "comptés")
        return f"{ptce} sans {word} connu : non {counted}"

    def entries(self) -> list[LegendEntry]:
        """Return every line of the legend, in drawing order.

        The classes from the lowest, then the territories of the selection
        at 0, then those outside it; lines that would count no territory are
        left out.
        """
        rows = [
            (color, label, n, "classe")
            for color, label, n in zip(
                self.colors, self.labels(), self.counts, strict=True
            )
        ]
        rows.append((EMPTY_COLOR, self.zero_label, self.empty, "zero"))
        rows.append((OUTSIDE_COLOR, OUTSIDE, self.outside, "hors"))
        return [
            LegendEntry(color, label, n, kind, f"{label} — {self.territories(n)}")
            for color, label, n, kind in rows
            if n > 0
        ]

    def value_text(self, value: float) -> str:
        """Return the value of one territory for its tooltip: « 3 », « 1 500 € ».

        Parameters
        ----------
        value : float
            The indicator (0: :attr:`zero_label`).

        Returns
        -------
        str
        """
        if not math.isfinite(value) or value <= 0:
            return self.zero_label
        if self.unit == "€":
            return fr.euros(value)
        if self.integer or float(value).is_integer():
            return fr.integer(value)
        return fr.number(value, _decimals([value]))


def _decimals(values: Iterable[float]) -> int:
    """Fewest decimals (at least one below 10) that keep the values apart."""
    values = [float(v) for v in values]
    start = 0 if all(abs(v) >= 10 for v in values) else 1
    for decimals in range(start, 4):
        shown = [round(v, decimals) for v in values]
        if len(set(shown)) == len(set(values)):
            return decimals
    return 3


def indicator(
    frames: Frames, level: str, name: str, population: pd.Series
) -> pd.Series:
    """Compute an indicator per territory.

    Parameters
    ----------
    frames : Frames
        The filtered PTCE.
    level : {"departement", "epci"}
        The territories (PTCE are counted in the territory of their seat).
    name : str
        A key of :data:`INDICATORS`.
    population : pandas.Series
        Population per territory code (every territory drawn).

    Returns
    -------
    pandas.Series
        Value per territory code, 0 where there is no PTCE; indexed like
        ``population``.
    """
    ptce = frames.ptce[frames.ptce[level].notna()]
    counts = ptce.groupby(level).size()
    if name == "nombre":
        values = counts
    elif name == "par_habitant":
        values = counts / population.reindex(counts.index) * 100_000
    elif name == "montant":
        values = ptce.groupby(level)["montant_total"].sum(min_count=1).fillna(0)
    elif name == "collectivites":
        located = frames.soutiens.merge(
            ptce[[level]], left_on="ptce_id", right_index=True
        )
        values = located.groupby(level).apply(
            lambda g: len(set(zip(g["niveau"], g["code"], strict=True))),
            include_groups=False,
        )
    else:
        raise ValueError(f"indicateur inconnu : {name}")
    values = values.replace([np.inf, -np.inf], np.nan)
    return values.reindex(population.index).fillna(0).astype(float)


def uncounted(frames: Frames, level: str) -> int:
    """Return how many PTCE of ``frames`` no territory of ``level`` counts.

    Parameters
    ----------
    frames : Frames
        The filtered PTCE.
    level : {"departement", "epci"}
        The grid of the choropleth.

    Returns
    -------
    int
        PTCE whose seat is not known at that level (no commune, or a
        commune outside any EPCI).
    """
    return int(frames.ptce[level].isna().sum())


def outside_selection(
    territories: pd.DataFrame,
    maille: str,
    selection: Frames | None = None,
    departements: Iterable[str] = (),
    epci: Iterable[str] = (),
) -> pd.Index:
    """Return the codes of the territories left out by the territorial filters.

    A territory is in the selection when it meets every territorial filter
    (a chosen département; a chosen EPCI, or for départements one holding
    part of it) or when a selected PTCE is seated there (a PTCE chosen
    through its territory of action may sit outside the chosen EPCI).
    Filters on filières, years… leave every territory in the selection:
    there, a territory without PTCE reads « aucun PTCE ».

    Parameters
    ----------
    territories : pandas.DataFrame
        The territories drawn: ``code``, and for EPCI ``departements`` (codes
        separated by spaces, as in the boundaries cache).
    maille : {"departement", "epci"}
        Their level.
    selection : Frames, optional
        The filtered PTCE.
    departements, epci : iterable of str
        The codes chosen in the filters (empty: no filter).

    Returns
    -------
    pandas.Index
        Codes of the territories outside the selection.
    """
    departements, epci = set(departements), set(epci)
    codes = pd.Index(territories["code"])
    if not departements and not epci:
        return codes[:0]
    keep = np.ones(len(codes), dtype=bool)
    if maille == "epci":
        if departements:
            spans = territories["departements"].fillna("").str.split()
            keep &= ~spans.map(departements.isdisjoint).to_numpy(dtype=bool)
        if epci:
            keep &= codes.isin(list(epci))
    else:
        if departements:
            keep &= codes.isin(list(departements))
        if epci:
            keep &= codes.isin(list(_departements_of(epci)))
    if selection is not None and maille in selection.ptce:
        seats = selection.ptce[maille].dropna().unique()
        keep |= codes.isin(seats)
    return codes[~keep]


def _departements_of(epci: set[str]) -> set[str]:
    from geo.reference import load_reference

    ref = load_reference()
    found: set[str] = set()
    for code in epci:
        if code in ref.epci:
            found.update(
                ref.communes[m].departement
                for m in ref.epci[code].membres
                if m in ref.communes
            )
    return found


def class_bins(values: np.ndarray, method: str = "quantiles", k: int = 5) -> np.ndarray:
    """Return the upper bounds of the classes of positive values (mapclassify).

    Parameters
    ----------
    values : numpy.ndarray
        The values to classify (at least one).
    method : str
        A key of :data:`METHODS`.
    k : int
        Classes wanted (head/tail breaks find their own number, at most k).

    Returns
    -------
    numpy.ndarray
        Increasing upper bounds, the last one the maximum; no class is empty.
        With ``k`` or fewer distinct values, one class per value. Whole
        numbers get whole-number bounds.
    """
    if method not in METHODS:
        raise ValueError(f"méthode inconnue : {method!r}")
    data = np.asarray(values, dtype=float)
    distinct = np.unique(data)
    if len(distinct) <= k:
        return distinct
    # mapclassify is imported here: its Fisher-Jenks is compiled by numba
    # when imported, which only the Carte needs.
    import mapclassify

    with warnings.catch_warnings():
        # "Not enough unique values…": handled below by removing empty classes.
        warnings.simplefilter("ignore", UserWarning)
        if method == "jenks":
            bins = mapclassify.FisherJenks(data, k=k).bins
        elif method == "intervalles":
            bins = mapclassify.EqualInterval(data, k=k).bins
        elif method == "tete_queue":
            bins = mapclassify.HeadTailBreaks(data).bins
        else:
            bins = mapclassify.Quantiles(data, k=k).bins
    bins = np.asarray(bins, dtype=float)
    if len(bins) > k:
        # Head/tail breaks on a long tail: the last heads share one class.
        bins = np.concatenate([bins[: k - 1], bins[-1:]])
    if np.all(data == np.round(data)):
        # Counts: a class (2.4, 4.6] holds 3 and 4, i.e. (2, 4].
        bins = np.floor(bins + 1e-9)
    bins[-1] = distinct[-1]
    bins = np.unique(bins)
    # Merge away the classes that hold no value (ties, equal intervals).
    counts = np.bincount(np.searchsorted(bins, data, side="left"), minlength=len(bins))
    return bins[counts > 0]


class _LegendCommon(TypedDict):
    # The Legend fields classify() passes whether or not there are classes.
    outside: int
    maille: str
    method: str
    zero_label: str
    uncounted: int


# size: 31-line numpy docstring for 9 parameters; the 48-line body is one
# classification (outside, zero, classes, colours, legend) read in order.
def classify(
    values: pd.Series,
    method: str = "quantiles",
    k: int = 5,
    title: str = "",
    unit: str = "",
    *,
    indicateur: str | None = None,
    maille: str = "",
    outside: Iterable[str] = (),
    uncounted: int = 0,
) -> tuple[pd.Series, Legend]:
    """Give each territory a colour and build the legend.

    Parameters
    ----------
    values : pandas.Series
        Indicator per territory code (every territory drawn).
    method : str
        A key of :data:`METHODS`: how class bounds are chosen among the
        positive values of the selection.
    k : int
        Number of classes wanted (at most the palette length).
    title, unit : str
        For the legend; by default those of ``indicateur``.
    indicateur : str, optional
        A key of :data:`INDICATORS` (title, unit and the label of 0).
    maille : str
        ``"departement"`` or ``"epci"``: how territories are counted in the
        legend (« 4 départements »).
    outside : iterable of str
        Codes of the territories outside the selection (see
        :func:`outside_selection`): hatched, counted apart, never classified.
    uncounted : int
        PTCE of the selection no territory counts (see :func:`uncounted`),
        said under the legend.

    Returns
    -------
    tuple
        Colour per territory code (:data:`OUTSIDE_COLOR` outside the
        selection, :data:`EMPTY_COLOR` at 0), and the legend.
    """
    if indicateur is None:
        indicateur = next(
            (key for key, pair in INDICATORS.items() if pair == (title, unit)),
            "nombre",
        )
    if not title and not unit and indicateur in INDICATORS:
        title, unit = INDICATORS[indicateur]
    unit = _CLASS_UNITS.get(indicateur, unit)
    zero_label = ZERO_LABELS.get(indicateur, "aucun PTCE")
    is_outside = values.index.isin(list(outside))
    inside = values[~is_outside]
    positive = inside[inside > 0]
    colors = pd.Series(EMPTY_COLOR, index=values.index, dtype=object)
    colors[is_outside] = OUTSIDE_COLOR
    common: _LegendCommon = {
        "outside": int(is_outside.sum()),
        "maille": maille,
        "method": method,
        "zero_label": zero_label,
        "uncounted": int(uncounted),
    }
    empty = int(len(inside) - len(positive))
    if positive.empty:
        return colors, Legend(title, unit, (), (), (), empty, **common)
    k = max(1, min(k, len(SEQUENTIAL)))
    data = positive.to_numpy(dtype=float)
    bins = class_bins(data, method, k)
    integer = bool(np.all(data == np.round(data)))
    index = np.searchsorted(bins, data, side="left")
    palette = _pick(len(bins))
    colors[positive.index] = [palette[i] for i in index]
    counts = np.bincount(index, minlength=len(bins))
    ranges = tuple(
        (float(data[index == i].min()), float(data[index == i].max()))
        for i in range(len(bins))
    )
    legend = Legend(
        title,
        unit,
        (float(data.min()), *(float(b) for b in bins)),
        tuple(palette),
        tuple(int(c) for c in counts),
        empty,
        integer,
        ranges=ranges,
        **common,
    )
    return colors, legend


def _pick(n: int) -> list[str]:
    if n >= len(SEQUENTIAL):
        return list(SEQUENTIAL)
    if n == 1:
        # One class: a middle colour, far from the grey of « aucun PTCE ».
        return [SEQUENTIAL[len(SEQUENTIAL) // 2]]
    positions = np.linspace(0, len(SEQUENTIAL) - 1, n).round().astype(int)
    return [SEQUENTIAL[i] for i in positions]


def summary(frames: Frames, level: str, code: str) -> dict | None:
    """Return the summary of a clicked territory for the current selection.

    Parameters
    ----------
    frames : Frames
        The filtered frames.
    level : {"region", "departement", "epci", "commune"}
        Level of the territory.
    code : str
        Its code.

    Returns
    -------
    dict or None
        ``nom``, ``niveau`` (French), ``population``, ``ptce`` (count of PTCE
        seated there), ``noms`` (their names), ``soutiens`` (supports they
        receive) and ``montant`` (known amounts); None for an unknown code.
    """
    from geo.reference import load_reference
    from lib.domain.model import NIVEAU_LABELS

    ref = load_reference()
    table = ref.level(level)
    if code not in table:
        return None
    # The frame's columns are named after the levels (seat of each PTCE).
    here = frames.ptce[frames.ptce[level] == code]
    received = frames.soutiens[frames.soutiens["ptce_id"].isin(here.index)]
    if level == "epci":
        population = ref.epci[code].population or 0
    elif level == "commune":
        population = ref.communes[code].population or 0
    else:
        population = sum(
            c.population or 0
            for c in ref.communes.values()
            if getattr(c, level) == code
        )
    return {
        "nom": table[code].nom,
        "niveau": NIVEAU_LABELS[level],
        "population": int(population),
        "ptce": len(here),
        "noms": sorted(here["nom"].tolist()),
        "soutiens": len(received),
        "montant": float(received["montant"].sum(min_count=1) or 0),
    }
