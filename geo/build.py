"""Boundary build: commune polygons to cached, simplified territories.

The build reads commune polygons from a source (the france-geojson 2018 folder
in ``../shared/geo`` by default, or an IGN ADMIN EXPRESS COG / COG CARTO
shapefile or GeoPackage), maps every commune code to the 2026 COG, dissolves
them into communes, EPCI, départements and régions, simplifies each coverage
with a border-preserving method and writes GeoParquet files plus a manifest
under ``data/cache/boundaries/``.

Two details are produced:

``national``
    EPCI, départements and régions, each level simplified as a whole coverage
    (``shapely.coverage_simplify``) at :data:`TOLERANCE_NATIONAL` degrees, for
    views of the whole country.
``regional``
    communes simplified as one coverage at :data:`TOLERANCE_REGIONAL` degrees,
    then dissolved into EPCI, départements and régions. Every level of this
    detail is the exact union of its simplified communes, so a point inside a
    commune is inside its EPCI, département and région as drawn.

Each commune also gets a representative point, inside the commune and inside
the polygons of its EPCI, département and région at both details; a PTCE is
placed there when it has no coordinates of its own.
"""

# size: the whole boundary build: code_version() hashes this file (and
# reference.py) to know when the cache is stale; a split would list each file there.

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.reference import (
    REFERENCE_DIR,
    Reference,
    load_reference,
    reference_fingerprint,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "geo" / "france-geojson-2018"
SOURCE_ENV = "PTCE_GEO_SOURCE"
CACHE_ENV = "PTCE_CACHE_DIR"
DEFAULT_CACHE = ROOT / "data" / "cache" / "boundaries"

#: Bump when the output format or the method changes (part of the cache key).
BUILD_VERSION = 1
#: Coverage simplification tolerance (degrees) of the national view.
TOLERANCE_NATIONAL = 0.02
#: Coverage simplification tolerance (degrees) of the communes (regional view).
TOLERANCE_REGIONAL = 0.003
#: Decimals kept in coordinates (4 decimals ≈ 11 m), when validity allows.
DIGITS = 4

LEVELS = ("commune", "epci", "departement", "region")
DETAILS = ("national", "regional")
#: Which levels each detail holds (communes are too many for a national view).
LEVELS_BY_DETAIL = {
    "national": ("epci", "departement", "region"),
    "regional": LEVELS,
}


class SourceError(RuntimeError):
    """The boundary source is missing or unreadable (message in French)."""


@dataclass(frozen=True)
class Source:
    """A located boundary source.

    Attributes
    ----------
    path : Path
        File or folder of the source.
    kind : str
        ``"france-geojson"`` (one GeoJSON per département) or ``"admin-express"``
        (a shapefile or GeoPackage COMMUNE layer with ``INSEE_COM``).
    files : tuple of Path
        The files read by the build.
    layer : str or None
        The GeoPackage layer, when the source is a GeoPackage.
    """

    path: Path
    kind: str
    files: tuple[Path, ...]
    layer: str | None = None

    def fingerprint(self) -> str:
        """Hash of the source files' names, sizes and modification times."""
        h = hashlib.sha256()
        for f in self.files:
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        return h.hexdigest()[:16]


def cache_dir() -> Path:
    """Return the boundary cache folder (``PTCE_CACHE_DIR`` overrides)."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def default_source_path() -> Path | None:
    """Return the source path from ``PTCE_GEO_SOURCE`` or the shared folder."""
    if os.environ.get(SOURCE_ENV):
        return Path(os.environ[SOURCE_ENV])
    return DEFAULT_SOURCE if DEFAULT_SOURCE.exists() else None


def locate_source(path: Path | str | None = None) -> Source:
    """Find the commune polygons of a source folder or file.

    Parameters
    ----------
    path : Path or str, optional
        A france-geojson folder (with ``communes/*.geojson``), an ADMIN EXPRESS
        folder (searched for ``COMMUNE.shp`` or a ``.gpkg``), or a ``.shp`` /
        ``.gpkg`` file. Defaults to :func:`default_source_path`.

    Returns
    -------
    Source
        The located source.

    Raises
    ------
    SourceError
        When nothing usable is found; the message is in French.
    """
    path = Path(path) if path is not None else default_source_path()
    if path is None:
        raise SourceError(
            "Aucune source de contours : le dossier ../shared/geo/france-geojson-2018 "
            f"est absent et la variable {SOURCE_ENV} n'est pas définie. Indiquez "
            f"dans {SOURCE_ENV} un dossier france-geojson ou un fichier IGN "
            "ADMIN EXPRESS COG (COMMUNE.shp ou .gpkg)."
        )
    if not path.exists():
        raise SourceError(
            f"La source de contours « {path} » n'existe pas (variable "
            f"{SOURCE_ENV} ou option --source)."
        )
    if path.is_dir():
        geojsons = sorted((path / "communes").glob("communes-*.geojson"))
        if geojsons:
            return Source(path, "france-geojson", tuple(geojsons))
        shapes = sorted(path.rglob("COMMUNE.shp")) or sorted(path.rglob("*.gpkg"))
        if not shapes:
            raise SourceError(
                f"Le dossier « {path} » ne contient ni communes/*.geojson "
                "(france-geojson) ni COMMUNE.shp / .gpkg (IGN ADMIN EXPRESS)."
            )
        path = shapes[0]
    suffix = path.suffix.lower()
    if suffix == ".shp":
        siblings = [path.with_suffix(s) for s in (".dbf", ".shx", ".prj")]
        return Source(
            path, "admin-express", (path, *[s for s in siblings if s.exists()])
        )
    if suffix == ".gpkg":
        layers = [name for name, _ in pyogrio.list_layers(path)]
        layer = next((n for n in layers if n.lower() == "commune"), None)
        if layer is None:
            raise SourceError(
                f"Le GeoPackage « {path} » n'a pas de couche COMMUNE "
                f"(couches : {', '.join(layers) or 'aucune'})."
            )
        return Source(path, "admin-express", (path,), layer)
    raise SourceError(
        f"Format de source non reconnu pour « {path} » : attendu un dossier "
        "france-geojson, un fichier .shp ou .gpkg."
    )


def read_source(source: Source) -> gpd.GeoDataFrame:
    """Read the commune polygons of a source as ``code`` + ``geometry`` (WGS84).

    Parameters
    ----------
    source : Source
        As returned by :func:`locate_source`.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per source polygon, ``code`` being the INSEE code of the source
        edition (possibly a former code).
    """
    if source.kind == "france-geojson":
        parts = [pyogrio.read_dataframe(f, columns=["code"]) for f in source.files]
        gdf = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs)
    else:
        gdf = pyogrio.read_dataframe(source.files[0], layer=source.layer)
        column = next((c for c in gdf.columns if c.upper() == "INSEE_COM"), None)
        if column is None:
            raise SourceError(
                f"La couche COMMUNE de « {source.path} » n'a pas de colonne INSEE_COM."
            )
        gdf = gdf[[column, "geometry"]].rename(columns={column: "code"})
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    elif not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs(4326)
    gdf["code"] = gdf["code"].astype(str).str.strip().str.upper()
    return gdf


# --------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Make geometries valid, keeping only their polygonal parts."""
    geoms = geoms.copy()
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        fixed = shapely.make_valid(geoms[bad])
        geoms[bad] = [_only_polygons(g) for g in fixed]
    return geoms


def _only_polygons(geom: shapely.Geometry) -> shapely.Geometry:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [
        p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")
    ]
    return shapely.union_all(parts)


def _dissolve(keys: np.ndarray, geoms: np.ndarray, coverage: bool) -> pd.Series:
    """Union geometries by key; ``coverage_union`` when the input is a coverage."""
    union = shapely.coverage_union_all if coverage else shapely.union_all
    groups = pd.Series(range(len(keys))).groupby(keys).indices
    return pd.Series(
        {
            key: geoms[idx[0]] if len(idx) == 1 else union(geoms[idx])
            for key, idx in sorted(groups.items())
        }
    )


def round_coverage(geoms: np.ndarray, digits: int = DIGITS) -> tuple[np.ndarray, int]:
    """Round coordinates, keeping the coverage and every polygon valid.

    Rounding every vertex to the same grid keeps shared edges identical, but
    can fold a thin polygon onto itself; then one more decimal is tried, up to
    the unrounded input.

    Parameters
    ----------
    geoms : numpy.ndarray
        A valid polygonal coverage.
    digits : int
        Decimals to try first.

    Returns
    -------
    tuple
        The rounded geometries and the number of decimals kept (None-free:
        ``-1`` means the input was kept as is).
    """
    for nd in range(digits, 8):
        rounded = shapely.transform(geoms, lambda c, nd=nd: np.round(c, nd))
        if (
            shapely.is_valid(rounded).all()
            and not shapely.is_empty(rounded).any()
            and shapely.coverage_is_valid(rounded)
        ):
            return rounded, nd
    return geoms, -1


def _simplify(geoms: np.ndarray, tolerance: float) -> tuple[np.ndarray, int]:
    simplified = shapely.coverage_simplify(geoms, tolerance)
    return round_coverage(simplified)


def _points_inside(
    base: np.ndarray, constraints: list[np.ndarray]
) -> tuple[np.ndarray, int]:
    """Return points inside ``base`` and, where possible, inside each constraint.

    Parameters
    ----------
    base : numpy.ndarray
        One polygon per commune.
    constraints : list of numpy.ndarray
        Aligned arrays of polygons (None where the commune has no such parent)
        the point should also fall in, in order of priority.

    Returns
    -------
    tuple
        The points, and how many communes could not satisfy every constraint
        (their point still lies inside the commune).
    """
    points = shapely.point_on_surface(base)
    for c in constraints:
        shapely.prepare(c[c != None])  # noqa: E711 -- vectorised test below
    inside = np.ones(len(base), dtype=bool)
    for c in constraints:
        has = c != None  # noqa: E711
        inside[has] &= shapely.contains(c[has].astype(object), points[has])
    unmet = 0
    for i in np.flatnonzero(~inside):
        parents = [c[i] for c in constraints if c[i] is not None]
        area = base[i]
        for parent in parents:
            narrowed = shapely.intersection(area, parent)
            if shapely.area(narrowed) > 0:
                area = narrowed
        candidate = shapely.point_on_surface(_only_polygons(area))
        if all(shapely.contains(p, candidate) for p in parents):
            points[i] = candidate
        else:
            unmet += 1
    return points, unmet


# --------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------


def code_version() -> str:
    """Hash of the build code, its parameters and the reference extract."""
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update(Path(__file__).with_name("reference.py").read_bytes())
    h.update(reference_fingerprint(REFERENCE_DIR).encode())
    h.update(str(BUILD_VERSION).encode())
    return h.hexdigest()[:16]


def manifest_path(out: Path | None = None) -> Path:
    """Return the path of the build manifest."""
    return (out or cache_dir()) / "manifest.json"


def read_manifest(out: Path | None = None) -> dict | None:
    """Return the manifest of the last build, or None when there is none."""
    path = manifest_path(out)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def is_stale(source: Source, out: Path | None = None) -> str | None:
    """Tell why the cache must be rebuilt, or None when it is up to date.

    Parameters
    ----------
    source : Source
        The source the cache should come from.
    out : Path, optional
        The cache folder.

    Returns
    -------
    str or None
        A French reason (missing cache, changed source or code), or None.
    """
    out = out or cache_dir()
    manifest = read_manifest(out)
    if manifest is None:
        return "aucun cache de contours"
    if manifest["source"]["fingerprint"] != source.fingerprint():
        return "la source des contours a changé"
    if str(source.path.resolve()) != manifest["source"]["path"]:
        return "la source des contours a changé"
    if manifest["code_version"] != code_version():
        return "le code de construction ou le référentiel a changé"
    for name in manifest["files"]:
        if not (out / name).exists():
            return f"fichier manquant : {name}"
    return None


def _attributes(ref: Reference, level: str, codes: list[str]) -> pd.DataFrame:
    if level == "commune":
        rows = [
            {
                "code": c,
                "nom": ref.communes[c].nom,
                "epci": ref.communes[c].epci,
                "departement": ref.communes[c].departement,
                "region": ref.communes[c].region,
                "population": ref.communes[c].population,
            }
            for c in codes
        ]
    elif level == "epci":
        rows = []
        for c in codes:
            members = [ref.communes[m] for m in ref.epci[c].membres]
            rows.append(
                {
                    "code": c,
                    "nom": ref.epci[c].nom,
                    "type": ref.epci[c].type,
                    "departements": " ".join(sorted({m.departement for m in members})),
                    "regions": " ".join(sorted({m.region for m in members})),
                    "population": ref.epci[c].population,
                }
            )
    elif level == "departement":
        pop = _population_by(ref, "departement")
        rows = [
            {
                "code": c,
                "nom": ref.departements[c].nom,
                "region": ref.departements[c].region,
                "population": pop.get(c),
            }
            for c in codes
        ]
    else:
        pop = _population_by(ref, "region")
        rows = [
            {"code": c, "nom": ref.regions[c].nom, "population": pop.get(c)}
            for c in codes
        ]
    return pd.DataFrame(rows)


def _population_by(ref: Reference, attr: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for c in ref.communes.values():
        totals[getattr(c, attr)] = totals.get(getattr(c, attr), 0) + (c.population or 0)
    return totals


def _simplified(full: dict, parents: dict) -> tuple[dict, dict, dict]:
    """Simplify every level at both details; check the coverages drawn.

    Returns the series per ``(level, detail)``, the digits kept per
    ``"level-detail"`` and whether each is still a valid coverage.
    """
    communes = full["commune"]
    codes = list(communes.index)
    results: dict[tuple[str, str], pd.Series] = {}
    digits: dict[str, int] = {}
    valid_after: dict[str, bool] = {}
    for level in LEVELS_BY_DETAIL["national"]:
        geoms_n, nd = _simplify(full[level].values, TOLERANCE_NATIONAL)
        results[level, "national"] = pd.Series(geoms_n, index=full[level].index)
        digits[f"{level}-national"] = nd
    communes_r, nd = _simplify(communes.values, TOLERANCE_REGIONAL)
    results["commune", "regional"] = pd.Series(communes_r, index=codes)
    digits["commune-regional"] = nd
    for level, keys in parents.items():
        has = keys != None  # noqa: E711
        results[level, "regional"] = _dissolve(
            keys[has], communes_r[has], coverage=True
        )
        digits[f"{level}-regional"] = nd
    for (level, detail), series in results.items():
        valid_after[f"{level}-{detail}"] = bool(
            shapely.coverage_is_valid(series.values)
            and shapely.is_valid(series.values).all()
        )
    return results, digits, valid_after


def _write_levels(
    out: Path, ref: Reference, results: dict, points: np.ndarray
) -> tuple[dict[str, str], dict[str, int]]:
    """Write one GeoParquet file per level and detail; return hashes and counts."""
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    counts = {}
    for (level, detail), series in sorted(results.items()):
        attrs = _attributes(ref, level, list(series.index))
        if level == "commune":
            attrs["x"] = np.round(shapely.get_x(points), 5)
            attrs["y"] = np.round(shapely.get_y(points), 5)
        gdf = gpd.GeoDataFrame(attrs, geometry=list(series.values), crs=4326)
        name = f"{level}-{detail}.parquet"
        gdf.to_parquet(out / name, index=False)
        files[name] = hashlib.sha256((out / name).read_bytes()).hexdigest()
        counts[f"{level}-{detail}"] = len(gdf)
    return files, counts


# size: the pipeline in order (read, dissolve, simplify, place points, write)
# and the 28-line manifest of what each step produced; the steps are helpers.
def build(
    source: Source | None = None,
    out: Path | None = None,
    force: bool = False,
    log=print,
) -> dict:
    """Build the boundary cache, unless it is already up to date.

    Parameters
    ----------
    source : Source, optional
        Where to read commune polygons; :func:`locate_source` by default.
    out : Path, optional
        Cache folder; :func:`cache_dir` by default.
    force : bool
        Rebuild even when the cache is up to date.
    log : callable
        Receives progress lines (French).

    Returns
    -------
    dict
        The manifest of the cache.
    """
    source = source or locate_source()
    out = out or cache_dir()
    reason = "reconstruction demandée" if force else is_stale(source, out)
    if reason is None:
        log(f"Contours à jour dans {out}")
        manifest = read_manifest(out)
        assert manifest is not None  # is_stale() found it
        return manifest
    log(f"Construction des contours ({reason}) depuis {source.path}")
    started = time.perf_counter()
    ref = load_reference()

    raw = read_source(source)
    geoms = _polygonal(raw.geometry.values)
    current = np.array([ref.current_code(c) or "" for c in raw["code"]], dtype=object)
    unknown = sorted(set(raw["code"][current == ""]))
    keep = current != ""
    coverage_in = bool(shapely.coverage_is_valid(geoms[keep]))
    if not coverage_in:
        log("Attention : les polygones source ne forment pas une couverture valide.")
    communes = _dissolve(current[keep], geoms[keep], coverage_in)
    codes = list(communes.index)
    log(f"  {len(raw)} polygones lus, {len(codes)} communes 2026")

    parents = {
        "epci": np.array([ref.communes[c].epci for c in codes], dtype=object),
        "departement": np.array([ref.communes[c].departement for c in codes]),
        "region": np.array([ref.communes[c].region for c in codes]),
    }
    full = {"commune": communes}
    for level, keys in parents.items():
        has = keys != None  # noqa: E711 -- element-wise comparison on an object array
        full[level] = _dissolve(keys[has], communes.values[has], coverage=True)

    results, digits, valid_after = _simplified(full, parents)

    constraints = [
        np.array([results[lv, d].get(k) for k in parents[lv]], dtype=object)
        for d in DETAILS
        for lv in ("epci", "departement", "region")
    ]
    points, unmet = _points_inside(results["commune", "regional"].values, constraints)

    files, counts = _write_levels(out, ref, results, points)

    missing = sorted(set(ref.communes) - set(codes))
    manifest = {
        "build_version": BUILD_VERSION,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 1),
        "code_version": code_version(),
        "source": {
            "path": str(source.path.resolve()),
            "kind": source.kind,
            "files": len(source.files),
            "fingerprint": source.fingerprint(),
            "polygons": len(raw),
        },
        "parameters": {
            "tolerance_national": TOLERANCE_NATIONAL,
            "tolerance_regional": TOLERANCE_REGIONAL,
            "digits": digits,
        },
        "coverage_valid": {"source": coverage_in, **valid_after},
        "counts": counts,
        "communes_without_polygon": missing,
        "unknown_source_codes": unknown,
        "points_outside_a_parent": unmet,
        "files": files,
    }
    tmp = manifest_path(out).with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(manifest_path(out))
    log(
        f"  terminé en {manifest['duration_s']} s : {counts} ; "
        f"{len(missing)} communes sans contour"
    )
    return manifest
