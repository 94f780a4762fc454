"""Lookups: commune → EPCI → département → région, search and placement.

Codes resolve through the committed COG 2026 reference (no boundary cache
needed); representative points come from the boundary cache.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from geo.reference import Reference, load_reference, normalise_code
from lib.fr import sort_key


class UnknownCode(LookupError):
    """A code that matches no current or former territory (French message)."""


def lookup(code: str, ref: Reference | None = None) -> dict:
    """Return the territories a commune belongs to.

    Parameters
    ----------
    code : str
        A current or former INSEE commune code, a delegated or associated
        commune or a municipal arrondissement (Paris, Lyon, Marseille).
    ref : Reference, optional
        The COG reference; the committed one by default.

    Returns
    -------
    dict
        ``{"commune": {"code", "nom"}, "epci": {"code", "nom"} | None,
        "departement": {"code", "nom"}, "region": {"code", "nom"}}``, about
        today's commune.

    Raises
    ------
    UnknownCode
        When the code is unknown.
    """
    ref = ref or load_reference()
    current = ref.current_code(code)
    if current is None:
        raise UnknownCode(f"Code commune inconnu dans le COG 2026 : « {code} »")
    commune = ref.communes[current]
    epci = ref.epci.get(commune.epci) if commune.epci else None
    departement = ref.departements[commune.departement]
    region = ref.regions[commune.region]
    return {
        "commune": {"code": commune.code, "nom": commune.nom},
        "epci": {"code": epci.code, "nom": epci.nom} if epci else None,
        "departement": {"code": departement.code, "nom": departement.nom},
        "region": {"code": region.code, "nom": region.nom},
    }


def fold(text: str) -> str:
    """Fold a name for matching: no accents, lower case, hyphens as spaces.

    Parameters
    ----------
    text : str
        A place name, e.g. ``"Ancenis-Saint-Géréon"``.

    Returns
    -------
    str
        ``"ancenis saint gereon"``; "St"/"Ste" are expanded so that
        "St-Nazaire" matches "Saint-Nazaire".
    """
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("œ", "oe").replace("æ", "ae")
    for ch in "-'’`.,()/":
        text = text.replace(ch, " ")
    words = {"st": "saint", "ste": "sainte"}
    return " ".join(words.get(w, w) for w in text.split())


@dataclass(frozen=True)
class Match:
    """A commune found by name or postal code."""

    code: str
    nom: str
    departement: str
    via: str  # "nom", "ancien nom", "code postal"


@functools.lru_cache(maxsize=4)
def _name_index(ref: Reference) -> dict[str, list[tuple[str, str]]]:
    index: dict[str, list[tuple[str, str]]] = {}
    for c in ref.communes.values():
        index.setdefault(fold(c.nom), []).append((c.code, "nom"))
    for r in ref.rattachees_all:
        index.setdefault(fold(r.nom), []).append((r.commune, "ancien nom"))
    return index


@functools.lru_cache(maxsize=4)
def _postal_index(ref: Reference) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for c in ref.communes.values():
        for cp in c.codes_postaux:
            index.setdefault(cp, []).append(c.code)
    return index


def search(
    name: str,
    departement: str | None = None,
    postal_code: str | None = None,
    ref: Reference | None = None,
) -> list[Match]:
    """Find current communes by name, optionally within a département or postcode.

    Matching ignores case, accents, hyphens and apostrophes; names of delegated
    and associated communes lead to today's commune.

    Parameters
    ----------
    name : str
        The commune name as typed (may be empty when ``postal_code`` is given).
    departement : str, optional
        A département code to disambiguate (``"44"``, ``"2A"``).
    postal_code : str, optional
        A postal code; with an empty name, every commune it serves.
    ref : Reference, optional
        The COG reference; the committed one by default.

    Returns
    -------
    list of Match
        Matching communes, exact name matches first.
    """
    ref = ref or load_reference()
    if departement is not None:
        departement = normalise_code(departement).lstrip("0").rjust(2, "0")
    key = fold(name or "")
    candidates: list[tuple[str, str]] = []
    if key:
        candidates = list(_name_index(ref).get(key, []))
    if postal_code:
        in_cp = set(_postal_index(ref).get(str(postal_code).strip(), []))
        if key:
            candidates = [(c, via) for c, via in candidates if c in in_cp]
        else:
            candidates = [(c, "code postal") for c in sorted(in_cp)]
    seen: dict[str, Match] = {}
    for code, via in candidates:
        commune = ref.communes[code]
        if departement and commune.departement != departement:
            continue
        seen.setdefault(code, Match(code, commune.nom, commune.departement, via))
    return sorted(seen.values(), key=lambda m: (m.via != "nom", m.code))


def by_postal_code(postal_code: str, ref: Reference | None = None) -> list[Match]:
    """Return the current communes served by a postal code."""
    return search("", postal_code=postal_code, ref=ref)


def representative_point(
    code: str, ref: Reference | None = None
) -> tuple[float, float]:
    """Return a point (longitude, latitude) inside a commune, for placing a PTCE.

    The point lies inside the commune and inside its EPCI, département and
    région as drawn on the maps (see :mod:`geo.build`).

    Parameters
    ----------
    code : str
        A current or former commune code.
    ref : Reference, optional
        The COG reference; the committed one by default.

    Returns
    -------
    tuple of float
        ``(lon, lat)``.

    Raises
    ------
    UnknownCode
        When the code is unknown or the commune has no polygon in the source.
    """
    ref = ref or load_reference()
    current = ref.current_code(code)
    if current is None:
        raise UnknownCode(f"Code commune inconnu dans le COG 2026 : « {code} »")
    points = _points()
    if current not in points:
        raise UnknownCode(
            f"La commune {current} ({ref.communes[current].nom}) n'a pas de "
            "contour dans la source : pas de point représentatif."
        )
    return points[current]


def _points() -> dict[str, tuple[float, float]]:
    from geo.build import cache_dir

    return _points_in(cache_dir())


@functools.lru_cache(maxsize=2)
def _points_in(folder: Path) -> dict[str, tuple[float, float]]:
    # Imported here: code lookups must work without the boundary cache.
    from geo.boundaries import _read

    gdf = _read("commune", "regional", folder)
    return {
        code: (float(x), float(y))
        for code, x, y in zip(gdf["code"], gdf["x"], gdf["y"], strict=True)
    }


_DEPARTEMENT_SUFFIX = re.compile(r"^(?P<name>.*?)[\s,]*\(?(?P<dep>\d{2,3}|2[ABab])\)?$")


def find_places(query: str, ref: Reference | None = None) -> list[dict]:
    """Resolve free text to communes and their territories, for a search box.

    Parameters
    ----------
    query : str
        An INSEE code (current or former), a postal code, a commune name, or
        a name followed by a département code (``"Saint-Denis (974)"``).
    ref : Reference, optional
        The COG reference; the committed one by default.

    Returns
    -------
    list of dict
        One row per commune found, with French column names: commune, code,
        EPCI, département, région and how it was found.
    """
    ref = ref or load_reference()
    text = query.strip()
    found: dict[str, str] = {}
    if re.fullmatch(r"\d[0-9ABab]\d{2,3}", text):
        current = ref.current_code(text)
        if current:
            found[current] = (
                "code INSEE"
                if current == normalise_code(text)
                else ("ancien code INSEE")
            )
    if re.fullmatch(r"\d{5}", text):
        for m in by_postal_code(text, ref):
            found.setdefault(m.code, "code postal")
    if not found and text:
        match = _DEPARTEMENT_SUFFIX.match(text)
        name, dep = (
            (match["name"], match["dep"]) if match and match["name"] else (text, None)
        )
        for m in search(name, departement=dep, ref=ref):
            found.setdefault(m.code, m.via)
    rows = []
    for code, via in found.items():
        info = lookup(code, ref)
        dep = info["departement"]
        rows.append(
            {
                "Commune": info["commune"]["nom"],
                "Code INSEE": code,
                "EPCI": info["epci"]["nom"] if info["epci"] else "—",
                "Département": f"{dep['nom']} ({dep['code']})",
                "Région": info["region"]["nom"],
                "Trouvée par": via,
            }
        )
    return rows


def territory_name(level: str, code: str, ref: Reference | None = None) -> str:
    """Return the name of a collectivité from its level and COG code.

    Parameters
    ----------
    level : {"region", "departement", "epci", "commune"}
        The level of the collectivité.
    code : str
        Région or département code, EPCI SIREN, or INSEE commune code.
    ref : Reference, optional
        The COG reference.

    Returns
    -------
    str
        The name, e.g. ``"CC du Pays d'Ancenis"``.

    Raises
    ------
    UnknownCode
        When the code is not in the reference at that level.
    """
    ref = ref or load_reference()
    table = ref.level(level)
    if code not in table:
        raise UnknownCode(f"Collectivité inconnue : {level} « {code} »")
    return table[code].nom


def commune_points() -> dict[str, tuple[float, float]]:
    """Return ``{commune code: (lon, lat)}`` representative points (cached).

    Raises
    ------
    geo.boundaries.CacheMissing
        When the boundary cache has not been built.
    """
    return _points()


@functools.lru_cache(maxsize=64)
def epci_in(departements: tuple[str, ...]) -> tuple[str, ...]:
    """Return the EPCI with a member commune in any of the départements.

    Parameters
    ----------
    departements : tuple of str
        Département codes (sorted, so that equal sets share the cache).

    Returns
    -------
    tuple of str
        EPCI SIREN codes, sorted by name (cached: the sidebar asks on every
        rerun).
    """
    ref = load_reference()
    scope = set(departements)
    return tuple(
        sorted(
            (code for code, deps in _epci_departements().items() if deps & scope),
            key=lambda c: sort_key(ref.epci[c].nom),  # « Évron » among the E
        )
    )


@functools.lru_cache(maxsize=1)
def _epci_departements() -> dict[str, frozenset[str]]:
    # The départements of each EPCI's member communes, worked out once: a new
    # set of départements in the sidebar then costs a pass over 1,255 sets.
    ref = load_reference()
    return {
        e.code: frozenset(ref.communes[m].departement for m in e.membres)
        for e in ref.epci.values()
    }
