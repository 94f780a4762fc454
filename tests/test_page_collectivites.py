"""AppTest of the Collectivités page: matrix, list and fiche territoire URL."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from lib import fr
from lib.io.demo import load_demo_file
from lib.io.synthetic import generate
from tests.raw import assert_no_raw_frame, assert_no_raw_text

TIMEOUT = 60
SCRIPT = (
    "from views.filters import filters_sidebar\n"
    "from views import collectivites\n"
    "filters_sidebar()\n"
    "collectivites.render()\n"
)
PAYS_D_ANCENIS = "244400552"
QUE_FAIRE = "Que peut faire cette collectivité ?"


@pytest.fixture(scope="module")
def records(ref):
    demo, _ = load_demo_file()
    return [*demo, *generate(300, seed=1, ref=ref)]


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch, records):
    """A database with the demo data and 300 synthetic PTCE."""
    from lib.io.demo import install_demo
    from lib.store.ptce import Store

    url = f"sqlite:///{tmp_path / 'collectivites.sqlite'}"
    store = Store(url)
    install_demo(store)
    store.create_many([r for r in records if r.origine == "synthétique"], "test")
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def _app() -> AppTest:
    return AppTest.from_string(SCRIPT, default_timeout=TIMEOUT)


def _counter(at: AppTest) -> tuple[int, int, int, int]:
    for m in at.markdown:
        found = re.search(
            # French plurals: « 1 soutien », « 0 collectivité », « 1 PTCE ».
            r"\*\*(\d+)\u00a0soutiens?\*\* de \*\*(\d+)\u00a0collectivités?\*\* "
            r"à \*\*(\d+)\u00a0PTCE\*\*, parmi (?:les )?(\d+)\u00a0PTCE",
            m.value,
        )
        if found:
            return tuple(int(x) for x in found.groups())
    raise AssertionError("no counter")


def _expected(records, keep) -> tuple[int, int, int, int]:
    chosen = [r for r in records if keep(r)]
    soutiens = [(r.id, s) for r in chosen for s in r.soutiens]
    return (
        len(soutiens),
        len({(s.niveau, s.code) for _, s in soutiens}),
        len({pid for pid, _ in soutiens}),
        len(chosen),
    )


def _chart_title(at: AppTest) -> str:
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    return spec["layer"][0]["title"]


def _list_table(at: AppTest):
    return next(d.value for d in at.dataframe if "PTCE soutenus" in d.value.columns)


def test_matrix_and_list(built_cache, records):
    at = _app().run()
    assert not at.exception
    assert _counter(at) == _expected(records, lambda r: r.region == "52")
    assert _chart_title(at).endswith("(nombre)")
    table = _list_table(at)
    assert table["Soutiens"].sum() == _counter(at)[0]
    assert "niveau" not in table.columns  # the code column is dropped
    assert table.iloc[0]["Collectivité"] == "Pays de la Loire"

    at.button_group(key="collectivites-mesure").set_value("montant").run()
    assert not at.exception
    assert "montants connus" in _chart_title(at)
    assert "territoire" not in at.query_params
    assert not at.metric  # no fiche territoire yet


def test_filters_change_the_counter(built_cache, records):
    at = _app().run()
    before = _counter(at)
    at.multiselect(key="f_dep").set_value(["44"]).run()
    assert not at.exception
    assert _counter(at) == _expected(records, lambda r: r.departement == "44")
    assert _counter(at) != before

    at = _app()
    at.query_params["dep"] = "44"
    at.run()
    assert _counter(at) == _expected(records, lambda r: r.departement == "44")

    at = _app()
    at.query_params["region"] = "france"
    at.run()
    assert _counter(at) == _expected(records, lambda r: True)


def test_no_match(built_cache):
    at = _app()
    at.query_params["q"] = "aucun ptce ne porte ce nom"
    at.query_params["territoire"] = "region:52"
    at.run()
    assert not at.exception
    assert _counter(at) == (0, 0, 0, 0)
    assert "Aucun soutien" in at.info[0].value
    # The fiche still opens (thematic filters apply: no PTCE matches).
    assert _metrics(at)["PTCE présents"] == "0"


def _fiche_title(at: AppTest) -> str:
    # The fiche's title, followed by its last section, « Que peut faire… ».
    subheaders = [s.value for s in at.subheader]
    assert subheaders[-1] == QUE_FAIRE
    return subheaders[-2]


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_territoire_param_opens_the_fiche(built_cache, records):
    at = _app()
    at.query_params["territoire"] = "departement:44"
    at.run()
    assert not at.exception
    assert at.selectbox(key="territoire-niveau").value == "departement"
    assert at.selectbox(key="territoire-departement").value == "44"
    assert _fiche_title(at) == "Loire-Atlantique — Département"
    metrics = _metrics(at)
    present = [r for r in records if r.departement == "44"]
    assert metrics["PTCE présents"] == str(len(present))
    assert "Moyenne régionale (Pays de la Loire)" in metrics
    text = " ".join(m.value for m in at.markdown)
    assert "en moyenne pour la région Pays de la Loire" in text
    assert at.query_params["territoire"] in ("departement:44", ["departement:44"])
    # The fiche can be downloaded as one A4 page (PDF or PNG), made on demand.
    at.button(key="fiche_export_pdf_preparer").click().run()
    assert not at.exception, at.exception
    (download,) = at.get("download_button")
    assert download.proto.label.startswith("Télécharger : fiche territoire (PDF")
    assert at.session_state["fiche_export_pdf"][1].startswith(b"%PDF")


def test_territoire_round_trip(built_cache):
    at = _app().run()
    at.selectbox(key="territoire-niveau").set_value("region").run()
    assert not at.exception
    assert "territoire" not in at.query_params  # level alone: no fiche
    at.selectbox(key="territoire-region").set_value("52").run()
    assert at.query_params["territoire"] in ("region:52", ["region:52"])
    metrics = _metrics(at)
    assert "Moyenne nationale" in metrics
    assert _fiche_title(at) == "Pays de la Loire — Région"

    at.selectbox(key="territoire-niveau").set_value("epci").run()
    assert "territoire" not in at.query_params
    at.selectbox(key="territoire-epci").set_value(PAYS_D_ANCENIS).run()
    assert at.query_params["territoire"] in (
        f"epci:{PAYS_D_ANCENIS}",
        [f"epci:{PAYS_D_ANCENIS}"],
    )
    title = _fiche_title(at)
    assert title == "CC du Pays d'Ancenis — Communauté de communes"


def test_epci_link_outside_the_filters(built_cache, records, ref):
    # Nantes Métropole while the filters show only the Vendée: the link still
    # opens, the territory is added to the choices.
    at = _app()
    at.query_params["dep"] = "85"
    at.query_params["territoire"] = "epci:244400404"
    at.run()
    assert not at.exception
    assert at.selectbox(key="territoire-epci").value == "244400404"
    members = set(ref.epci["244400404"].membres)
    present = [
        r.id
        for r in records
        if r.commune in members
        or "244400404" in r.territoire
        or members.intersection(r.territoire)
    ]
    assert {"les-ecossolies", "le-solilab"} <= set(present)
    assert _metrics(at)["PTCE présents"] == str(len(present))
    given = " ".join(m.value for m in at.markdown)
    assert "Soutiens donnés par Nantes Métropole" in given


def test_invalid_territoire_param_is_dropped(built_cache):
    at = _app()
    at.query_params["territoire"] = "epci:zzz"
    at.run()
    assert not at.exception
    assert at.selectbox(key="territoire-niveau").value is None
    assert "territoire" not in at.query_params
    assert not at.metric


def _heatmap(at: AppTest) -> dict:
    (chart,) = at.get("vega_lite_chart")
    return json.loads(chart.proto.spec)


def test_no_raw_value_french_numbers_and_a_fitting_layout(built_cache):
    at = _app()
    at.query_params["territoire"] = "departement:44"
    at.run()
    assert not at.exception
    for table in at.dataframe:
        assert_no_raw_frame(table)
    for text in [*(m.value for m in at.markdown), *(c.value for c in at.caption)]:
        assert_no_raw_text(text)
    for metric in at.metric:
        assert_no_raw_text(metric.value)
    # The collectivités' list: amounts in French, widths that leave the PTCE
    # column room at 1440 px (about 1 100 px of table beside the sidebar).
    (listing,) = [t for t in at.dataframe if "Types de soutien" in t.value.columns]
    amounts = [a for a in listing.value["Montant connu"] if a != fr.MISSING]
    assert all(a.endswith("\u00a0€") for a in amounts)
    config = json.loads(listing.proto.columns)
    assert set(config) - {"_index"} == set(listing.value.columns)
    assert sum(config[c]["width"] for c in listing.value.columns) <= 960
    assert not any(c.get("pinned") for c in config.values())  # pinned is greyed
    assert listing.proto.row_height > 64  # the grid wraps text above 4rem
    # Heatmap of counts: whole-number legend, flat labels (never cut).
    spec = _heatmap(at)
    cells = spec["layer"][0]["encoding"]
    legend = cells["color"]["condition"]["legend"]
    assert all(isinstance(v, int) for v in legend["values"])
    assert cells["x"]["axis"]["labelAngle"] == 0
    assert cells["y"]["field"] == "Type de soutien"
    assert spec["config"]["locale"]["number"]["decimal"] == ","
    at.button_group(key="collectivites-mesure").set_value("montant").run()
    assert not at.exception
    legend = _heatmap(at)["layer"][0]["encoding"]["color"]["condition"]["legend"]
    assert legend["format"] == ",.0f"  # French through config.locale


# -- « Que peut faire cette collectivité ? » ----------------------------------------

#: A distance as the page writes it: French digits, decimal comma, « km ».
KM_TEXT = re.compile(r"(?:moins de 0,1|\d{1,3}(?:\u202f\d{3})*(?:,\d)?)\u00a0km")


@pytest.fixture(scope="module")
def frames(records, ref, built_cache):
    """The frames the page reads (demo and synthetic PTCE)."""
    from geo.lookup import commune_points
    from lib.domain.selection import build_frames

    return build_frames(records, commune_points(), ref)


def _texts(at: AppTest) -> list[str]:
    return [*(m.value for m in at.markdown), *(c.value for c in at.caption)]


def _role_text(niveau: str) -> str:
    from lib.analysis.reperes import section

    titre = {"commune": "Communes", "epci": "Intercommunalités",
             "departement": "Départements", "region": "Régions"}[niveau]  # fmt: skip
    return next(e for e in section("niveaux").entries if e.titre == titre).texte


def _fiche_link(ptce_id: str, nom: str) -> str:
    from urllib.parse import quote

    from lib.analysis.fiche import escape_markdown

    return f"[{escape_markdown(nom)}](./annuaire?ptce={quote(ptce_id, safe='')})"


def _assert_french(texts: list[str]) -> None:
    for text in texts:
        assert_no_raw_text(text)
        # Every distance in French: never « 12.4 km » nor « 12.4km ».
        assert not re.search(r"\d\.\d+\s?km", text), text
        for found in re.finditer(r"\S+\u00a0km", text):
            assert KM_TEXT.search(text[max(found.start() - 10, 0) : found.end()]), text


def test_epci_without_ptce_shows_role_peers_and_nearest(built_cache, frames, ref):
    # Acceptance: the fiche of an EPCI with no PTCE still shows its level's
    # role, its peers' supports by type and the nearest PTCE.
    from lib.analysis.accompagner import que_faire
    from lib.analysis.territoires import ptce_mask, region_of
    from lib.domain.soutiens import libelle

    code = next(
        c
        for c in sorted(ref.epci)
        if region_of("epci", c, ref) == "52"
        and not ptce_mask(frames.ptce, "epci", c).any()
    )
    at = _app()
    at.query_params["territoire"] = f"epci:{code}"
    at.run()
    assert not at.exception
    assert _fiche_title(at).startswith(ref.epci[code].nom)
    assert _metrics(at)["PTCE présents"] == "0"
    texts = _texts(at)
    text = "\n".join(texts)
    # The level's role, from the guide, with its source.
    assert _role_text("epci") in text
    assert "Source : RTES / CRESS Pays de la Loire" in text
    # Its peers' supports, type by type, counted from the data.
    soutiens = frames.soutiens
    others = soutiens[(soutiens["niveau"] == "epci") & (soutiens["code"] != code)]
    assert len(others)
    lines = {
        line.split("**")[1]: line
        for line in text.splitlines()
        if line.startswith("- **") and " → " in line
    }
    for kind, part in others.groupby("type"):
        line = lines[libelle(kind)]
        assert line.startswith(
            f"- **{libelle(kind)}** ({fr.count(len(part), 'soutien')}) : "
        )
        peers = [f"territoire=epci%3A{c})" for c in part["code"]]
        assert any(p in line for p in peers), line
        assert any(
            _fiche_link(pid, nom) in line
            for pid, nom in zip(part["ptce_id"], part["ptce_nom"], strict=True)
        ), line
    # None in the EPCI: the nearest, linked, at a distance in French.
    assert "Aucun PTCE recensé dans le territoire." in text
    near = que_faire(frames, "epci", code, ref).plus_proche
    found = re.search(
        r"Le plus proche : \*\*(.+?)\*\* — .+?, à (.+?) de la limite", text
    )
    assert found, text
    nom = frames.ptce.loc[near.id, "nom"]
    assert found.group(1) == _fiche_link(near.id, nom)
    assert KM_TEXT.fullmatch(found.group(2)) and found.group(2) == near.distance
    _assert_french(texts)


@pytest.mark.parametrize(
    ("niveau", "code", "pluriel"),
    [
        ("commune", "44109", "communes"),
        ("departement", "44", "départements"),
        ("region", "52", "régions"),
    ],
)
def test_every_level_renders_the_section(built_cache, ref, niveau, code, pluriel):
    from lib.analysis.accompagner import level_shapes, neighbours

    at = _app()
    at.query_params["territoire"] = f"{niveau}:{code}"
    at.run()
    assert not at.exception
    assert at.selectbox(key=f"territoire-{niveau}").value == code
    assert _fiche_title(at).startswith(ref.level(niveau)[code].nom)
    texts = _texts(at)
    text = "\n".join(texts)
    assert _role_text(niveau) in text
    assert f"**Comment les {pluriel} soutiennent les PTCE dans les données**" in text
    assert f"**Ce que font les autres {pluriel}, par type de soutien**" in text
    assert "**PTCE du territoire et de ses voisins**" in text
    n = len(neighbours(level_shapes(niveau), code))
    voisins = "voisines" if niveau in ("commune", "region") else "voisins"
    assert f"Ses {n}\u00a0{pluriel} {voisins} :" in text
    _assert_french(texts)
    if niveau == "commune":  # no A4 sheet for a commune: said, not offered
        assert not at.get("download_button")
        assert not [b for b in at.button if b.key == "fiche_export_pdf_preparer"]
        assert any("fiche A4" in c.value for c in at.caption)


def test_section_escapes_names(tmp_path, monkeypatch, built_cache, ref):
    # A hostile PTCE name in a peer's support, a neighbour and the nearest.
    from lib.domain.model import Ptce, Soutien
    from lib.store.ptce import Store

    url = f"sqlite:///{tmp_path / 'hostile.sqlite'}"
    hostile = "<b>*gras*</b> [clic](javascript:alert(1)) :red[rouge]"
    Store(url).create_many(
        [
            Ptce(
                id="hostile",
                nom=hostile,
                commune="44003",
                departement="44",
                region="52",
                soutiens=(Soutien("epci", PAYS_D_ANCENIS, "investissement"),),
            )
        ],
        "test",
    )
    monkeypatch.setenv("DATABASE_URL", url)
    from lib.analysis.accompagner import level_shapes, neighbours

    neighbour = neighbours(level_shapes("epci"), PAYS_D_ANCENIS)[0]
    at = _app()
    at.query_params["region"] = "france"
    at.query_params["territoire"] = f"epci:{neighbour}"
    at.run()
    assert not at.exception
    text = "\n".join(m.value for m in at.markdown)
    assert text.count(_fiche_link("hostile", hostile)) >= 2  # peer's, nearest…
    assert "<b>" not in text.replace("\\<b\\>", "")
    # Brackets and colons escaped: no link, no directive of the name's own.
    assert not re.search(r"(?<!\\)\]\(javascript", text)
    assert not re.search(r"(?<!\\):red\[", text)
