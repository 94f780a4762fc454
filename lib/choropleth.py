"""Choropleth values and classes per département or EPCI.

Indicators are computed from the explorer frames (PTCE placed by their seat),
classes by quantiles or natural breaks (Jenks), and the legend is data the
app draws itself, so it reads the same on screen, in exports and in tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.explore import Frames

INDICATORS = {
    "nombre": ("Nombre de PTCE", "PTCE"),
    "par_habitant": ("PTCE pour 100 000 habitants", "PTCE / 100 000 hab."),
    "montant": ("Montant total des soutiens reçus", "€"),
    "collectivites": ("Nombre de collectivités qui soutiennent", "collectivités"),
}
METHODS = {"quantiles": "quantiles", "jenks": "seuils naturels (Jenks)"}
#: ColorBrewer YlGnBu, readable by colour-blind people, light to dark.
SEQUENTIAL = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")
#: Territories with no PTCE at all.
EMPTY_COLOR = "#e6e6e6"


@dataclass(frozen=True)
class Legend:
    """Classes of a choropleth: bounds, colours and counts of territories."""

    title: str
    unit: str
    bounds: tuple[float, ...]  # len(colors) + 1 values, increasing
    colors: tuple[str, ...]
    counts: tuple[int, ...]
    empty: int  # territories without any PTCE
    integer: bool = False  # whole-number values (counts)

    def labels(self) -> list[str]:
        """Return the French label of each class, e.g. ``"de 1 à 3"``.

        Classes include their upper bound; with whole numbers the next class
        starts one above it, so no value reads as belonging to two classes.
        """
        labels = []
        for i, (lo, hi) in enumerate(
            zip(self.bounds[:-1], self.bounds[1:], strict=True)
        ):
            if self.integer and i > 0:
                lo += 1
            labels.append(_fmt(lo) if lo == hi else f"de {_fmt(lo)} à {_fmt(hi)}")
        return labels


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}".replace(",", "\u202f")
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.1f}".replace(".", ",")


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
    return values.reindex(population.index).fillna(0).astype(float)


def _quantile_bounds(values: np.ndarray, k: int) -> list[float]:
    qs = np.quantile(values, np.linspace(0, 1, k + 1))
    return sorted(set(float(q) for q in qs))


def jenks_bounds(values: np.ndarray, k: int) -> list[float]:
    """Return natural-break bounds (Fisher–Jenks, exact dynamic programming).

    Parameters
    ----------
    values : numpy.ndarray
        Values to classify.
    k : int
        Number of classes wanted (fewer when there are fewer distinct values).

    Returns
    -------
    list of float
        ``k + 1`` increasing bounds, minimum and maximum included.
    """
    data = np.sort(np.asarray(values, dtype=float))
    distinct = np.unique(data)
    if len(distinct) <= k:
        # One class per distinct value: bounds are the values themselves.
        bounds = [float(v) for v in distinct]
        return bounds if len(bounds) > 1 else bounds * 2
    n = len(data)
    csum = np.concatenate([[0.0], np.cumsum(data)])
    csq = np.concatenate([[0.0], np.cumsum(data * data)])

    cost = np.full((k + 1, n + 1), math.inf)
    split = np.zeros((k + 1, n + 1), dtype=int)
    cost[0, 0] = 0.0
    for c in range(1, k + 1):
        for j in range(c, n + 1):
            # Last class is data[i:j]; its sum of squared deviations, for all i.
            i = np.arange(c - 1, j)
            s, sq, m = csum[j] - csum[i], csq[j] - csq[i], j - i
            total = cost[c - 1, i] + (sq - s * s / m)
            best = int(np.argmin(total))
            cost[c, j], split[c, j] = total[best], i[best]
    cuts, j = [], n
    for c in range(k, 0, -1):
        i = split[c, j]
        cuts.append(i)
        j = i
    starts = sorted(cuts)[1:]
    return [float(data[0]), *(float(data[s - 1]) for s in starts), float(data[-1])]


def classify(
    values: pd.Series,
    method: str = "quantiles",
    k: int = 5,
    title: str = "",
    unit: str = "",
) -> tuple[pd.Series, Legend]:
    """Give each territory a colour; territories at 0 are marked "aucun PTCE".

    Parameters
    ----------
    values : pandas.Series
        Indicator per territory code.
    method : {"quantiles", "jenks"}
        How class bounds are chosen (on the non-zero values).
    k : int
        Number of classes (at most the palette length).
    title, unit : str
        For the legend.

    Returns
    -------
    tuple
        Colour per territory code, and the legend.
    """
    positive = values[values > 0]
    colors = pd.Series(EMPTY_COLOR, index=values.index)
    if positive.empty:
        return colors, Legend(title, unit, (), (), (), len(values))
    k = min(k, len(SEQUENTIAL))
    data = positive.to_numpy()
    if method == "jenks":
        bounds = jenks_bounds(data, k)
    else:
        bounds = _quantile_bounds(data, k)
    integer = bool(np.all(data == np.round(data)))
    if integer:
        # Counts: whole-number bounds, "de 2 à 3" rather than "de 1,6 à 2,4".
        bounds = sorted(
            {float(math.ceil(b)) for b in bounds[1:-1]} | {bounds[0], bounds[-1]}
        )
    if len(bounds) == 1:
        bounds = [bounds[0], bounds[0]]
    n_classes = len(bounds) - 1
    palette = _pick(n_classes)
    edges = np.array(bounds[1:-1])
    index = np.searchsorted(edges, data, side="left")
    colors[positive.index] = [palette[i] for i in index]
    counts = tuple(int((index == i).sum()) for i in range(n_classes))
    legend = Legend(
        title,
        unit,
        tuple(bounds),
        tuple(palette),
        counts,
        int((values <= 0).sum()),
        integer,
    )
    return colors, legend


def _pick(n: int) -> list[str]:
    if n >= len(SEQUENTIAL):
        return list(SEQUENTIAL)
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
    from lib.model import NIVEAU_LABELS

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
