"""Boundary build on tiny sources the tests write themselves."""

from __future__ import annotations

import json
import os

import geopandas as gpd
import pytest
import shapely

from geo import build as geobuild
from geo.build import SourceError, build, is_stale, locate_source, read_source


def _build(path, out):
    return build(locate_source(path), out=out, log=lambda _line: None)


@pytest.mark.parametrize("variant", ["geojson", "gpkg", "shp"])
def test_tiny_build_dissolves_former_codes(make_source, tmp_path, variant):
    out = tmp_path / "cache"
    manifest = _build(make_source(variant), out)

    communes = gpd.read_parquet(out / "commune-regional.parquet")
    # 44160 (Saint-Géréon, merged in 2019) joins 44003: 4 polygons, 3 communes.
    assert sorted(communes["code"]) == ["44003", "44213", "49007"]
    ancenis = communes.set_index("code").geometry["44003"]
    assert ancenis.area == pytest.approx(2 * 0.05 * 0.05, rel=0.02)
    assert manifest["source"]["polygons"] == 4
    assert manifest["counts"]["epci-national"] == 2
    assert manifest["counts"]["departement-regional"] == 2
    assert manifest["counts"]["region-national"] == 1
    assert "44003" not in manifest["communes_without_polygon"]
    assert "85165" in manifest["communes_without_polygon"]
    assert communes.crs.to_epsg() == 4326


def test_lambert93_source_is_reprojected(make_source, tmp_path):
    gdf = read_source(locate_source(make_source("gpkg")))
    minx, miny = gdf.total_bounds[:2]
    assert -1.31 < minx < -1.29 and 47.29 < miny < 47.31


def test_tiny_build_outputs_valid_coverages(make_source, tmp_path):
    out = tmp_path / "cache"
    manifest = _build(make_source("geojson"), out)
    assert all(manifest["coverage_valid"].values())
    for name in manifest["files"]:
        geoms = gpd.read_parquet(out / name).geometry.values
        assert shapely.coverage_is_valid(geoms), name
        assert not shapely.is_empty(geoms).any(), name


def test_rebuild_only_when_source_or_code_changes(make_source, tmp_path, monkeypatch):
    src = make_source("geojson")
    out = tmp_path / "cache"
    first = _build(src, out)
    source = locate_source(src)
    assert is_stale(source, out) is None
    assert _build(src, out)["built_at"] == first["built_at"]

    one_file = next((src / "communes").glob("*.geojson"))
    os.utime(one_file, ns=(1, 1))
    assert is_stale(locate_source(src), out) == "la source des contours a changé"

    _build(src, out)
    monkeypatch.setattr(geobuild, "code_version", lambda: "autre-version")
    assert "code" in is_stale(locate_source(src), out)


def test_missing_output_file_triggers_rebuild(make_source, tmp_path):
    src = make_source("geojson")
    out = tmp_path / "cache"
    _build(src, out)
    (out / "epci-national.parquet").unlink()
    assert is_stale(locate_source(src), out).startswith("fichier manquant")


def test_manifest_records_source_and_checksums(make_source, tmp_path):
    out = tmp_path / "cache"
    _build(make_source("gpkg"), out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"]["kind"] == "admin-express"
    assert manifest["code_version"] == geobuild.code_version()
    assert set(manifest["files"]) == {
        f"{level}-{detail}.parquet"
        for detail, levels in geobuild.LEVELS_BY_DETAIL.items()
        for level in levels
    }
    assert all(len(digest) == 64 for digest in manifest["files"].values())


def test_missing_source_gives_french_error(tmp_path, monkeypatch):
    with pytest.raises(SourceError, match="n'existe pas"):
        locate_source(tmp_path / "absent")
    (tmp_path / "vide").mkdir()
    with pytest.raises(SourceError, match="ne contient ni"):
        locate_source(tmp_path / "vide")
    monkeypatch.setenv(geobuild.SOURCE_ENV, str(tmp_path / "absent"))
    with pytest.raises(SourceError, match="PTCE_GEO_SOURCE"):
        locate_source()


def test_gpkg_without_commune_layer_is_refused(make_source, tmp_path):
    path = make_source("gpkg")
    other = tmp_path / "autre.gpkg"
    gpd.read_file(path, layer="commune").to_file(other, layer="arrondissement")
    with pytest.raises(SourceError, match="pas de couche COMMUNE"):
        locate_source(other)


def test_round_coverage_keeps_shared_edges():
    left = shapely.Polygon([(0, 0), (1.00004, 0), (1.00004, 1), (0, 1)])
    right = shapely.Polygon([(1.00004, 0), (2, 0), (2, 1), (1.00004, 1)])
    rounded, digits = geobuild.round_coverage(
        shapely.from_wkb(shapely.to_wkb([left, right])), digits=4
    )
    assert digits == 4
    assert shapely.coverage_is_valid(rounded)
    assert rounded[0].bounds[2] == rounded[1].bounds[0] == 1.0
