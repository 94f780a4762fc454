"""Reading the boundary cache: GeoDataFrames and compact GeoJSON per level.

Nothing here reads the boundary source or simplifies anything: it only reads
the GeoParquet files written by :mod:`geo.build`, once per process.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from pathlib import Path

import geopandas as gpd
import shapely

from geo.build import (
    DETAILS,
    LEVELS,
    LEVELS_BY_DETAIL,
    ROOT,
    cache_dir,
    read_manifest,
)

#: Code of the Pays de la Loire région, the default regional view.
PAYS_DE_LA_LOIRE = "52"

ATTRIBUTION = (
    "Contours : IGN Admin Express COG 2018 via france-geojson — "
    "COG INSEE 2026 via @etalab/decoupage-administratif — Licence Ouverte"
)


class CacheMissing(RuntimeError):
    """The boundary cache has not been built (message in French)."""


def shown_path(path: Path | str, otherwise: str) -> str:
    """Return how a path may be shown to a person: never a server path.

    Parameters
    ----------
    path : Path or str
        A file or folder on the server.
    otherwise : str
        What to say when the path is outside the project and its neighbour
        ``../shared`` (e.g. ``"le dossier du cache (PTCE_CACHE_DIR)"``).

    Returns
    -------
    str
        The path relative to the project (``data/cache/boundaries``,
        ``../shared/geo/…``), or ``otherwise``.
    """
    # normpath, not resolve: "../shared" stays a neighbour of the project.
    full = Path(os.path.normpath(Path(path).absolute()))
    for base, prefix in ((ROOT, ""), (ROOT.parent / "shared", "../shared/")):
        if full.is_relative_to(base):
            return prefix + full.relative_to(base).as_posix()
    return otherwise


def _check(level: str, detail: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"niveau inconnu : {level!r} (attendu : {', '.join(LEVELS)})")
    if detail not in DETAILS:
        raise ValueError(
            f"détail inconnu : {detail!r} (attendu : {', '.join(DETAILS)})"
        )
    if level not in LEVELS_BY_DETAIL[detail]:
        raise ValueError(f"le niveau {level} n'existe pas au détail {detail}")


@functools.lru_cache(maxsize=16)
def _read(level: str, detail: str, folder: Path) -> gpd.GeoDataFrame:
    path = folder / f"{level}-{detail}.parquet"
    if not path.exists():
        where = shown_path(folder, "le dossier du cache (PTCE_CACHE_DIR)")
        raise CacheMissing(
            f"Le cache des contours est absent ({path.name} manque dans {where}). "
            "Lancez « python -m geo build » (ou « make run »)."
        )
    return gpd.read_parquet(path)


def load_boundaries(level: str, detail: str = "national") -> gpd.GeoDataFrame:
    """Return the cached polygons of one level (read once per process).

    Parameters
    ----------
    level : {"commune", "epci", "departement", "region"}
        The level of territory.
    detail : {"national", "regional"}
        ``national`` for views of the whole country, ``regional`` for views
        of a région or smaller. Communes exist at the regional detail only.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code``, ``nom``, ``population``, level-specific columns and the
        geometry (WGS84). The frame is shared: copy it before changing it.

    Raises
    ------
    CacheMissing
        When the cache has not been built.
    """
    _check(level, detail)
    return _read(level, detail, cache_dir())


def in_region(gdf: gpd.GeoDataFrame, level: str, region: str) -> gpd.GeoDataFrame:
    """Keep the territories of ``gdf`` that lie in a région.

    EPCI spanning two régions are kept whole in both.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons of ``level`` as returned by :func:`load_boundaries`.
    level : str
        The level of ``gdf``.
    region : str
        The région code, e.g. ``"52"``.

    Returns
    -------
    geopandas.GeoDataFrame
        The matching rows.
    """
    if level == "region":
        return gdf[gdf["code"] == region]
    if level == "epci":
        return gdf[gdf["regions"].str.split().apply(lambda rs: region in rs)]
    return gdf[gdf["region"] == region]


def to_geojson(
    gdf: gpd.GeoDataFrame, properties: tuple[str, ...] = ("code", "nom")
) -> str:
    """Serialise polygons as compact GeoJSON text.

    Coordinates are written as they are stored (already rounded by the build),
    without spaces, with only the listed properties: this keeps the national
    views small enough to send to a browser.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons in WGS84.
    properties : tuple of str
        Columns copied into each feature's properties.

    Returns
    -------
    str
        A GeoJSON FeatureCollection.
    """
    geometries = shapely.to_geojson(gdf.geometry.values)
    props = gdf[list(properties)].to_dict("records")
    features = ",".join(
        '{"type":"Feature","properties":'
        + json.dumps(p, ensure_ascii=False, separators=(",", ":"))
        + ',"geometry":'
        + g
        + "}"
        for p, g in zip(props, geometries, strict=True)
    )
    return '{"type":"FeatureCollection","features":[' + features + "]}"


def geojson(level: str, detail: str = "national", region: str | None = None) -> str:
    """Return the compact GeoJSON of a level, for France or one région.

    Parameters
    ----------
    level, detail : str
        As for :func:`load_boundaries`.
    region : str, optional
        Restrict to one région (e.g. ``"52"`` for Pays de la Loire).

    Returns
    -------
    str
        The GeoJSON text (cached per process).
    """
    _check(level, detail)
    return _geojson(level, detail, region, cache_dir())


@functools.lru_cache(maxsize=32)
def _geojson(level: str, detail: str, region: str | None, folder: Path) -> str:
    gdf = _read(level, detail, folder)
    if region is not None:
        gdf = in_region(gdf, level, region)
    return to_geojson(gdf)


def status() -> dict:
    """Describe the cache: features per level, missing communes, payload sizes.

    Returns
    -------
    dict
        ``levels`` (per level: feature count and GeoJSON bytes per view),
        ``communes_sans_contour`` (count and codes), and the build facts of
        the manifest.

    Raises
    ------
    CacheMissing
        When the cache has not been built.
    """
    manifest = read_manifest()
    if manifest is None:
        raise CacheMissing(
            "Le cache des contours est absent. Lancez « python -m geo build »."
        )
    levels = {}
    for level in LEVELS:
        details = [d for d in DETAILS if level in LEVELS_BY_DETAIL[d]]
        levels[level] = {
            "features": len(load_boundaries(level, details[-1])),
            "geojson_bytes": {
                "france": {d: len(geojson(level, d).encode()) for d in details},
                "pays_de_la_loire": {
                    d: len(geojson(level, d, PAYS_DE_LA_LOIRE).encode())
                    for d in details
                },
            },
        }
    missing = manifest["communes_without_polygon"]
    return {
        "levels": levels,
        "communes_sans_contour": {"count": len(missing), "codes": missing},
        "source": manifest["source"],
        "built_at": manifest["built_at"],
        "duration_s": manifest["duration_s"],
        "coverage_valid": manifest["coverage_valid"],
        "parameters": manifest["parameters"],
    }


def write_atomic(path: Path, text: str) -> None:
    """Write a text file so that readers see it whole or not at all.

    Each writer has a temporary file of its own in the same folder, then
    renames it over ``path`` (atomic): two sessions building the same file
    at once both succeed, with the same content.

    Parameters
    ----------
    path : pathlib.Path
        The file to write; its folder is created if needed.
    text : str
        UTF-8 content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)  # served as a static file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: Folder served by Streamlit at /app/static/geo (git-ignored, rebuilt at will).
STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "geo"
STATIC_URL = "/app/static/geo"


def static_geojson(
    level: str, detail: str = "national", region: str | None = None
) -> str:
    """Return the URL of a level's GeoJSON file served by the app itself.

    Big geometries that never change between reruns are fetched by the map
    once, as a static file, instead of being embedded in every rerun's
    script. The file name carries the cache's checksum of the level, so a
    rebuilt cache gets new files and browsers never keep stale outlines.

    Parameters
    ----------
    level, detail : str
        As for :func:`load_boundaries`.
    region : str, optional
        Restrict to one région.

    Returns
    -------
    str
        An absolute URL path, e.g. ``/app/static/geo/epci-national-1a2b3c4d.geojson``.
    """
    _check(level, detail)
    return _static_geojson(level, detail, region, cache_dir())


@functools.lru_cache(maxsize=64)
def _static_geojson(level: str, detail: str, region: str | None, folder: Path) -> str:
    manifest = read_manifest(folder) or {}
    digest = (manifest.get("files", {}).get(f"{level}-{detail}.parquet") or "0" * 8)[:8]
    name = f"{level}-{detail}{'-' + region if region else ''}-{digest}.geojson"
    path = STATIC_DIR / name
    if not path.exists():
        write_atomic(path, _geojson(level, detail, region, folder))
    return f"{STATIC_URL}/{name}"


def static_path(url: str) -> Path:
    """Return the file behind a URL from :func:`static_geojson`."""
    return STATIC_DIR / url.rsplit("/", 1)[-1]
