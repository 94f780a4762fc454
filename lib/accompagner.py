"""« Que peut faire cette collectivité ? » — the guide and the data for one territory.

What a member of the club des collectivités comes for: on the fiche of a
commune, an EPCI, a département or a région, :func:`que_faire` gathers

- the part of the guide (:mod:`lib.reperes`) about its level: the level's
  role, its example and its source;
- the ways of supporting (:mod:`lib.soutiens`) that collectivités of that
  level use in the data, most used first, and those never seen there;
- what the other collectivités of the same level do, way by way, with the
  PTCE they support (those of the same région first);
- the PTCE of the territory and of its neighbours (same level, sharing a
  border), and when the territory has none, the nearest PTCE with its
  distance in kilometres.

Neighbours and distances come from the boundary cache built by
``python -m geo build`` (regional detail, where every level is the exact
union of its communes, so that shared borders match). The polygons are read
once per process by :func:`geo.boundaries.load_boundaries`; without the
cache, the rest is still computed and :attr:`QueFaire.contours` says so.
Nothing imports Streamlit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from geo.boundaries import CacheMissing, load_boundaries
from geo.build import cache_dir
from geo.reference import Reference, load_reference
from lib import fr
from lib import soutiens as types_soutien
from lib.explore import Frames
from lib.model import TYPES_SOUTIEN
from lib.reperes import Entry, section
from lib.territoires import (
    NIVEAUX_TERRITOIRE,
    ptce_mask,
    region_of,
)

__all__ = [
    "NIVEAU_NOMS",
    "Pair",
    "Pratique",
    "PtceLien",
    "QueFaire",
    "SoutiensDesPairs",
    "Voisin",
    "format_km",
    "que_faire",
    "role_du_niveau",
]

#: How the text names a level: singular, plural, feminine, « de » form.
NIVEAU_NOMS = {
    "commune": ("commune", "communes", True, "de commune"),
    "epci": ("EPCI", "EPCI", False, "d'EPCI"),
    "departement": ("département", "départements", False, "de département"),
    "region": ("région", "régions", True, "de région"),
}
#: Where a PTCE's position is known well enough to measure a distance (a
#: PTCE shown at the chef-lieu of its département or région is not).
_KNOWN_PLACEMENTS = ("coordonnées", "commune")
#: Peers listed per way of supporting, and PTCE per peer (the others counted).
PAIRS_MAX = 5
PTCE_MAX = 4


@dataclass(frozen=True)
class PtceLien:
    """A PTCE as the section lists it.

    Attributes
    ----------
    id, nom : str
        Its identifier (for the link to its fiche) and name.
    lieu : str
        Where it is, in words (« Ancenis-Saint-Géréon (44) », or its
        département when only that is known).
    distance_km : float or None
        Distance as the crow flies from the territory's border, in
        kilometres; None when not measured (position unknown, no boundary
        cache, or a PTCE of the territory itself).
    """

    id: str
    nom: str
    lieu: str
    distance_km: float | None = None

    @property
    def distance(self) -> str:
        """The distance in French (« 12,4 km »), or "" when not measured."""
        return format_km(self.distance_km)


def format_km(km: float | None) -> str:
    """Return a distance in kilometres the French way.

    Parameters
    ----------
    km : float or None

    Returns
    -------
    str
        « 0,4 km », « 12,4 km », « 135 km » (one decimal below 100 km,
        decimal comma, no-break space), « moins de 0,1 km » near zero, ""
        when missing.
    """
    if fr.is_missing(km):
        return ""
    if km < 0.05:
        return f"moins de {fr.number(0.1, 1)}\u00a0km"
    return f"{fr.number(km, 1 if km < 100 else 0)}\u00a0km"


@dataclass(frozen=True)
class Pratique:
    """A way of supporting as the collectivités of one level use it.

    Attributes
    ----------
    type : str
        The stored code (:data:`lib.model.TYPES_SOUTIEN`).
    libelle, definition : str
        The guide's wording and the short definition (:mod:`lib.soutiens`).
    soutiens : int
        Supports of this type given by collectivités of the level.
    collectivites : int
        How many collectivités of the level give them.
    ptce : int
        How many PTCE receive them.
    """

    type: str
    libelle: str
    definition: str
    soutiens: int
    collectivites: int
    ptce: int


@dataclass(frozen=True)
class Pair:
    """Another collectivité of the same level and the PTCE it supports one way.

    Attributes
    ----------
    code, nom : str
        The collectivité.
    meme_region : bool
        In the same région as the territory of the fiche.
    ptce : tuple of (str, str)
        ``(id, nom)`` of the PTCE it supports this way, at most
        :data:`PTCE_MAX`, in French order.
    ptce_total : int
        All the PTCE it supports this way.
    """

    code: str
    nom: str
    meme_region: bool
    ptce: tuple[tuple[str, str], ...]
    ptce_total: int


@dataclass(frozen=True)
class SoutiensDesPairs:
    """The supports of one type given by the other collectivités of the level.

    Attributes
    ----------
    type, libelle, definition : str
        The way of supporting (code, the guide's wording, definition).
    soutiens : int
        Supports of this type given by those collectivités.
    pairs : tuple of Pair
        At most :data:`PAIRS_MAX` of them: the same région first, then those
        supporting most PTCE, then by name.
    autres : int
        Those not listed.
    """

    type: str
    libelle: str
    definition: str
    soutiens: int
    pairs: tuple[Pair, ...]
    autres: int


@dataclass(frozen=True)
class Voisin:
    """A neighbouring territory of the same level and its PTCE.

    Attributes
    ----------
    code, nom : str
    ptce : tuple of PtceLien
        Its PTCE (as :func:`lib.territoires.ptce_mask` finds them) that are
        not also the territory's own, nearest first when measured.
    """

    code: str
    nom: str
    ptce: tuple[PtceLien, ...]


@dataclass(frozen=True)
class QueFaire:
    """What a collectivité can do: the guide for its level and the data.

    Attributes
    ----------
    niveau, code, nom : str
        The territory.
    singulier, pluriel : str
        How the text names its level: « EPCI », « départements »…
    feminin : bool
        The level's noun is feminine (commune, région), for agreements.
    de_niveau : str
        « de commune », « d'EPCI »… (« aucun soutien d'EPCI »).
    role : lib.reperes.Entry
        The guide's statement about the level: ``titre``, ``texte``,
        ``exemple`` and ``source`` (a :class:`lib.reperes.Ref`).
    pratiques : tuple of Pratique
        The ways of supporting used by collectivités of the level in the
        data, most supports first (ties in the guide's order), « autre »
        last.
    jamais : tuple of str
        Labels of the guide's seven ways no collectivité of the level uses
        in the data, in the guide's order.
    soutiens_niveau, collectivites_niveau : int
        Supports given by collectivités of the level, and how many give.
    pairs : tuple of SoutiensDesPairs
        The supports of the *other* collectivités of the level, one entry
        per way they use, in the order of ``pratiques``.
    ptce : tuple of PtceLien
        The PTCE of the territory (as on the fiche), by name.
    voisins : tuple of Voisin
        The territories of the same level sharing a border with it, those
        with PTCE first, then by name (empty without the boundary cache).
    plus_proche : PtceLien or None
        When the territory has no PTCE: the nearest one whose position is
        known, with its distance from the territory's border.
    sans_position : tuple of PtceLien
        When the territory has no PTCE: the PTCE of its département (of the
        départements of an EPCI, of the région of a département) whose
        commune is unknown, which may lie in it.
    contours : bool
        False when the boundary cache was missing: no neighbours, no
        distances.
    """

    niveau: str
    code: str
    nom: str
    singulier: str
    pluriel: str
    feminin: bool
    de_niveau: str
    role: Entry
    pratiques: tuple[Pratique, ...]
    jamais: tuple[str, ...]
    soutiens_niveau: int
    collectivites_niveau: int
    pairs: tuple[SoutiensDesPairs, ...]
    ptce: tuple[PtceLien, ...]
    voisins: tuple[Voisin, ...]
    plus_proche: PtceLien | None
    sans_position: tuple[PtceLien, ...]
    contours: bool


def role_du_niveau(niveau: str) -> Entry:
    """Return the guide's statement about the role of one level.

    Parameters
    ----------
    niveau : {"commune", "epci", "departement", "region"}

    Returns
    -------
    lib.reperes.Entry
        The entry of the section « Le rôle de chaque niveau de collectivité »
        whose example collectivité is of that level.

    Raises
    ------
    ValueError
        For a level the guide does not describe.
    """
    for entry in section("niveaux").entries:
        if entry.soutien and entry.soutien[0] == niveau:
            return entry
    raise ValueError(f"niveau inconnu : {niveau!r}")


def que_faire(
    frames: Frames,
    niveau: str,
    code: str,
    ref: Reference | None = None,
    shapes: gpd.GeoSeries | None = None,
) -> QueFaire:
    """Gather what the guide and the data tell one collectivité.

    Parameters
    ----------
    frames : Frames
        The PTCE and supports to consider: those of the fiche territoire
        (thematic filters, no territorial filter), so that peers and the
        nearest PTCE are looked for everywhere.
    niveau : {"commune", "epci", "departement", "region"}
        The level of the territory.
    code : str
        Its code (INSEE code of a commune, SIREN of an EPCI).
    ref : Reference, optional
        The COG reference.
    shapes : geopandas.GeoSeries, optional
        Polygons of the level indexed by code (WGS84); by default those of
        the boundary cache at the regional detail. Without them, neither
        neighbours nor distances.

    Returns
    -------
    QueFaire

    Raises
    ------
    ValueError
        When the level is not one of :data:`lib.territoires.NIVEAUX_TERRITOIRE`
        or the code is unknown at that level.
    """
    ref = ref or load_reference()
    if niveau not in NIVEAUX_TERRITOIRE:
        raise ValueError(f"niveau inconnu : {niveau!r}")
    table = ref.level(niveau)
    if code not in table:
        raise ValueError(f"territoire inconnu : {niveau} « {code} »")
    if shapes is None:
        shapes = level_shapes(niveau)
    geom = shapes.get(code) if shapes is not None else None

    level = frames.soutiens[frames.soutiens["niveau"] == niveau]
    pratiques = _pratiques(level)
    used = {p.type for p in pratiques}
    jamais = tuple(types_soutien.libelle(t) for t in TYPES_SOUTIEN[:7] if t not in used)
    region = region_of(niveau, code, ref)
    pairs = _pairs(level[level["code"] != code], pratiques, niveau, region, ref)

    ptce = frames.ptce
    inside = ptce_mask(ptce, niveau, code).to_numpy()
    distances = _distances(ptce, geom)
    own = _liens(ptce[inside], None)
    voisins = ()
    if geom is not None:
        voisins = _voisins(ptce, inside, distances, niveau, code, shapes, table)
    plus_proche, sans_position = None, ()
    if not own:
        plus_proche = _nearest(ptce, distances)
        sans_position = _sans_position(ptce, niveau, code, ref)
    singulier, pluriel, feminin, de_niveau = NIVEAU_NOMS[niveau]
    return QueFaire(
        niveau=niveau,
        code=code,
        nom=table[code].nom,
        singulier=singulier,
        pluriel=pluriel,
        feminin=feminin,
        de_niveau=de_niveau,
        role=role_du_niveau(niveau),
        pratiques=pratiques,
        jamais=jamais,
        soutiens_niveau=len(level),
        collectivites_niveau=int(level["code"].nunique()),
        pairs=pairs,
        ptce=own,
        voisins=voisins,
        plus_proche=plus_proche,
        sans_position=sans_position,
        contours=geom is not None,
    )


# -- ways of supporting ------------------------------------------------------------


def _pratiques(level: pd.DataFrame) -> tuple[Pratique, ...]:
    order = {t: i for i, t in enumerate(TYPES_SOUTIEN)}
    out = [
        Pratique(
            type=t,
            libelle=types_soutien.libelle(t),
            definition=types_soutien.definition(t),
            soutiens=len(part),
            collectivites=int(part["code"].nunique()),
            ptce=int(part["ptce_id"].nunique()),
        )
        for t, part in level.groupby("type", sort=False)
    ]
    # « autre » is none of the guide's ways: after them, whatever its count.
    out.sort(
        key=lambda p: (
            p.type == "autre",
            -p.soutiens,
            order.get(p.type, len(order)),
            p.type,
        )
    )
    return tuple(out)


def _pairs(
    others: pd.DataFrame,
    pratiques: tuple[Pratique, ...],
    niveau: str,
    region: str | None,
    ref: Reference,
) -> tuple[SoutiensDesPairs, ...]:
    regions: dict[str, str | None] = {}

    def same_region(code: str) -> bool:
        if code not in regions:
            regions[code] = region_of(niveau, code, ref)
        return region is not None and regions[code] == region

    out = []
    for pratique in pratiques:
        part = others[others["type"] == pratique.type]
        if part.empty:
            continue
        peers = []
        for peer, rows in part.groupby("code", sort=False):
            names = dict(zip(rows["ptce_id"], rows["ptce_nom"], strict=True))
            ordered = fr.sorted_fr(names.items(), key=lambda item: item[1])
            peers.append(
                Pair(
                    code=str(peer),
                    nom=fr.text(rows["collectivite"].iloc[0]),
                    meme_region=same_region(str(peer)),
                    ptce=tuple(ordered[:PTCE_MAX]),
                    ptce_total=len(ordered),
                )
            )
        peers.sort(key=lambda p: (not p.meme_region, -p.ptce_total, fr.sort_key(p.nom)))
        out.append(
            SoutiensDesPairs(
                type=pratique.type,
                libelle=pratique.libelle,
                definition=pratique.definition,
                soutiens=len(part),
                pairs=tuple(peers[:PAIRS_MAX]),
                autres=max(len(peers) - PAIRS_MAX, 0),
            )
        )
    return tuple(out)


# -- PTCE of the territory, of its neighbours, the nearest -------------------------


def _liens(rows: pd.DataFrame, distances: np.ndarray | None) -> tuple[PtceLien, ...]:
    # ``distances`` aligned with ``rows`` (NaN: not measured), or None.
    items = []
    for i, row in enumerate(rows.itertuples(index=False)):
        d = None if distances is None else float(distances[i])
        items.append(
            PtceLien(
                id=str(row.id),
                nom=fr.text(row.nom),
                lieu=fr.text(row.lieu, ""),
                distance_km=None if d is None or np.isnan(d) else d,
            )
        )
    items.sort(
        key=lambda p: (
            p.distance_km is None,
            p.distance_km or 0.0,
            fr.sort_key(p.nom),
        )
    )
    return tuple(items)


def _distances(ptce: pd.DataFrame, geom) -> np.ndarray:
    """Kilometres from the territory's border to each PTCE (NaN: unknown)."""
    out = np.full(len(ptce), np.nan)
    if geom is None or not len(ptce):
        return out
    known = ptce["placement"].isin(_KNOWN_PLACEMENTS).to_numpy().copy()
    lon = pd.to_numeric(ptce["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(ptce["lat"], errors="coerce").to_numpy(dtype=float)
    known &= ~(np.isnan(lon) | np.isnan(lat))
    if not known.any():
        return out
    # An azimuthal equidistant projection centred on the territory: true
    # distances from its centre, close to true from its border.
    centre = shapely.centroid(geom)
    crs = pyproj.CRS.from_proj4(
        f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +datum=WGS84 +units=m"
    )
    to_metres = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)

    def project(xy: np.ndarray) -> np.ndarray:
        x, y = to_metres.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    shape = shapely.transform(geom, project)
    x, y = to_metres.transform(lon[known], lat[known])
    out[known] = shapely.distance(shape, shapely.points(x, y)) / 1000
    return out


def _voisins(
    ptce: pd.DataFrame,
    inside: np.ndarray,
    distances: np.ndarray,
    niveau: str,
    code: str,
    shapes: gpd.GeoSeries,
    table: dict,
) -> tuple[Voisin, ...]:
    out = []
    for other in neighbours(shapes, code):
        if other not in table:
            continue
        theirs = ptce_mask(ptce, niveau, other).to_numpy() & ~inside
        out.append(
            Voisin(
                code=other,
                nom=table[other].nom,
                ptce=_liens(ptce[theirs], distances[theirs]),
            )
        )
    out.sort(key=lambda v: (not v.ptce, fr.sort_key(v.nom)))
    return tuple(out)


def _nearest(ptce: pd.DataFrame, distances: np.ndarray) -> PtceLien | None:
    if np.isnan(distances).all():
        return None
    # Ties (PTCE at the same place) go to the first name in French order.
    best = np.nanmin(distances)
    tied = np.flatnonzero(distances == best)
    return _liens(ptce.iloc[tied], distances[tied])[0]


def _sans_position(
    ptce: pd.DataFrame, niveau: str, code: str, ref: Reference
) -> tuple[PtceLien, ...]:
    # PTCE whose seat commune is unknown but whose département (or région,
    # for a département) is the territory's: they may lie in it.
    if niveau == "region":
        return ()
    unknown = ~ptce["placement"].isin(_KNOWN_PLACEMENTS)
    if niveau == "departement":
        inside = (ptce["region"] == ref.departements[code].region) & ptce[
            "departement"
        ].isna()
    else:
        if niveau == "commune":
            deps = {ref.communes[code].departement}
        else:
            deps = {ref.communes[m].departement for m in ref.epci[code].membres}
        inside = ptce["departement"].isin(deps)
    return _liens(ptce[(unknown & inside).to_numpy()], None)


# -- geometry: a thin loader over the boundary cache --------------------------------


def level_shapes(niveau: str) -> gpd.GeoSeries | None:
    """Return the polygons of one level indexed by code, or None without cache.

    Parameters
    ----------
    niveau : {"commune", "epci", "departement", "region"}

    Returns
    -------
    geopandas.GeoSeries or None
        The regional detail of the boundary cache (WGS84), read once per
        process and cache folder; None when the cache has not been built.
    """
    try:
        return _shapes(niveau, str(cache_dir()))
    except CacheMissing:
        return None


@functools.lru_cache(maxsize=8)
def _shapes(niveau: str, folder: str) -> gpd.GeoSeries:
    del folder  # cache key: another cache folder, other polygons
    gdf = load_boundaries(niveau, "regional")
    return gpd.GeoSeries(gdf.geometry.to_numpy(), index=gdf["code"], crs=gdf.crs)


def neighbours(shapes: gpd.GeoSeries, code: str) -> tuple[str, ...]:
    """Return the territories that share a border with one territory.

    Parameters
    ----------
    shapes : geopandas.GeoSeries
        Polygons of one level indexed by code, forming a coverage (the
        regional detail of the boundary cache: shared borders match).
    code : str
        The territory.

    Returns
    -------
    tuple of str
        Codes of the polygons whose border shares a line with its border
        (touching at a single point is not enough), sorted; empty when the
        territory has no polygon.
    """
    geom = shapes.get(code)
    if geom is None:
        return ()
    candidates = shapes.iloc[shapes.sindex.query(geom, predicate="intersects")]
    border = shapely.boundary(geom)
    found = [
        str(other)
        for other, shape in candidates.items()
        if other != code
        and shapely.length(shapely.intersection(border, shapely.boundary(shape))) > 0
    ]
    return tuple(sorted(found))
