"""Benchmark: bytes sent to the browser per level and view.

Targets (issue 2): national view EPCI ≤ 800 KB and départements ≤ 250 KB of
GeoJSON; regional view EPCI of Pays de la Loire ≤ 300 KB. For comparison it
also prints a plain geopandas GeoJSON of France's EPCI simplified at 0.005°
(per-polygon simplification, full precision), and the HTML of the home map.
"""

from __future__ import annotations

from geo.boundaries import PAYS_DE_LA_LOIRE, geojson, load_boundaries
from geo.build import LEVELS_BY_DETAIL
from lib.rendering.web.maps import home_map

TARGETS = {
    ("epci", "national", None): 800_000,
    ("departement", "national", None): 250_000,
    ("epci", "regional", PAYS_DE_LA_LOIRE): 300_000,
}


def main() -> None:
    print(f"{'level':12} {'detail':9} {'view':17} {'bytes':>10}  target")
    for detail, levels in LEVELS_BY_DETAIL.items():
        for level in levels:
            for region, view in (
                (None, "France"),
                (PAYS_DE_LA_LOIRE, "Pays de la Loire"),
            ):
                size = len(geojson(level, detail, region).encode())
                target = TARGETS.get((level, detail, region))
                mark = (
                    ""
                    if target is None
                    else (f"≤ {target:,} {'ok' if size <= target else 'OVER'}")
                )
                print(f"{level:12} {detail:9} {view:17} {size:>10,}  {mark}")
    plain = load_boundaries("epci", "regional").copy()
    plain["geometry"] = plain.geometry.simplify(0.005)
    plain_size = len(plain[["code", "nom", "geometry"]].to_json().encode())
    print(
        "plain geopandas GeoJSON of EPCI France, regional detail + simplify(0.005): "
        f"{plain_size:,} bytes"
    )
    html = (
        home_map(
            geojson("region"),
            geojson("departement"),
            geojson("epci", "regional", PAYS_DE_LA_LOIRE),
        )
        .get_root()
        .render()
    )
    print(f"home map HTML (folium, all layers inlined): {len(html.encode()):,} bytes")
    epci_fr = len(geojson("epci", "national").encode())
    dep_fr = len(geojson("departement", "national").encode())
    epci_pdl = len(geojson("epci", "regional", PAYS_DE_LA_LOIRE).encode())
    print(
        f"RESULT map_payload: EPCI France {epci_fr:,} B, départements {dep_fr:,} B, "
        f"EPCI Pays de la Loire {epci_pdl:,} B"
    )


if __name__ == "__main__":
    main()
