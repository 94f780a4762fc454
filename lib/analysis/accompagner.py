"""« Que peut faire cette collectivité ? » — the guide and the data for one territory.

What a member of the club des collectivités comes for: on the fiche of a
commune, an EPCI, a département or a région, :func:`que_faire` gathers

- the part of the guide (:mod:`lib.analysis.reperes`) about its level: the level's
  role, its example and its source;
- the ways of supporting (:mod:`lib.domain.soutiens`) that collectivités of that
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

# size: one answer (« Que peut faire cette collectivité ? ») in four parts —
# role, practices of the level, peers, PTCE around — sharing QueFaire's dataclasses
# and the neighbour and distance helpers; 25 functions, none over 90 lines.

from __future__ import annotations

import functools
import re
import unicodedata
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
from lib.analysis.reperes import Entry, section
from lib.analysis.territoires import NIVEAUX_TERRITOIRE, ptce_mask, region_of
from lib.domain import soutiens as types_soutien
from lib.domain.model import TYPES_SOUTIEN
from lib.domain.selection import Frames

__all__ = [
    "LISTE_MAX",
    "NIVEAU_NOMS",
    "PAIRS_MAX",
    "PTCE_MAX",
    "Pair",
    "Pratique",
    "PtceLien",
    "QueFaire",
    "SoutiensDesPairs",
    "Voisin",
    "format_km",
    "level_shapes",
    "neighbours",
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
#: PTCE listed for the territory, for each neighbour and among those without
#: position (the others counted): a région may have thousands.
LISTE_MAX = 8
#: The combining accents :func:`lib.fr.sort_key` ignores first.
_ACCENTS = re.compile("[\u0300-\u036f]")


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
    if km is None or fr.is_missing(km):
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
        The stored code (:data:`lib.domain.model.TYPES_SOUTIEN`).
    libelle, definition : str
        The guide's wording and the short definition (:mod:`lib.domain.soutiens`).
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
        Its PTCE (as :func:`lib.analysis.territoires.ptce_mask` finds them) that are
        not also the territory's own: at most :data:`LISTE_MAX`, nearest
        first, then those not measured, each group in French order.
    ptce_total : int
        All of them.
    """

    code: str
    nom: str
    ptce: tuple[PtceLien, ...]
    ptce_total: int


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
    role : lib.analysis.reperes.Entry
        The guide's statement about the level: ``titre``, ``texte``,
        ``exemple`` and ``source`` (a :class:`lib.analysis.reperes.Ref`).
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
        The PTCE of the territory (as on the fiche), at most
        :data:`LISTE_MAX`, by name.
    ptce_total : int
        All of them.
    voisins : tuple of Voisin
        The territories of the same level sharing a border with it, those
        with PTCE first, then by name (empty without the boundary cache).
    plus_proche : PtceLien or None
        When the territory has no PTCE: the nearest one whose position is
        known, with its distance from the territory's border.
    sans_position : tuple of PtceLien
        When the territory has no PTCE: the PTCE of its département (of the
        départements of an EPCI, of the région of a département) whose
        position is unknown, which may lie in it; at most :data:`LISTE_MAX`.
    sans_position_total : int
        All of them.
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
    ptce_total: int
    voisins: tuple[Voisin, ...]
    plus_proche: PtceLien | None
    sans_position: tuple[PtceLien, ...]
    sans_position_total: int
    contours: bool


def role_du_niveau(niveau: str) -> Entry:
    """Return the guide's statement about the role of one level.

    Parameters
    ----------
    niveau : {"commune", "epci", "departement", "region"}

    Returns
    -------
    lib.analysis.reperes.Entry
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


# size: 29-line numpy docstring and a 20-field QueFaire; each step of the
# body (practices, peers, PTCE around, nearest) is already a helper.
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
        When the level is not one of :data:`lib.analysis.territoires.NIVEAUX_TERRITOIRE`
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
    mesure = _Mesure(ptce, geom)
    own = _premiers(ptce[inside], None)
    voisins: tuple[Voisin, ...] = ()
    if geom is not None:
        voisins = _voisins(ptce, inside, mesure, niveau, code, shapes, table)
    plus_proche = None
    sans_position: tuple[PtceLien, ...] = ()
    sans_position_total = 0
    if not inside.any():
        plus_proche = _nearest(ptce, mesure)
        unplaced = _sans_position(ptce, niveau, code, ref)
        sans_position, sans_position_total = _premiers(unplaced, None), len(unplaced)
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
        ptce_total=int(inside.sum()),
        voisins=voisins,
        plus_proche=plus_proche,
        sans_position=sans_position,
        sans_position_total=sans_position_total,
        contours=geom is not None,
    )


# -- ways of supporting ------------------------------------------------------------


def _pratiques(level: pd.DataFrame) -> tuple[Pratique, ...]:
    order = {t: i for i, t in enumerate(TYPES_SOUTIEN)}
    stats = level.groupby("type", sort=False).agg(
        soutiens=("code", "size"),
        collectivites=("code", "nunique"),
        ptce=("ptce_id", "nunique"),
    )
    out = [
        Pratique(
            type=str(t),
            libelle=types_soutien.libelle(str(t)),
            definition=types_soutien.definition(str(t)),
            soutiens=int(row.soutiens),
            collectivites=int(row.collectivites),
            ptce=int(row.ptce),
        )
        for t, row in stats.iterrows()
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
    # Vectorised: with 100,000 PTCE, a level may have 100,000 supports from
    # 30,000 communes; only the listed peers and PTCE are sorted by name.
    if others.empty:
        return ()
    codes = others["code"].astype(str).to_numpy(dtype=object)
    links = pd.DataFrame(
        {
            "type": others["type"].to_numpy(dtype=object),
            "code": codes,
            "ptce_id": others["ptce_id"].to_numpy(dtype=object),
            "ptce_nom": others["ptce_nom"].to_numpy(dtype=object),
        }
    ).drop_duplicates(["type", "code", "ptce_id"], ignore_index=True)
    names = dict(zip(codes, others["collectivite"].to_numpy(dtype=object), strict=True))
    regions = _regions(niveau, pd.unique(codes), ref)
    totals = links.groupby(["type", "code"], sort=False).size()
    # The rows of one (type, peer), found by bisection in the sorted keys.
    keys = (links["type"] + "\x1f" + links["code"]).to_numpy(dtype=object)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]

    def rows(kind: str, peer: str) -> np.ndarray:
        key = f"{kind}\x1f{peer}"
        start = np.searchsorted(ordered, key, side="left")
        end = np.searchsorted(ordered, key, side="right")
        return np.sort(order[start:end])

    supports = others["type"].value_counts()
    out = []
    for pratique in pratiques:
        if pratique.type not in totals.index.get_level_values(0):
            continue
        peers = totals.xs(pratique.type, level="type")
        peer_codes = peers.index.to_numpy(dtype=object)
        same = np.array(
            [region is not None and regions.get(c) == region for c in peer_codes],
            dtype=bool,
        )
        total = peers.to_numpy()
        peer_names = pd.Series([fr.text(names[c]) for c in peer_codes])
        chosen = _first_positions([(~same).astype(int), -total], peer_names, PAIRS_MAX)
        pairs = []
        for pos in chosen:
            theirs = links.iloc[rows(pratique.type, peer_codes[pos])]
            first = _first_positions([], theirs["ptce_nom"], PTCE_MAX)
            pairs.append(
                Pair(
                    code=str(peer_codes[pos]),
                    nom=peer_names.iloc[pos],
                    meme_region=bool(same[pos]),
                    ptce=tuple(
                        (
                            str(theirs["ptce_id"].iloc[i]),
                            str(theirs["ptce_nom"].iloc[i]),
                        )
                        for i in first
                    ),
                    ptce_total=int(total[pos]),
                )
            )
        out.append(
            SoutiensDesPairs(
                type=pratique.type,
                libelle=pratique.libelle,
                definition=pratique.definition,
                soutiens=int(supports[pratique.type]),
                pairs=tuple(pairs),
                autres=max(len(peers) - PAIRS_MAX, 0),
            )
        )
    return tuple(out)


def _regions(niveau: str, codes, ref: Reference) -> dict[str, str | None]:
    # The région of each collectivité of one level (an EPCI: most inhabitants).
    if niveau == "commune":
        return {c: ref.communes[c].region for c in codes if c in ref.communes}
    if niveau == "departement":
        return {c: ref.departements[c].region for c in codes if c in ref.departements}
    return {c: region_of(niveau, c, ref) for c in codes}


def _primary(names: pd.Series) -> np.ndarray:
    """Return the first level of :func:`lib.fr.sort_key` for a whole column."""
    return np.array(
        [
            _ACCENTS.sub("", unicodedata.normalize("NFD", _ligatures(text))).casefold()
            for text in names.astype(str)
        ],
        dtype=object,
    )


def _ligatures(text: str) -> str:
    # Letters Unicode does not decompose but French sorts as two, as
    # lib.fr.sort_key (str.replace: translate with a table is ten times slower).
    return (
        text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    )


def _first_positions(keys: list[np.ndarray], names: pd.Series, n: int) -> list[int]:
    """Return the positions of the ``n`` first rows by ``keys``, then by name.

    Names are in French order (:func:`lib.fr.sort_key`), worked out only for
    the rows that can be among the first: those the numeric keys alone put
    before the ``n``-th row, and those they tie with it; among these, the
    accent-free, case-free name (the first level of French order) narrows
    them down to the ``n``-th and its ties.
    """
    count = len(names)
    if not count:
        return []
    candidates = np.arange(count)
    if count > n and keys:
        ranked = np.lexsort(tuple(reversed(keys)))
        nth = ranked[n - 1]
        tied = np.ones(count, dtype=bool)
        before = np.zeros(count, dtype=bool)
        for key in keys:  # lexicographic: before on the first key that differs
            before |= tied & (key < key[nth])
            tied &= key == key[nth]
        candidates = np.flatnonzero(before | tied)
    if len(candidates) > n:
        primary = _primary(names.iloc[candidates])
        numeric = [key[candidates] for key in keys]
        frame = pd.DataFrame(
            {f"k{i}": k for i, k in enumerate(numeric)} | {"p": primary}
        )
        order = list(frame.columns)
        ranked = frame.sort_values(order, kind="stable").index.to_numpy()
        nth = frame.iloc[ranked[n - 1]]
        keep = np.zeros(len(frame), dtype=bool)
        keep[ranked[:n]] = True
        tied = np.ones(len(frame), dtype=bool)
        for column in order:
            tied &= frame[column].to_numpy() == nth[column]
        candidates = candidates[keep | tied]
    texts = names.to_numpy(dtype=object)
    exact = sorted(
        candidates.tolist(),
        key=lambda i: (*(key[i] for key in keys), fr.sort_key(texts[i])),
    )
    return exact[:n]


# -- PTCE of the territory, of its neighbours, the nearest -------------------------


def _premiers(
    rows: pd.DataFrame, distances: np.ndarray | None, n: int = LISTE_MAX
) -> tuple[PtceLien, ...]:
    """Return the ``n`` first PTCE: nearest first, unmeasured last, by name."""
    if rows.empty:
        return ()
    if distances is None:
        distances = np.full(len(rows), np.nan)
    measured = np.where(np.isnan(distances), np.inf, distances)
    chosen = _first_positions([measured], rows["nom"], n)
    return tuple(
        PtceLien(
            id=str(rows["id"].iloc[i]),
            nom=fr.text(rows["nom"].iloc[i]),
            lieu=fr.text(rows["lieu"].iloc[i], ""),
            distance_km=None if np.isnan(distances[i]) else float(distances[i]),
        )
        for i in chosen
    )


class _Mesure:
    """Kilometres from a territory's border to PTCE, measured when needed.

    Zero inside the territory; outside, the distance to the nearest segment
    of its border (a tree of the segments: a région's border has thousands
    of vertices), in an azimuthal equidistant projection centred on it (true
    distances from its centre, close to true from its border). Only PTCE of
    known position are measured, and only those that can be among the
    nearest asked for: the data may hold 100,000 PTCE.
    """

    def __init__(self, ptce: pd.DataFrame, geom) -> None:
        self.geom = geom
        lon = pd.to_numeric(ptce["lon"], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(ptce["lat"], errors="coerce").to_numpy(dtype=float)
        known = ptce["placement"].isin(_KNOWN_PLACEMENTS).to_numpy()
        self.known = known & ~(np.isnan(lon) | np.isnan(lat)) & (geom is not None)
        self.lon, self.lat = lon, lat
        #: Distances measured so far (NaN: not measured, or unknown).
        self.km = np.full(len(ptce), np.nan)
        self._tree: shapely.STRtree | None = None

    def _setup(self) -> None:
        centre = shapely.centroid(self.geom)
        # A pipeline, not two CRS: no lookup in PROJ's database (50 ms).
        self._to_metres = pyproj.Transformer.from_pipeline(
            "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
            f"+step +proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +ellps=WGS84"
        )

        def project(xy: np.ndarray) -> np.ndarray:
            x, y = self._to_metres.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        self._shape = shapely.transform(self.geom, project)
        shapely.prepare(self._shape)
        segments = []
        for ring in shapely.get_parts(shapely.boundary(self._shape)):
            xy = shapely.get_coordinates(ring)
            segments.append(np.stack([xy[:-1], xy[1:]], axis=1))
        self._tree = shapely.STRtree(shapely.linestrings(np.concatenate(segments)))
        # Bounds for the lower bound of :meth:`nearest`.
        self._box = shapely.bounds(self.geom)

    def _measure(self, positions: np.ndarray) -> None:
        positions = positions[np.isnan(self.km[positions])]
        if not len(positions):
            return
        if self._tree is None:
            self._setup()
        assert self._tree is not None  # built by _setup()
        x, y = self._to_metres.transform(self.lon[positions], self.lat[positions])
        (which, _), metres = self._tree.query_nearest(
            shapely.points(x, y), return_distance=True
        )
        away = np.empty(len(positions))
        away[which] = metres
        away[shapely.contains_xy(self._shape, x, y)] = 0.0
        self.km[positions] = away / 1000

    def _lower_bound(self, positions: np.ndarray) -> np.ndarray:
        # Kilometres to the territory's bounding box, under-estimated: a
        # degree of latitude is more than 110 km, one of longitude more
        # than 110 km × the cosine of the highest latitude involved.
        minx, miny, maxx, maxy = self._box if self._tree else shapely.bounds(self.geom)
        lon, lat = self.lon[positions], self.lat[positions]
        dx = np.maximum(np.maximum(minx - lon, lon - maxx), 0)
        dy = np.maximum(np.maximum(miny - lat, lat - maxy), 0)
        top = np.maximum(np.abs(lat), max(abs(miny), abs(maxy)))
        return 0.95 * 110.0 * np.hypot(dx * np.cos(np.radians(top)), dy)

    def nearest(self, mask: np.ndarray, k: int) -> np.ndarray:
        """Measure the ``k`` nearest PTCE of ``mask`` (and their ties).

        Returns
        -------
        numpy.ndarray
            The distances of the rows of ``mask``, NaN for those not
            measured (unknown position, or farther than the ``k`` nearest).
        """
        positions = np.flatnonzero(mask & self.known)
        if len(positions):
            bound = self._lower_bound(positions)
            order = np.argsort(bound, kind="stable")
            self._measure(positions[order[: max(k, 64)]])
            measured = self.km[positions]
            kth = np.sort(measured[~np.isnan(measured)])[:k][-1]
            # Nothing whose lower bound exceeds the k-th distance can beat it.
            self._measure(positions[bound <= kth])
        return self.km[mask]


def _voisins(
    ptce: pd.DataFrame,
    inside: np.ndarray,
    mesure: _Mesure,
    niveau: str,
    code: str,
    shapes: gpd.GeoSeries,
    table: dict,
) -> tuple[Voisin, ...]:
    out = []
    codes = [c for c in neighbours(shapes, code) if c in table]
    for other, present in _presence(ptce, niveau, codes).items():
        theirs = present & ~inside
        out.append(
            Voisin(
                code=other,
                nom=table[other].nom,
                ptce=_premiers(ptce[theirs], mesure.nearest(theirs, LISTE_MAX)),
                ptce_total=int(theirs.sum()),
            )
        )
    out.sort(key=lambda v: (not v.ptce, fr.sort_key(v.nom)))
    return tuple(out)


def _presence(
    ptce: pd.DataFrame, niveau: str, codes: list[str]
) -> dict[str, np.ndarray]:
    """Return :func:`lib.analysis.territoires.ptce_mask` of several territories at once.

    One pass over the territories of action instead of one per territory.
    """
    if niveau in ("region", "departement"):
        return {c: ptce_mask(ptce, niveau, c).to_numpy() for c in codes}
    masks = {c: np.zeros(len(ptce), dtype=bool) for c in codes}
    ref = load_reference()
    wanted: dict[str, list[str]]
    if niveau == "epci":
        wanted = {c: [c] for c in codes}
        column = ptce["epci_lies"]
    else:
        # A commune: its seat, or a territory of action naming it or its EPCI.
        seats = ptce["commune"].to_numpy(dtype=object)
        wanted = {}
        for c in codes:
            masks[c] |= seats == c
            wanted.setdefault(c, []).append(c)
            epci = ref.communes[c].epci if c in ref.communes else None
            if epci:
                wanted.setdefault(epci, []).append(c)
        column = ptce["territoire"]
    for i, values in enumerate(column.to_numpy(dtype=object)):
        for value in values or ():
            for c in wanted.get(value, ()):
                masks[c][i] = True
    return masks


def _nearest(ptce: pd.DataFrame, mesure: _Mesure) -> PtceLien | None:
    distances = mesure.nearest(np.ones(len(ptce), dtype=bool), 1)
    if np.isnan(distances).all():
        return None
    # Ties (PTCE at the same place) go to the first name in French order.
    best = np.nanmin(distances)
    tied = np.flatnonzero(distances == best)
    return _premiers(ptce.iloc[tied], distances[tied], 1)[0]


def _sans_position(
    ptce: pd.DataFrame, niveau: str, code: str, ref: Reference
) -> pd.DataFrame:
    # PTCE whose seat commune is unknown but whose département (or région,
    # for a département) is the territory's: they may lie in it.
    if niveau == "region":
        return ptce.iloc[:0]
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
    return ptce[(unknown & inside).to_numpy()]


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
