"""Data of the explorer's optional layers: territories of action, supports.

Polygons come from the boundary cache (read once per process); nothing here
simplifies or reprojects anything.
"""

from __future__ import annotations

import functools

import geopandas as gpd
import pandas as pd
import shapely

from geo.boundaries import in_region, load_boundaries, static_geojson
from lib import fr
from lib.domain.model import NIVEAU_LABELS
from lib.domain.selection import Frames
from lib.domain.soutiens import libelle as libelle_type

DETAIL = "regional"


@functools.lru_cache(maxsize=8)
def anchors(level: str) -> dict[str, tuple[float, float]]:
    """Return a point inside each territory of a level: ``{code: (lat, lon)}``.

    Parameters
    ----------
    level : {"region", "departement", "epci", "commune"}
        The level (regional detail polygons; communes use their
        representative points).

    Returns
    -------
    dict
        ``{code: (lat, lon)}``, computed once per process.
    """
    gdf = load_boundaries(level, DETAIL)
    if level == "commune":
        return {
            c: (y, x) for c, x, y in zip(gdf["code"], gdf["x"], gdf["y"], strict=True)
        }
    points = shapely.point_on_surface(gdf.geometry.values)
    return {
        c: (round(p.y, 5), round(p.x, 5))
        for c, p in zip(gdf["code"], points, strict=True)
    }


def polygons(codes: dict[str, set[str]]) -> gpd.GeoDataFrame:
    """Return the polygons of territories given by level, with ``niveau``.

    Parameters
    ----------
    codes : dict
        ``{level: {codes}}`` with levels region, departement, epci, commune.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code``, ``nom``, ``niveau`` and geometry, régions first (drawn
        below the smaller territories).
    """
    parts = []
    for level in ("region", "departement", "epci", "commune"):
        wanted = codes.get(level)
        if not wanted:
            continue
        gdf = load_boundaries(level, DETAIL)
        part = gdf[gdf["code"].isin(wanted)][["code", "nom", "geometry"]].copy()
        part["niveau"] = level
        parts.append(part)
    if not parts:
        return gpd.GeoDataFrame(
            {"code": [], "nom": [], "niveau": []}, geometry=[], crs=4326
        )
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=4326)


def action_territories(frames: Frames) -> gpd.GeoDataFrame:
    """Return the polygons of the territories of action of the filtered PTCE.

    Parameters
    ----------
    frames : Frames
        The filtered frames.

    Returns
    -------
    geopandas.GeoDataFrame
        One polygon per territory named in at least one territory of action.
    """
    codes: dict[str, set[str]] = {"epci": set(), "commune": set()}
    for territoire in frames.ptce["territoire"]:
        for code in territoire:
            codes["epci" if len(code) == 9 else "commune"].add(code)
    return polygons(codes)


def supports(frames: Frames) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Return the supporting collectivités of the PTCE, and who supports whom.

    Parameters
    ----------
    frames : Frames
        The filtered frames.

    Returns
    -------
    tuple
        Polygons of the collectivités (``niveau`` set, and ``texte``: their
        level and how many PTCE they support, in French), and one link per
        support of a placed PTCE, from a point inside the collectivité to
        the PTCE's own coordinates: ``{"from", "to", "niveau", "code", "ptce",
        "label", "details"}``; ``label`` reads "collectivité (niveau) →
        PTCE", ``details`` are lines of plain text: type of support, amount,
        years and source, missing values said so.
    """
    soutiens = frames.soutiens
    codes: dict[str, set[str]] = {}
    supported: dict[tuple[str, str], set[str]] = {}
    for niveau, code, ptce in zip(
        soutiens["niveau"], soutiens["code"], soutiens["ptce_id"], strict=True
    ):
        codes.setdefault(niveau, set()).add(code)
        supported.setdefault((niveau, code), set()).add(ptce)
    links = []
    placed = frames.ptce[frames.ptce["lat"].notna()]
    for s in soutiens.itertuples():
        if s.ptce_id not in placed.index:
            continue
        start = anchors(s.niveau).get(s.code)
        if start is None:
            continue
        row = placed.loc[s.ptce_id]
        links.append(
            {
                "from": start,
                "to": (float(row["lat"]), float(row["lon"])),
                "niveau": s.niveau,
                "ptce": str(s.ptce_id),
                "code": str(s.code),
                "label": (
                    f"{s.collectivite} ({NIVEAU_LABELS[s.niveau]}) → {s.ptce_nom}"
                ),
                "details": _details(s),
            }
        )
    polys = polygons(codes)
    polys["texte"] = [
        f"{NIVEAU_LABELS[n]} · soutient "
        f"{fr.count(len(supported.get((n, c), ())), 'PTCE', 'PTCE')}"
        for n, c in zip(polys["niveau"], polys["code"], strict=True)
    ]
    return polys, links


def _details(s) -> list[str]:
    """Type, amount, years and source of a support, one French line each."""
    start, end = fr.year(s.annee_debut, ""), fr.year(s.annee_fin, "")
    if start and end and start != end:
        years = f"de {start} à {end}"
    elif start and end:
        years = start
    elif start:
        years = f"depuis {start}"
    elif end:
        years = f"jusqu'en {end}"
    else:
        years = "non renseignées"
    # The guide's wording of the type (lib.domain.soutiens), not its stored code.
    kind = fr.text(
        libelle_type(s.type) if isinstance(s.type, str) else s.type, fr.NOT_GIVEN
    )
    if not fr.is_missing(s.dispositif):
        kind = f"{kind} ({s.dispositif})"
    lines = [
        f"Soutien : {kind}",
        f"Montant : {fr.euros(s.montant, missing=fr.NOT_GIVEN)}",
        f"Années : {years}",
        f"Source : {fr.text(s.source, 'non renseignée')}",
    ]
    deduit = getattr(s, "deduit", None)
    if not fr.is_missing(deduit):
        lines.append(f"Déduit : {deduit}")
    return lines


def outline_sources(
    polys: gpd.GeoDataFrame, region: str | None
) -> tuple[list[dict], gpd.GeoDataFrame]:
    """Split the supporting collectivités into static files and the rest.

    The outlines of a view's territories are files the app serves and the
    browser keeps (:func:`geo.boundaries.static_geojson`): a rerun then
    sends their codes, not their polygons. Only collectivités missing from
    those files (a commune under France entière, a collectivité outside the
    région shown) travel as polygons.

    Parameters
    ----------
    polys : geopandas.GeoDataFrame
        As returned by :func:`supports` (``code``, ``nom``, ``niveau``,
        ``texte``).
    region : str or None
        Région shown (its regional-detail files), None for France entière
        (national-detail files; communes have none).

    Returns
    -------
    tuple
        Sources ``{"url", "niveau", "texts": {code: texte}}``, and the
        polygons to embed.
    """
    detail = "regional" if region else "national"
    sources, rest = [], []
    for level in ("region", "departement", "epci", "commune"):
        part = polys[polys["niveau"] == level]
        if part.empty:
            continue
        if level == "commune" and not region:
            rest.append(part)
            continue
        inside = part["code"].isin(_served_codes(level, detail, region))
        if inside.any():
            sources.append(
                {
                    "url": static_geojson(level, detail, region),
                    "niveau": level,
                    "texts": dict(
                        zip(part["code"][inside], part["texte"][inside], strict=True)
                    ),
                }
            )
        rest.append(part[~inside])
    if not rest:
        return sources, polys.iloc[0:0]
    return sources, gpd.GeoDataFrame(pd.concat(rest), crs=polys.crs)


@functools.lru_cache(maxsize=16)
def _served_codes(level: str, detail: str, region: str | None) -> frozenset[str]:
    """Codes in the static file of a level (computed once per process)."""
    served = load_boundaries(level, detail)
    if region:
        served = in_region(served, level, region)
    return frozenset(served["code"])
