"""The real boundary cache built from ../shared/geo (acceptance of issue 2)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo.boundaries import geojson, in_region, load_boundaries, status
from geo.build import LEVELS_BY_DETAIL

PAIRS = [(lv, d) for d, levels in LEVELS_BY_DETAIL.items() for lv in levels]


@pytest.fixture(scope="module")
def report(built_cache):
    return status()


def test_status_counts(report):
    levels = report["levels"]
    assert levels["departement"]["features"] == 101
    assert levels["region"]["features"] == 18
    assert levels["epci"]["features"] == 1255
    assert levels["commune"]["features"] >= 34860


def test_communes_without_polygon_are_listed(report, ref):
    missing = report["communes_sans_contour"]
    assert 95 <= missing["count"] <= 110
    assert missing["count"] == len(missing["codes"])
    # Overseas collectivités and communes re-established after 2018.
    for code in ("85165", "85212", "14666", "97501", "98818"):
        assert code in missing["codes"]
    drawn = set(load_boundaries("commune", "regional")["code"])
    assert drawn | set(missing["codes"]) == set(ref.communes)
    assert not drawn & set(missing["codes"])


@pytest.mark.parametrize(("level", "detail"), PAIRS)
def test_coverage_valid_after_simplification(built_cache, level, detail):
    geoms = load_boundaries(level, detail).geometry.values
    assert shapely.coverage_is_valid(geoms)
    assert shapely.is_valid(geoms).all()
    assert not shapely.is_empty(geoms).any()
    assert set(shapely.get_type_id(geoms)) <= {3, 6}  # Polygon, MultiPolygon
    assert built_cache["coverage_valid"][f"{level}-{detail}"]


def test_every_epci_contains_its_member_communes_points(built_cache, ref):
    communes = load_boundaries("commune", "regional")
    epci = load_boundaries("epci", "regional").set_index("code").geometry
    inside = communes[communes["epci"].notna()]
    polygons = epci.reindex(inside["epci"]).values
    points = shapely.points(inside["x"], inside["y"])
    contained = shapely.contains(polygons, points)
    assert contained.all(), list(inside["code"][~contained])
    assert len(inside) >= 34_800
    # Each representative point also lies in its own commune.
    assert shapely.contains(inside.geometry.values, points).all()


def test_points_inside_departements_and_regions(built_cache):
    communes = load_boundaries("commune", "regional")
    points = shapely.points(communes["x"], communes["y"])
    for level in ("departement", "region"):
        polys = load_boundaries(level, "regional").set_index("code").geometry
        assert shapely.contains(polys.reindex(communes[level]).values, points).all()


def test_epci_in_two_regions_kept_whole(built_cache, ref):
    epci = load_boundaries("epci", "national")
    pdl = in_region(epci, "epci", "52")
    expected = {
        e.code
        for e in ref.epci.values()
        if any(ref.communes[m].region == "52" for m in e.membres)
    }
    assert set(pdl["code"]) == expected
    assert "244400552" in expected  # CC du Pays d'Ancenis spans 44 and 49


@pytest.mark.parametrize(
    ("level", "detail", "region", "limit"),
    [
        ("epci", "national", None, 800_000),
        ("departement", "national", None, 250_000),
        ("epci", "regional", "52", 300_000),
    ],
)
def test_geojson_payload_targets(built_cache, level, detail, region, limit):
    assert len(geojson(level, detail, region).encode()) <= limit


def test_geojson_is_compact_and_rounded(built_cache):
    text = geojson("departement", "national")
    assert ", " not in text[:2000]
    coords = np.array(
        shapely.get_coordinates(load_boundaries("departement", "national").geometry)
    )
    assert np.allclose(coords, np.round(coords, 4))


def test_sessions_building_the_same_static_file_at_once(
    built_cache, tmp_path, monkeypatch
):
    # Two sessions opening a new regional map together used to collide on
    # one temporary file name (FileNotFoundError on the rename).
    import json
    import threading

    import geo.boundaries as boundaries

    monkeypatch.setattr(boundaries, "STATIC_DIR", tmp_path / "geo")
    boundaries._static_geojson.cache_clear()
    start = threading.Barrier(6)
    urls, errors = [], []

    def build(i: int) -> None:
        start.wait()
        try:
            # Uncached calls: each thread writes the file itself.
            urls.append(
                boundaries._static_geojson.__wrapped__(
                    "epci", "regional", "75", boundaries.cache_dir()
                )
            )
        except Exception as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    boundaries._static_geojson.cache_clear()
    assert not errors and len(set(urls)) == 1
    files = list((tmp_path / "geo").iterdir())
    assert len(files) == 1  # no temporary file left behind
    assert json.loads(files[0].read_text())["features"]
