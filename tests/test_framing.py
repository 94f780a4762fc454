"""Framing of the Carte: bounds fitted per selection, overseas insets, scale."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from shapely.geometry import box

from lib.rendering import framing
from lib.rendering.framing import (
    COMPOSITE_BOUNDS,
    INSETS,
    METROPOLE_BOUNDS,
    display_bounds,
    mercator,
    to_display,
    unmercator,
)


def _bounds(level: str, codes, detail: str = "national"):
    from geo.boundaries import load_boundaries

    gdf = load_boundaries(level, detail)
    minx, miny, maxx, maxy = gdf[gdf["code"].isin(codes)].total_bounds
    return ((miny, minx), (maxy, maxx))


def _inside(inner, outer, tol: float = 1e-9) -> bool:
    (s1, w1), (n1, e1) = inner
    (s2, w2), (n2, e2) = outer
    return s1 >= s2 - tol and w1 >= w2 - tol and n1 <= n2 + tol and e1 <= e2 + tol


def _flat(bounds) -> list[float]:
    (south, west), (north, east) = bounds
    return [float(south), float(west), float(north), float(east)]


def _same(a, b) -> bool:
    return _flat(a) == pytest.approx(_flat(b))


def _frame_box(inset):
    return box(*inset.frame)


# -- Insets --------------------------------------------------------------------


def test_mercator_round_trip():
    for lat, lon in ((47.2, -1.55), (16.0, -61.7), (-20.9, 55.4), (0.0, 0.0)):
        assert unmercator(*mercator(lat, lon)) == pytest.approx((lat, lon))


def test_every_overseas_departement_lies_in_its_box(built_cache):
    from geo.boundaries import load_boundaries

    deps = load_boundaries("departement", "national")
    overseas = deps[deps["code"].str.startswith("97")]
    assert sorted(overseas["code"]) == sorted(i.code for i in INSETS)
    for inset in INSETS:
        (south, west), (north, east) = _bounds("departement", [inset.code])
        assert inset.contains(south, west) and inset.contains(north, east), inset.code
        assert deps.loc[deps["code"] == inset.code, "nom"].item() == inset.nom


def test_insets_are_drawn_apart_from_metropolitan_france(built_cache):
    from geo.boundaries import load_boundaries

    frames = [_frame_box(i) for i in INSETS]
    for a in range(len(frames)):
        for b in range(a + 1, len(frames)):
            assert not frames[a].intersects(frames[b]), (INSETS[a].code, INSETS[b].code)
    regions = load_boundaries("region", "national").to_crs(3857)
    metropole = regions[~regions["code"].isin(["01", "02", "03", "04", "06"])]
    land = metropole.union_all()
    for inset, frame in zip(INSETS, frames, strict=True):
        assert not frame.intersects(land), inset.code
        # Nothing drawn in a frame is itself moved by another inset.
        (south, west), (north, east) = (
            unmercator(*inset.frame[:2]),
            unmercator(*inset.frame[2:]),
        )
        assert framing.inset_of(south, west) is None
        assert framing.inset_of(north, east) is None


def test_a_point_of_an_inset_is_drawn_inside_its_frame():
    for inset in INSETS:
        south, west, north, east = inset.box
        for lat, lon in ((south, west), (north, east), ((south + north) / 2, west)):
            x, y = mercator(*to_display(lat, lon))
            minx, miny, maxx, maxy = inset.frame
            assert minx <= x <= maxx and miny <= y <= maxy, inset.code
    # Metropolitan positions are not moved.
    assert to_display(47.2, -1.55) == (47.2, -1.55)


def test_france_entiere_fits_metropole_and_every_frame():
    assert _inside(METROPOLE_BOUNDS, COMPOSITE_BOUNDS)
    for inset in INSETS:
        frame = (unmercator(*inset.frame[:2]), unmercator(*inset.frame[2:]))
        assert _inside(frame, COMPOSITE_BOUNDS), inset.code
    # The insets use the room west of France, not a strip of sea around it.
    (south, west), (north, east) = COMPOSITE_BOUNDS
    assert west < METROPOLE_BOUNDS[0][1] - 2
    assert (south, north, east) == (
        METROPOLE_BOUNDS[0][0],
        METROPOLE_BOUNDS[1][0],
        METROPOLE_BOUNDS[1][1],
    )


def test_inset_spec_matches_the_python_transform():
    # The browser applies (p - c) * k + t to Mercator metres: same numbers.
    for inset, spec in zip(INSETS, framing.inset_spec(), strict=True):
        lat, lon = (inset.box[0] + inset.box[2]) / 2, inset.box[1] + 0.1
        x, y = mercator(lat, lon)
        drawn = ((x - spec["c"][0]) * spec["k"] + spec["t"][0],
                 (y - spec["c"][1]) * spec["k"] + spec["t"][1])  # fmt: skip
        assert drawn == pytest.approx(mercator(*to_display(lat, lon)))
        assert spec["rect"] == pytest.approx(list(inset.frame))


# -- Bounds of a view ------------------------------------------------------------


def test_region_view_fits_the_region(built_cache):
    from lib.rendering.vue import view_bounds

    key, bounds = view_bounds("52")
    assert _same(bounds, _bounds("region", ["52"]))
    # Every département of the région inside (south Vendée, north Mayenne).
    for dep in ("44", "49", "53", "72", "85"):
        assert _inside(_bounds("departement", [dep]), bounds, tol=0.03), dep
    assert key == "52|region"


def test_departement_view_fits_the_departement(built_cache):
    from lib.rendering.vue import view_bounds

    key, bounds = view_bounds("52", ("44",))
    assert _same(bounds, _bounds("departement", ["44"]))
    assert "departement:44" in key
    key2, both = view_bounds("52", ("85", "44"))
    assert _same(both, _bounds("departement", ["44", "85"]))
    assert key2 != key
    assert view_bounds("52", ("44", "85"))[0] == key2  # order does not matter


def test_epci_view_fits_the_epci(built_cache):
    from lib.rendering.vue import view_bounds

    nantes = "244400404"  # Nantes Métropole
    key, bounds = view_bounds("52", ("44",), (nantes,))
    assert _same(bounds, _bounds("epci", [nantes]))
    assert f"epci:{nantes}" in key
    # Smaller than the département it is in.
    south, _, north, _ = _flat(bounds)
    south2, _, north2, _ = _flat(_bounds("departement", ["44"]))
    assert (north - south) < (north2 - south2) / 2


def test_france_entiere_view_and_overseas_selection(built_cache):
    from lib.rendering.vue import view_bounds

    assert view_bounds(None) == ("france|france", COMPOSITE_BOUNDS)
    key, bounds = view_bounds(None, ("971",))
    assert key == "france|departement:971"
    guadeloupe = INSETS[0]
    frame = (unmercator(*guadeloupe.frame[:2]), unmercator(*guadeloupe.frame[2:]))
    assert _inside(bounds, frame), bounds
    assert _same(bounds, display_bounds(_bounds("departement", ["971"])))
    # Under its own région, Guadeloupe is framed where it truly is.
    _, bounds = view_bounds("01")
    assert _same(bounds, _bounds("region", ["01"]))


def test_clicked_territory_bounds(built_cache):
    from lib.rendering.vue import territory_bounds

    assert _same(
        territory_bounds("departement:53", "52"), _bounds("departement", ["53"])
    )
    assert _same(
        territory_bounds("epci:244400404", "52"), _bounds("epci", ["244400404"])
    )
    assert _same(
        territory_bounds("commune:44109", "52"),
        _bounds("commune", ["44109"], "regional"),
    )
    reunion = territory_bounds("departement:974", None)
    assert _same(reunion, display_bounds(_bounds("departement", ["974"])))
    assert reunion[0][0] > 40  # drawn in its inset, west of France
    assert territory_bounds("departement:99", "52") is None
    assert territory_bounds("n'importe quoi", "52") is None


# -- What the map receives -------------------------------------------------------


def _html(m) -> str:
    return m.get_root().render()


def test_framing_layer_frames_the_selection_or_a_territory(built_cache):
    from lib.rendering.vue import territory_bounds, view_bounds
    from lib.rendering.web.carte import framing_layer
    from lib.rendering.web.maps import FitView

    def fit(group) -> FitView:
        (element,) = group._children.values()
        assert isinstance(element, FitView)
        return element

    key, bounds = view_bounds("52", ("44",))
    view = fit(framing_layer("52", ("44",)))
    assert view.key == key
    assert view.bounds == [list(bounds[0]), list(bounds[1])]
    clicked = fit(framing_layer("52", ("44",), (), "departement:53"))
    mayenne = territory_bounds("departement:53", "52")
    assert clicked.bounds == [list(mayenne[0]), list(mayenne[1])]
    assert clicked.key not in (key, "departement:53")  # new key, refitted
    # An unknown territory frames the selection.
    assert fit(framing_layer("52", ("44",), (), "departement:99")).key == key
    # In the page: fitted only when the key differs from the last one fitted.
    from lib.rendering.web.carte import base_for

    m = base_for("52")
    framing_layer("52", ("44",)).add_to(m)
    page = _html(m)
    assert f"const key = {json.dumps(key)};" in page
    assert "if (map._atlasFit === key) { return; }" in page
    assert "map.fitBounds(bounds, {" in page
    assert f"L.latLngBounds({json.dumps([list(bounds[0]), list(bounds[1])])})" in page


def test_base_maps_use_insets_only_for_france_entiere(built_cache):
    from lib.rendering.web.carte import base_for

    france = _html(base_for(None))
    assert "crs: L.CRS.AtlasFrance" in france
    assert "L.CRS.AtlasFrance = L.CRS.AtlasFrance ||" in france
    assert france.index("L.CRS.AtlasFrance =") < france.index("L.map(")
    assert "atlas-inset-frame" in france and "Guadeloupe" in france
    region = _html(base_for("52"))
    assert "crs: L.CRS.EPSG3857" in region
    assert "AtlasFrance" not in region and "atlas-inset-frame" not in region


@pytest.mark.parametrize("region", ["52", None])
def test_scale_bar_is_metric_only(built_cache, region):
    from lib.rendering.web.carte import base_for

    page = _html(base_for(region))
    assert "L.control.scale({imperial: false})" in page
    assert "L.control.scale()" not in page


def test_home_map_scale_is_metric_only(built_cache):
    from geo.boundaries import geojson
    from lib.rendering.web.maps import home_map

    page = _html(home_map(geojson("region"), geojson("departement"), geojson("epci")))
    assert "L.control.scale({imperial: false})" in page
    assert "L.control.scale()" not in page
    # France with its overseas départements in insets, as on the Carte.
    assert "crs: L.CRS.AtlasFrance" in page and "atlas-inset-frame" in page


# -- Static exports frame the same way --------------------------------------------


def test_static_map_frames_the_chosen_departement(built_cache):
    from lib.rendering.print.static_map import _projected, _view_box

    territories = _projected("departement", "regional", "52")
    box44 = _projected("departement", "national", None)
    box44 = box44[box44["code"] == "44"].total_bounds
    def view(*departements):
        # What _view_box reads of a lib.rendering.vue.MapSpec.
        return SimpleNamespace(
            region="52", departements=departements, epci=(), territoire=None
        )

    assert list(_view_box(territories, view("44"))) == pytest.approx(list(box44))
    assert list(_view_box(territories, view())) == pytest.approx(
        list(territories.total_bounds)
    )


def test_static_map_draws_overseas_in_the_insets(built_cache):
    import geopandas as gpd
    import pandas as pd

    from lib.rendering.print.static_map import (
        _composite,
        _frames_l93,
        _project_points,
        _upright,
    )

    deps = _composite("departement")
    for inset in INSETS:
        frame = _upright(_frames_l93()[inset.code][0], inset)
        drawn = deps[deps["code"] == inset.code].geometry.item()
        assert frame.buffer(1000).contains(drawn), inset.code
        # Printed upright: the frame's top edge is level.
        (x0, y0), (x1, y1) = frame.exterior.coords[2], frame.exterior.coords[1]
        assert abs(y1 - y0) < 1e-6 * abs(x1 - x0)
    metro = deps[~deps["code"].str.startswith("97")]
    assert not metro.intersects(deps[deps["code"] == "971"].geometry.item()).any()
    ptce = pd.DataFrame(
        {"lat": [16.00046, 47.2], "lon": [-61.72793, -1.55], "filiere": ["a", "b"]}
    )
    points = _project_points(ptce, insets=True)
    guadeloupe = _upright(_frames_l93()["971"][0], INSETS[0])
    x, y = points.loc[0, ["x", "y"]]
    assert guadeloupe.contains(gpd.points_from_xy([x], [y])[0])
    # Metropolitan PTCE stay where they are.
    plain = _project_points(ptce, insets=False)
    assert points.loc[1, "x"] == pytest.approx(plain.loc[1, "x"])
