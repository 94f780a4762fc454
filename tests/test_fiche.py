"""The PTCE fiche: display data, timeline, escaping and the small map."""

from __future__ import annotations

import json

import folium
import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from lib.analysis.fiche import (
    SOUTIEN_COLUMNS,
    ami_badges,
    build_fiche,
    escape_markdown,
    figures,
    markdown_link,
    safe_url,
    sources,
    soutiens_table,
    territoire,
    timeline_frame,
)
from lib.domain.model import Ami, Membre, Ptce, Source, Soutien
from lib.domain.selection import build_frames
from lib.io.synthetic import generate
from lib.rendering.charts import timeline_chart
from lib.rendering.web.fiche_map import fiche_map
from lib.rendering.web.maps import TextTooltip

XSS = "<img src=x onerror=alert(1)>"
ANCENIS = "44003"
PAYS_D_ANCENIS = "244400552"
ANGERS = "49007"
SRC = Source("Délibération du conseil", "https://example.org/delib")


def _record(**changes) -> Ptce:
    base = Ptce(
        id="test-1",
        nom="Pôle test",
        description="Un *pôle* de test",
        commune=ANCENIS,
        departement="44",
        region="52",
        territoire=(PAYS_D_ANCENIS, ANGERS),
        filieres=("culture", "numérique"),
        stade="développement",
        forme_juridique="SCIC",
        annee_creation=2016,
        nb_membres=12,
        emplois=3,
        charte_signee=True,
        site_web="https://example.org",
        ami=(Ami(2023, "financé"), Ami(2021, "lauréat phase 1")),
        sources=(
            Source("Site du pôle", "https://example.org/a-propos"),
            Source("Lien douteux", "javascript:alert(1)"),
        ),
        membres=(
            Membre("Association A", "association", "porteur"),
            Membre("SCOP B", "coopérative", "membre"),
        ),
        soutiens=(
            Soutien("region", "52", "investissement", montant=50_000.0,
                    annee_debut=2018, annee_fin=2020, source=SRC),
            Soutien("departement", "44", "conseil et ingénierie",
                    annee_debut=2019),
            Soutien("epci", PAYS_D_ANCENIS, "accès au foncier et aux locaux",
                    montant=12_000.0, annee_fin=2022),
            Soutien("commune", ANCENIS, "repérage et mise en lien"),
            Soutien("commune", "99999", "autre", annee_debut=2021, annee_fin=2021),
        ),
    )  # fmt: skip
    return Ptce(**{**base.__dict__, **changes})


# -- data --------------------------------------------------------------------


def test_fiche_labels_and_badges(ref):
    fiche = build_fiche(_record(origine="démonstration"), ref)
    assert fiche.badges == (
        "AMI 2021 : lauréat phase 1",
        "AMI 2023 : financé",
        "données de démonstration",
    )
    assert (
        fiche.lieu == "Ancenis-Saint-Géréon — Loire-Atlantique (44) — Pays de la Loire"
    )
    assert fiche.filieres == ("culture", "numérique")
    assert fiche.site_web == "https://example.org"
    assert list(fiche.membres.columns) == ["Nom", "Catégorie", "Rôle"]
    assert len(fiche.membres) == 2
    assert build_fiche(_record(), ref).badges[-1] == "AMI 2023 : financé"
    assert ami_badges(_record(ami=())) == []


def test_figures_sum_known_amounts_only():
    fig = figures(_record())
    assert fig["Soutiens"] == "5"
    assert fig["Collectivités"] == "5"
    assert fig["Montants connus"] == "62\u202f000\u00a0€"
    assert fig["Charte signée"] == "oui"
    empty = figures(_record(soutiens=(), emplois=None, charte_signee=None))
    assert empty["Montants connus"] == "—"
    assert empty["Emplois"] == "—"
    assert empty["Charte signée"] == "—"


def test_soutiens_table_keeps_every_support_with_french_names(ref):
    table = soutiens_table(_record(), ref)
    assert list(table.columns) == SOUTIEN_COLUMNS
    assert len(table) == 5
    assert list(table["Collectivité"]) == [
        "Pays de la Loire",
        "Loire-Atlantique",
        "CC du Pays d'Ancenis",
        "Ancenis-Saint-Géréon",
        "99999",  # unknown code: shown as is
    ]
    assert list(table["Niveau"]) == [
        "région", "département", "EPCI", "commune", "commune"
    ]  # fmt: skip
    assert table["Début"].dtype == "Int64"
    assert table["Début"].isna().tolist() == [False, False, True, True, False]
    assert table["Lien"].iloc[0] == "https://example.org/delib"
    assert table["Montant (€)"].sum() == 62_000


def test_timeline_leaves_out_supports_without_years(ref):
    timeline = timeline_frame(_record(), ref)
    # The commune support with no year at all is only in the table.
    assert len(timeline) == 4
    rows = timeline.set_index("collectivite")
    assert "Ancenis-Saint-Géréon" not in rows.index
    assert rows.loc["Pays de la Loire", ["debut", "fin"]].tolist() == [2018, 2020]
    assert rows.loc["Pays de la Loire", "periode"] == "2018–2020"
    assert not rows.loc["Pays de la Loire", "incertain"]
    assert rows.loc["Loire-Atlantique", "periode"] == "2019 – fin non renseignée"
    assert rows.loc["Loire-Atlantique", ["debut", "fin"]].tolist() == [2019, 2019]
    assert rows.loc["CC du Pays d'Ancenis", "periode"] == "début non renseigné – 2022"
    assert rows.loc["CC du Pays d'Ancenis", "incertain"]
    assert rows.loc["99999", "periode"] == "2021"
    assert timeline["debut"].is_monotonic_increasing


def test_timeline_chart_is_titled_in_french(ref):
    spec = timeline_chart(timeline_frame(_record(), ref)).to_dict()
    assert spec["title"] == "Chronologie des soutiens"
    assert spec["mark"]["type"] == "bar"
    assert spec["encoding"]["x"]["title"] == "Année"
    assert spec["encoding"]["x2"]["field"] == "fin_barre"


def test_sources_deduplicated_and_links_checked():
    record = _record(
        soutiens=(
            Soutien("region", "52", "autre", source=SRC),
            Soutien("departement", "44", "autre", source=SRC),
        )
    )
    found = sources(record)
    assert [s.libelle for s in found] == [
        "Site du pôle",
        "Lien douteux",
        "Délibération du conseil",
    ]
    assert safe_url("javascript:alert(1)") is None
    assert safe_url(" https://a.fr/x ") == "https://a.fr/x"
    assert safe_url("ftp://a.fr") is None
    assert safe_url("https:///nohost") is None
    assert build_fiche(_record(site_web="javascript:alert(1)")).site_web is None


def test_territoire_recognises_epci_and_communes(ref):
    assert territoire(_record(territoire=(PAYS_D_ANCENIS, "44160")), ref) == [
        {"niveau": "epci", "code": PAYS_D_ANCENIS, "nom": "CC du Pays d'Ancenis"},
        # A former code leads to today's commune.
        {"niveau": "commune", "code": ANCENIS, "nom": "Ancenis-Saint-Géréon"},
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<b>*gras*</b>", r"\<b\>\*gras\*\</b\>"),
        ("[lien](javascript:x)", r"\[lien\](javascript\:x)"),
        (":red[rouge] :material/home:", r"\:red\[rouge\] \:material/home\:"),
        ("# titre\n- item\n12. liste", "\\# titre\n\\- item\n12\\. liste"),
        ("Roches-lès-Blamont (44)", "Roches-lès-Blamont (44)"),
        ("a_b `c` $x$ | &amp;", r"a\_b \`c\` \$x\$ \| \&amp;"),
    ],
)
def test_escape_markdown(text, expected):
    assert escape_markdown(text) == expected


def test_markdown_link():
    assert markdown_link("Site *x*", "https://a.fr/p(1) x") == (
        r"[Site \*x\*](https://a.fr/p%281%29%20x)"
    )
    assert markdown_link("Lien", "javascript:alert(1)") == "Lien"
    assert markdown_link("Sans lien", None) == "Sans lien"


def test_synthetic_fiches_match_the_frames(ref):
    records = generate(300, seed=1, ref=ref)
    frames = build_frames(records, {}, ref)
    total = 0
    for record in records:
        fiche = build_fiche(record, ref)
        assert len(fiche.soutiens) == len(record.soutiens)
        # Synthetic supports all have years: every one is on the timeline.
        assert len(fiche.timeline) == len(record.soutiens)
        assert (fiche.timeline["debut"] <= fiche.timeline["fin"]).all()
        assert fiche.badges[-1] == "données synthétiques"
        total += len(fiche.soutiens)
    assert total == len(frames.soutiens)
    names = pd.concat(
        [build_fiche(r, ref).soutiens["Collectivité"] for r in records[:50]]
    )
    expected = frames.soutiens[frames.soutiens["ptce_id"].isin(
        [r.id for r in records[:50]]
    )]["collectivite"]  # fmt: skip
    assert sorted(names) == sorted(expected)


# -- map ---------------------------------------------------------------------


def _squares(codes: list[str], x0: float = -1.3) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": codes, "nom": [f"Territoire {c}" for c in codes]},
        geometry=[box(x0 + i * 0.1, 47.3, x0 + (i + 1) * 0.1, 47.4)
                  for i, _ in enumerate(codes)],
        crs=4326,
    )  # fmt: skip


def _fake_boundaries() -> dict[str, gpd.GeoDataFrame]:
    return {
        "commune": _squares([ANCENIS, ANGERS, "44109"]),
        "epci": _squares([PAYS_D_ANCENIS, "244900015"], x0=-1.0),
        "departement": _squares(["44", "49"], x0=-2.0),
        "region": _squares(["52"], x0=-3.0),
    }


def _geojson_layers(m: folium.Map) -> dict[str, list[str]]:
    return {
        child.layer_name: [f["properties"]["code"] for f in child.data["features"]]
        for child in m._children.values()
        if isinstance(child, folium.GeoJson)
    }


def _markers(m: folium.Map) -> list[folium.CircleMarker]:
    return [c for c in m._children.values() if isinstance(c, folium.CircleMarker)]


def _fit(m: folium.Map):
    fits = [c for c in m._children.values() if isinstance(c, folium.map.FitBounds)]
    return fits[-1].bounds


def test_fiche_map_draws_territory_and_seat(ref):
    shapes = _fake_boundaries()
    m = fiche_map(
        _record(),
        {ANCENIS: (-1.25, 47.35)},
        boundaries=shapes.__getitem__,
        ref=ref,
    )
    assert _geojson_layers(m) == {"Territoire d'action": [PAYS_D_ANCENIS, ANGERS]}
    (marker,) = _markers(m)
    assert marker.location == [47.35, -1.25]
    assert any(isinstance(c, TextTooltip) for c in marker._children.values())
    # Fitted to the EPCI square (-1.0..-0.9), Angers (-1.2..-1.1) and the
    # seat (-1.25), with a margin of 8 % of the span (0.35 by 0.1 degree).
    (south, west), (north, east) = _fit(m)
    assert west == pytest.approx(-1.25 - 0.028)
    assert east == pytest.approx(-0.9 + 0.028)
    assert (south, north) == (pytest.approx(47.292), pytest.approx(47.408))
    assert not [c for c in m._children.values() if isinstance(c, folium.TileLayer)]


def test_fiche_map_without_territory_shows_seat_commune_or_departement(ref):
    shapes = _fake_boundaries()
    seat_only = fiche_map(
        _record(territoire=()), {}, boundaries=shapes.__getitem__, ref=ref
    )
    assert _geojson_layers(seat_only) == {"Commune du siège": [ANCENIS]}
    assert _markers(seat_only) == []  # no coordinates, no commune point
    dep_only = fiche_map(
        _record(territoire=(), commune=None, departement="49"),
        {},
        boundaries=shapes.__getitem__,
        ref=ref,
    )
    assert _geojson_layers(dep_only) == {"Département": ["49"]}
    region_only = fiche_map(
        _record(territoire=(), commune=None, departement=None),
        {},
        boundaries=shapes.__getitem__,
        ref=ref,
    )
    assert _geojson_layers(region_only) == {"Région": ["52"]}
    nothing = fiche_map(
        _record(territoire=(), commune=None, departement=None, region=None),
        {},
        boundaries=shapes.__getitem__,
        ref=ref,
    )
    assert _geojson_layers(nothing) == {}


def test_fiche_map_own_coordinates_win(ref):
    m = fiche_map(
        _record(latitude=47.0, longitude=-1.5, territoire=()),
        {ANCENIS: (-1.25, 47.35)},
        boundaries=_fake_boundaries().__getitem__,
        ref=ref,
    )
    assert _markers(m)[0].location == [47.0, -1.5]


def test_fiche_map_escapes_the_name(ref):
    record = _record(nom=XSS, description=XSS, membres=(Membre(XSS),))
    m = fiche_map(
        record,
        {ANCENIS: (-1.25, 47.35)},
        boundaries=_fake_boundaries().__getitem__,
        ref=ref,
    )
    html = m.get_root().render()
    assert XSS not in html
    assert "<img" not in html
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in html
    assert "textContent" in html


def test_fiche_map_from_the_boundary_cache(built_cache, ref):
    from geo.lookup import commune_points

    points = commune_points()
    record = _record(nom=XSS)
    m = fiche_map(record, points, ref=ref)
    assert _geojson_layers(m) == {"Territoire d'action": [PAYS_D_ANCENIS, ANGERS]}
    assert _markers(m)[0].location == [points[ANCENIS][1], points[ANCENIS][0]]
    html = m.get_root().render()
    assert XSS not in html
    for synthetic in generate(20, seed=1, ref=ref):
        layers = _geojson_layers(fiche_map(synthetic, points, ref=ref))
        assert layers == {"Territoire d'action": list(synthetic.territoire)}


def test_directory_table_french_columns_sorted():
    from lib.analysis.fiche import directory_table
    from lib.domain.selection import build_frames
    from lib.io.synthetic import generate

    frames = build_frames(generate(50, seed=9))
    table = directory_table(frames.ptce)
    assert list(table.columns[:3]) == ["Nom", "Commune", "Département"]
    assert set(table.index) == set(frames.ptce.index)
    names = table["Nom"].str.casefold().tolist()
    assert names == sorted(names)


def test_fiche_map_keeps_template_syntax_in_the_name_inert(ref):
    name = "{{ 7*7 }} {% if true %}si{% endif %}"
    m = fiche_map(
        _record(nom=name),
        {ANCENIS: (-1.25, 47.35)},
        boundaries=_fake_boundaries().__getitem__,
        ref=ref,
    )
    page = m.get_root().render()
    assert json.dumps(f"{name} — siège") in page and "49 si" not in page
