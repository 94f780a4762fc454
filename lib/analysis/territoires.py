"""Collectivités and territories: who supports whom, and how.

From the explorer's frames (:class:`lib.domain.selection.Frames`) this module builds
the level × kind-of-support matrix, the list of supporting collectivités and
the *fiche territoire* of a commune, an EPCI, a département or a région:
PTCE present, supports given and received, and PTCE per 100,000 inhabitants
compared with the average of the région (or of France, for a région).
Nothing imports Streamlit.
"""

# size: the collectivités side of the Frames: territory codes and labels,
# population, fiche territoire, level × kind matrix and supporters;
# 21 functions, the longest 74 lines.

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass

import pandas as pd

from geo.reference import Reference, load_reference, normalise_code
from lib import fr
from lib.domain.model import NIVEAU_LABELS, NIVEAUX, TYPES_SOUTIEN
from lib.domain.selection import Frames
from lib.domain.soutiens import libelle as libelle_type

#: Levels that have a fiche territoire, in the order of the chooser.
NIVEAUX_TERRITOIRE = ("commune", "epci", "departement", "region")
#: Capitalised labels of those levels.
TERRITOIRE_LABELS = {
    "commune": "Commune",
    "epci": "EPCI",
    "departement": "Département",
    "region": "Région",
}
#: Population unit of the comparison.
PER = 100_000

#: Columns of :func:`matrice`.
MATRICE_COLUMNS = ["niveau", "Niveau", "Type de soutien", "Soutiens", "Montant (€)",
                   "Montants connus"]  # fmt: skip
#: Columns of :func:`collectivites`.
COLLECTIVITE_COLUMNS = [
    "niveau", "Niveau", "Code", "Collectivité", "PTCE soutenus", "Soutiens",
    "Montant connu (€)", "Types de soutien", "PTCE",
]  # fmt: skip


# --------------------------------------------------------------------------
# URL value
# --------------------------------------------------------------------------


def format_territoire(niveau: str, code: str) -> str:
    """Return the URL value of a territory: ``"epci:244400552"``, ``"region:52"``."""
    return f"{niveau}:{code}"


def parse_territoire(
    value: str | None, ref: Reference | None = None
) -> tuple[str, str] | None:
    """Read a ``territoire`` URL value, or return None when it is invalid.

    Parameters
    ----------
    value : str or None
        ``"<niveau>:<code>"`` with niveau one of :data:`NIVEAUX_TERRITOIRE`.
    ref : Reference, optional
        The COG reference, to check the code.

    Returns
    -------
    tuple of str or None
        ``(niveau, code)`` when the code exists at that level.
    """
    if not value or ":" not in value:
        return None
    niveau, code = (part.strip() for part in value.split(":", 1))
    if niveau not in NIVEAUX_TERRITOIRE:
        return None
    ref = ref or load_reference()
    if niveau == "departement":
        code = code.upper()
    elif niveau == "commune":
        code = normalise_code(code)
    if code not in _table(ref, niveau):
        return None
    return niveau, code


def _table(ref: Reference, niveau: str) -> dict:
    return ref.level(niveau)


def territory_label(niveau: str, code: str, ref: Reference | None = None) -> str:
    """Return the name shown in choosers: ``"Loire-Atlantique (44)"``, EPCI name.

    A commune is followed by its département (``"Ancenis-Saint-Géréon (44)"``):
    many communes share a name.
    """
    ref = ref or load_reference()
    table = _table(ref, niveau)
    if code not in table:
        return code
    if niveau == "departement":
        return f"{table[code].nom} ({code})"
    if niveau == "commune":
        return f"{table[code].nom} ({table[code].departement})"
    return table[code].nom


# --------------------------------------------------------------------------
# Populations
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _sums(ref: Reference) -> tuple[dict[str, dict[str, int]], int]:
    by_dep: Counter[str] = Counter()
    by_region: Counter[str] = Counter()
    france = 0
    for c in ref.communes.values():
        pop = c.population or 0
        by_dep[c.departement] += pop
        by_region[c.region] += pop
        if c.zone != "com":
            france += pop
    return {"departement": dict(by_dep), "region": dict(by_region)}, france


def population(
    niveau: str, code: str | None, ref: Reference | None = None
) -> int | None:
    """Return the population of a territory from the COG reference.

    Parameters
    ----------
    niveau : {"commune", "epci", "departement", "region", "france"}
        The level; ``"france"`` (code ignored) is metropolitan France and the
        DROM (the communes of the COM are left out).
    code : str or None
        The territory's code.
    ref : Reference, optional
        The COG reference.

    Returns
    -------
    int or None
        Communes and EPCI: their population from the reference (an EPCI
        without one: the sum of its communes); départements and régions: the
        sum of their communes' populations. None when unknown or zero.
    """
    ref = ref or load_reference()
    sums, france = _sums(ref)
    if niveau == "france":
        return france or None
    if niveau not in ("commune", "epci", "departement", "region"):
        raise ValueError(f"niveau inconnu : {niveau!r}")
    if code is None:
        return None
    if niveau == "commune":
        commune = ref.communes.get(code)
        return (commune.population or None) if commune else None
    if niveau == "epci":
        epci = ref.epci.get(code)
        if epci is None:
            return None
        if epci.population:
            return epci.population
        total = sum(ref.communes[m].population or 0 for m in epci.membres)
        return total or None
    return sums[niveau].get(code) or None


def region_of(niveau: str, code: str, ref: Reference | None = None) -> str | None:
    """Return the région of a territory (for an EPCI, the one of most inhabitants).

    An EPCI spanning several régions belongs to the région holding most of its
    inhabitants.
    """
    ref = ref or load_reference()
    if niveau == "region":
        return code
    if niveau == "commune":
        commune = ref.communes.get(code)
        return commune.region if commune else None
    if niveau == "departement":
        dep = ref.departements.get(code)
        return dep.region if dep else None
    if niveau == "epci":
        epci = ref.epci.get(code)
        if epci is None or not epci.membres:
            return None
        weights: Counter[str] = Counter()
        for m in epci.membres:
            commune = ref.communes[m]
            weights[commune.region] += (commune.population or 0) + 1
        return weights.most_common(1)[0][0]
    return None


def per_100k(count: int, pop: int | None) -> float | None:
    """Return ``count`` per 100,000 inhabitants, or None without a population."""
    if not pop:
        return None
    return count * PER / pop


def format_rate(value: float | None) -> str:
    """Format a rate the French way with two decimals: ``"1,25"`` (or ``"—"``)."""
    return fr.number(value, 2)


# --------------------------------------------------------------------------
# PTCE present in a territory
# --------------------------------------------------------------------------


def ptce_mask(ptce: pd.DataFrame, niveau: str, code: str) -> pd.Series:
    """Return which PTCE are present in a territory.

    Parameters
    ----------
    ptce : pandas.DataFrame
        :attr:`lib.domain.selection.Frames.ptce`.
    niveau : {"commune", "epci", "departement", "region"}
        The level of the territory.
    code : str
        Its code.

    Returns
    -------
    pandas.Series
        Boolean, aligned with ``ptce``: the seat is in the région or
        département; for an EPCI, the seat's commune belongs to it or its
        territory of action includes it (or one of its communes); for a
        commune, the seat is there or its territory of action lists the
        commune or its EPCI.
    """
    if niveau == "commune":
        epci = _commune_epci(code)
        within = {code} | ({epci} if epci else set())
        acting = ptce["territoire"].map(lambda codes: bool(within.intersection(codes)))
        return ((ptce["commune"] == code) | acting.astype(bool)).astype(bool)
    if niveau == "region":
        return ptce["region"] == code
    if niveau == "departement":
        return ptce["departement"] == code
    if niveau == "epci":
        return ptce["epci_lies"].map(lambda codes: code in codes).astype(bool)
    raise ValueError(f"niveau inconnu : {niveau!r}")


@dataclass(frozen=True)
class Comparaison:
    """PTCE per 100,000 inhabitants of a reference area.

    Attributes
    ----------
    titre : str
        Short label: ``"Moyenne régionale (Pays de la Loire)"`` or
        ``"Moyenne nationale"``.
    libelle : str
        The area in a sentence: ``"la région Pays de la Loire"``, ``"la France"``.
    ptce : int
        PTCE with their seat in the area.
    population : int or None
        Its population.
    pour_100k : float or None
        ``ptce`` per 100,000 inhabitants.
    """

    titre: str
    libelle: str
    ptce: int
    population: int | None
    pour_100k: float | None


@dataclass(frozen=True)
class FicheTerritoire:
    """What the fiche of a commune, an EPCI, a département or a région shows.

    Attributes
    ----------
    niveau, code, nom : str
        The territory.
    type_label : str
        ``"Région"``, ``"Département"``, ``"Commune"`` or the EPCI's kind
        (``"Communauté de communes"``…).
    population : int or None
        From the COG reference.
    ptce : pandas.DataFrame
        Rows of :attr:`Frames.ptce` present in the territory (see
        :func:`ptce_mask`).
    soutiens_donnes : pandas.DataFrame
        Rows of :attr:`Frames.soutiens` given *by* this collectivité (its
        level and code), wherever the PTCE is.
    soutiens_recus : pandas.DataFrame
        Rows of :attr:`Frames.soutiens` received by the PTCE present, from any
        collectivité.
    pour_100k : float or None
        PTCE present per 100,000 inhabitants.
    reference : Comparaison
        The average it is compared with: the région's for a commune, an EPCI
        or a département, France's for a région.
    """

    niveau: str
    code: str
    nom: str
    type_label: str
    population: int | None
    ptce: pd.DataFrame
    soutiens_donnes: pd.DataFrame
    soutiens_recus: pd.DataFrame
    pour_100k: float | None
    reference: Comparaison

    @property
    def comparaison(self) -> str:
        """French sentence comparing the territory with its reference average."""
        if self.pour_100k is None:
            return "Population inconnue : pas de comparaison possible."
        ref = self.reference
        own = (
            f"{format_rate(self.pour_100k)} PTCE pour 100 000 habitants "
            f"({fr.integer(len(self.ptce))} PTCE, {_int(self.population)} habitants)"
        )
        if ref.pour_100k is None:
            return f"{own} ; population de {ref.libelle} inconnue."
        ratio = self.pour_100k / ref.pour_100k if ref.pour_100k else None
        if not ratio:
            position = ""
        elif ratio > 1.05:
            position = f", soit {format_rate(ratio)} fois plus"
        elif ratio < 0.95:
            position = f", soit {format_rate(ratio)} fois la moyenne"
        else:
            position = ", soit à peu près autant"
        return (
            f"{own}, contre {format_rate(ref.pour_100k)} en moyenne pour {ref.libelle} "
            f"({fr.integer(ref.ptce)} PTCE, {_int(ref.population)} habitants)"
            f"{position}."
        )


def _int(value: int | None) -> str:
    return fr.integer(value)


def _comparaison(titre: str, libelle: str, count: int, pop: int | None) -> Comparaison:
    return Comparaison(titre, libelle, count, pop, per_100k(count, pop))


def _commune_epci(code: str) -> str | None:
    # The SIREN of a commune's EPCI (None outside any, or unknown).
    commune = load_reference().communes.get(code)
    return commune.epci if commune else None


def fiche_territoire(
    frames: Frames, niveau: str, code: str, ref: Reference | None = None
) -> FicheTerritoire:
    """Build the fiche of a commune, an EPCI, a département or a région.

    Parameters
    ----------
    frames : Frames
        The PTCE to consider, usually the thematic filters without the
        territorial ones (:meth:`lib.domain.selection.Filters.without_territory`), so
        that the reference average is computed on the same kind of PTCE.
    niveau : {"commune", "epci", "departement", "region"}
        The level.
    code : str
        The territory's code (INSEE code of a commune, SIREN of an EPCI).
    ref : Reference, optional
        The COG reference.

    Returns
    -------
    FicheTerritoire
        PTCE present, supports given and received, rate and comparison.

    Raises
    ------
    ValueError
        When the level is not one of :data:`NIVEAUX_TERRITOIRE` or the code
        is unknown at that level.
    """
    ref = ref or load_reference()
    if niveau not in NIVEAUX_TERRITOIRE:
        raise ValueError(f"niveau inconnu : {niveau!r}")
    table = _table(ref, niveau)
    if code not in table:
        # French agreement: « Commune inconnue », « Département inconnu ».
        inconnu = "inconnue" if niveau in ("commune", "region") else "inconnu"
        raise ValueError(f"{TERRITOIRE_LABELS[niveau]} {inconnu} : « {code} »")
    ptce = frames.ptce[ptce_mask(frames.ptce, niveau, code)]
    soutiens = frames.soutiens
    donnes = soutiens[(soutiens["niveau"] == niveau) & (soutiens["code"] == code)]
    recus = soutiens[soutiens["ptce_id"].isin(ptce.index)]
    pop = population(niveau, code, ref)
    if niveau == "region":
        count = int(frames.ptce["region"].notna().sum())
        reference = _comparaison(
            "Moyenne nationale",
            "la France (hors collectivités d'outre-mer)",
            count,
            population("france", None, ref),
        )
    else:
        region = region_of(niveau, code, ref)
        nom_region = ref.regions[region].nom if region in ref.regions else "?"
        reference = _comparaison(
            f"Moyenne régionale ({nom_region})",
            f"la région {nom_region}",
            int((frames.ptce["region"] == region).sum()),
            population("region", region, ref) if region else None,
        )
    type_label = (
        ref.epci[code].type_label if niveau == "epci" else TERRITOIRE_LABELS[niveau]
    )
    return FicheTerritoire(
        niveau=niveau,
        code=code,
        nom=table[code].nom,
        type_label=type_label,
        population=pop,
        ptce=ptce,
        soutiens_donnes=donnes,
        soutiens_recus=recus,
        pour_100k=per_100k(len(ptce), pop),
        reference=reference,
    )


def soutiens_par_niveau(soutiens: pd.DataFrame) -> pd.DataFrame:
    """Summarise supports per level of collectivité (for "received" supports).

    Returns
    -------
    pandas.DataFrame
        ``Niveau``, ``Soutiens``, ``Collectivités``, ``PTCE``, ``Montant
        connu (€)`` (NaN when no amount is known), one row per level present,
        in the order région, département, EPCI, commune.
    """
    rows = []
    for niveau in NIVEAUX:
        part = soutiens[soutiens["niveau"] == niveau]
        if part.empty:
            continue
        rows.append(
            {
                "Niveau": NIVEAU_LABELS[niveau],
                "Soutiens": len(part),
                "Collectivités": part["code"].nunique(),
                "PTCE": part["ptce_id"].nunique(),
                "Montant connu (€)": part["montant"].sum(min_count=1),
            }
        )
    return pd.DataFrame(
        rows,
        columns=["Niveau", "Soutiens", "Collectivités", "PTCE", "Montant connu (€)"],
    )


# --------------------------------------------------------------------------
# Matrix and list of collectivités
# --------------------------------------------------------------------------


def matrice(soutiens: pd.DataFrame) -> pd.DataFrame:
    """Count and sum supports per level of collectivité and kind of support.

    Parameters
    ----------
    soutiens : pandas.DataFrame
        :attr:`lib.domain.selection.Frames.soutiens`.

    Returns
    -------
    pandas.DataFrame
        Every combination of :data:`lib.domain.model.NIVEAUX` ×
        :data:`lib.domain.model.TYPES_SOUTIEN` (zeros included), columns
        :data:`MATRICE_COLUMNS`: ``niveau`` (code), ``Niveau`` (label),
        ``Type de soutien``, ``Soutiens`` (count), ``Montant (€)`` (sum of the
        known amounts, 0 when none) and ``Montants connus`` (how many
        supports have an amount).
    """
    grid = pd.MultiIndex.from_product(
        [list(NIVEAUX), list(TYPES_SOUTIEN)], names=["niveau", "type"]
    )
    grouped = soutiens.groupby(["niveau", "type"])
    stats = pd.DataFrame(
        {
            "Soutiens": grouped.size(),
            "Montant (€)": grouped["montant"].sum(),
            "Montants connus": grouped["montant"].count(),
        }
    )
    stats = stats.reindex(grid, fill_value=0).reset_index()
    stats["Soutiens"] = stats["Soutiens"].astype(int)
    stats["Montants connus"] = stats["Montants connus"].astype(int)
    stats["Montant (€)"] = stats["Montant (€)"].astype(float)
    stats["Niveau"] = stats["niveau"].map(NIVEAU_LABELS)
    # The guide's wording, not the stored code (lib.domain.soutiens).
    stats["type"] = stats["type"].map(libelle_type)
    stats = stats.rename(columns={"type": "Type de soutien"})
    return stats[MATRICE_COLUMNS]


def collectivites(soutiens: pd.DataFrame) -> pd.DataFrame:
    """List the supporting collectivités and the PTCE each supports.

    Parameters
    ----------
    soutiens : pandas.DataFrame
        :attr:`lib.domain.selection.Frames.soutiens`.

    Returns
    -------
    pandas.DataFrame
        One row per collectivité (level and code), columns
        :data:`COLLECTIVITE_COLUMNS`: ``niveau`` (code), ``Niveau`` (label),
        ``Code``, ``Collectivité``, ``PTCE soutenus`` (distinct PTCE),
        ``Soutiens``, ``Montant connu (€)`` (NaN when no amount is known),
        ``Types de soutien`` and ``PTCE`` (names, sorted, joined by « ; »).
        Sorted by number of PTCE supported, then level and name.
    """
    if soutiens.empty:
        return pd.DataFrame(columns=COLLECTIVITE_COLUMNS)
    rows = []
    for (niveau, code), part in soutiens.groupby(["niveau", "code"], sort=False):
        noms = fr.sorted_fr(set(part["ptce_nom"]))
        rows.append(
            {
                "niveau": niveau,
                "Niveau": NIVEAU_LABELS.get(niveau, niveau),
                "Code": code,
                "Collectivité": part["collectivite"].iloc[0],
                "PTCE soutenus": part["ptce_id"].nunique(),
                "Soutiens": len(part),
                "Montant connu (€)": part["montant"].sum(min_count=1),
                "Types de soutien": " ; ".join(
                    fr.sorted_fr({libelle_type(t) for t in part["type"]})
                ),
                "PTCE": " ; ".join(noms),
            }
        )
    table = pd.DataFrame(rows, columns=COLLECTIVITE_COLUMNS)
    order = {n: i for i, n in enumerate(NIVEAUX)}
    table["_rang"] = table["niveau"].map(order).fillna(len(order))
    table["_nom"] = table["Collectivité"].map(fr.sort_key)
    table = table.sort_values(
        ["PTCE soutenus", "_rang", "_nom"], ascending=[False, True, True]
    )
    return table.drop(columns=["_rang", "_nom"]).reset_index(drop=True)


def territory_choices(
    frames: Frames, ref: Reference | None = None
) -> dict[str, list[str]]:
    """Return the communes, EPCI, départements and régions present in frames.

    A territory is present when a PTCE of the frames is located there (seat,
    or territory of action for communes and EPCI) or when it supports one of
    them.

    Parameters
    ----------
    frames : Frames
        Usually the frames filtered by the sidebar.
    ref : Reference, optional
        The COG reference.

    Returns
    -------
    dict
        ``{niveau: [codes]}`` for each of :data:`NIVEAUX_TERRITOIRE`, codes
        known to the reference, sorted by name (départements by code).
    """
    ref = ref or load_reference()
    ptce = frames.ptce
    found: dict[str, set[str]] = {
        "commune": set(ptce["commune"].dropna())
        | {c for codes in ptce["territoire"] for c in codes if c in ref.communes},
        "region": set(ptce["region"].dropna()),
        "departement": set(ptce["departement"].dropna()),
        "epci": {c for codes in ptce["epci_lies"] for c in codes},
    }
    soutiens = frames.soutiens
    for niveau in NIVEAUX_TERRITOIRE:
        found[niveau] |= set(soutiens.loc[soutiens["niveau"] == niveau, "code"])
    out = {}
    for niveau in NIVEAUX_TERRITOIRE:
        table = _table(ref, niveau)
        codes = [c for c in found[niveau] if c in table]
        if niveau == "departement":
            codes.sort(key=lambda c: c.zfill(3))
        else:
            codes.sort(key=lambda c: (fr.sort_key(table[c].nom), c))
        out[niveau] = codes
    return out


MESURES = {"nombre": "Nombre de soutiens", "montant": "Montants (€)"}


def format_amount(value: float) -> str:
    """Format an amount compactly in French: ``"850 €"``, ``"12 k€"``, ``"1,3 M€"``."""
    if fr.is_missing(value) or value == 0:
        return ""
    return fr.euros_compact(value)


def support_rows(
    soutiens: pd.DataFrame, with_ptce: bool = False, with_collectivite: bool = False
) -> pd.DataFrame:
    """Return supports as a table with French column names, for display.

    Parameters
    ----------
    soutiens : pandas.DataFrame
        Rows of :attr:`lib.domain.selection.Frames.soutiens`.
    with_ptce, with_collectivite : bool
        Add the PTCE's name, or the collectivité's name and level.

    Returns
    -------
    pandas.DataFrame
    """
    columns = {}
    if with_ptce:
        columns["PTCE"] = soutiens["ptce_nom"]
    if with_collectivite:
        columns["Collectivité"] = soutiens["collectivite"]
        columns["Niveau"] = soutiens["niveau"].map(TERRITOIRE_LABELS).fillna("Commune")
    columns.update(
        {
            "Type de soutien": soutiens["type"].map(libelle_type),
            "Dispositif": soutiens["dispositif"],
            "Montant (€)": soutiens["montant"].astype("Float64"),
            "Début": soutiens["annee_debut"].astype("Int64"),
            "Fin": soutiens["annee_fin"].astype("Int64"),
            "Source": soutiens["source"],
        }
    )
    return pd.DataFrame(columns)
