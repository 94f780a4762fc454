"""Certainty of values: « déduit » marks, support types in the seed's wording.

Issue 13, points 2 and 4: every inferred value of the demo data is marked
with its reasoning (or absent), the mark survives storage, migration, import
and export, and the seven ways to support a PTCE carry the seed's wording and
a definition wherever a type appears.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import openpyxl
import pytest
import sqlalchemy as sa

from lib.domain import soutiens as types
from lib.domain.model import CHAMPS_DEDUITS, TYPES_SOUTIEN, Ptce, Source, Soutien
from lib.io.columns import SHEETS
from lib.io.demo import DEMO_FILE, load_demo_file
from lib.io.exporter import TYPES_SHEET, to_csv, to_geojson, to_xlsx
from lib.io.importer import import_files
from lib.store.ptce import (
    SCHEMA_VERSION,
    Store,
    make_engine,
    migrate,
    schema_version,
)
from tests.conftest import ROOT

SEED = ROOT.parent / "shared" / "seeds" / "000_65a9425fbe8b1edc.txt"


@pytest.fixture(scope="module")
def demo() -> list[Ptce]:
    return load_demo_file()[0]


@pytest.fixture
def store(database_url) -> Store:
    return Store(database_url)


def _sample() -> Ptce:
    return Ptce(
        id="exemple",
        nom="Exemple",
        departement="44",
        region="52",
        filieres=("culture",),
        annee_creation=2002,
        sources=(Source("Page", "https://exemple.org/p"),),
        soutiens=(
            Soutien(
                niveau="departement",
                code="44",
                type="commande publique",
                source=Source("Page", "https://exemple.org/p"),
                deduit="La source dit « travaille avec » ; le soutien est déduit.",
            ),
            Soutien(niveau="region", code="52", type="investissement"),
        ),
        deductions={
            "departement": "Déduit du nom ; la source ne le donne pas.",
            "annee_creation": "Les sources divergent : 2002, 2004 ou 2006.",
        },
        meme_pole_que=("autre-ptce",),
    )


# -- the demo data ------------------------------------------------------------

#: Sources that only list names (with a région at most): any other value of
#: a PTCE sourced by them alone cannot have been read there.
_NAME_LISTS = (
    "studylibfr.com/doc/3752995",
    "chorum.fr/actualite/15-nouveaux-ptce",
    "cresspaca.org/",
)
#: What such a list states about a PTCE.
_LISTED = {
    "id", "nom", "region", "ami", "sources", "origine", "description", "deductions"
}  # fmt: skip


def test_no_demo_value_lacks_a_source_or_a_deduit_mark(demo):
    for p in demo:
        assert p.sources and all(s.libelle.strip() for s in p.sources), p.nom
        for s in p.soutiens:
            assert s.source and s.source.libelle.strip(), p.nom
            assert s.deduit is None or len(s.deduit) > 40, p.nom
        for champ, why in p.deductions.items():
            # A mark names a known field that holds a value, with its reasoning.
            assert champ in CHAMPS_DEDUITS, (p.nom, champ)
            assert getattr(p, champ) not in (None, (), ""), (p.nom, champ)
            assert len(why) > 40, (p.nom, champ)
        urls = [s.url or "" for s in p.sources]
        if all(any(n in u for n in _NAME_LISTS) for u in urls):
            for name, value in p.content().items():
                if name in _LISTED or value in (None, [], (), {}):
                    continue
                assert name in p.deductions, (p.nom, name, value)


def test_the_audited_inferences_are_marked(demo):
    by = {p.id: p for p in demo}
    moulin = by["le-moulin-creatif"]
    region, epci = moulin.soutiens
    assert (region.annee_debut, region.annee_fin) == (2015, 2017)
    assert "trois années" in region.deduit
    assert "travaille avec" in epci.deduit
    guide = [
        "ptce-culture-a-montaigu",
        "mieux-manger-en-mayenne",
        "nord-ouest-loire-atlantique",
        "agglomeration-de-la-roche-sur-yon",
        "loire-angers",
        "pays-d-ancenis",
    ]
    for pid in guide:
        assert "nom" in by[pid].deductions["departement"], pid
    for pid in ("filiere-velo-du-grand-paris", "micro-filiere-meunerie"):
        assert "nom" in by[pid].deductions["filieres"], pid
    ecossolies = by["les-ecossolies"].deductions["annee_creation"]
    assert all(year in ecossolies for year in ("2002", "2004", "2006"))
    assert "divergent" in ecossolies


def test_probable_duplicates_are_linked_both_ways_with_the_reason(demo):
    by = {p.id: p for p in demo}
    pairs = {
        frozenset({"le-moulin-creatif", "ptce-culture-a-montaigu"}),
        frozenset({"les-ecossolies", "le-solilab"}),
        frozenset({"labsport", "ptce-lab-sport"}),
    }
    found = set()
    for p in demo:
        for other in p.meme_pole_que:
            assert other in by, (p.nom, other)
            assert p.id in by[other].meme_pole_que, (p.nom, other)
            assert by[other].nom in p.deductions["meme_pole_que"], p.nom
            found.add(frozenset({p.id, other}))
    assert found == pairs


# -- storage and migration ----------------------------------------------------


def test_deductions_are_stored_and_kept_in_history(store):
    saved = store.save(_sample(), "alice")
    loaded = store.get("exemple")
    assert loaded == saved
    assert loaded.deductions == _sample().deductions
    assert loaded.soutiens[0].deduit.startswith("La source dit")
    assert loaded.soutiens[1].deduit is None
    assert loaded.meme_pole_que == ("autre-ptce",)
    cleared = store.save(replace(loaded, deductions={}, meme_pole_que=()), "bob")
    assert store.get("exemple").deductions == {}
    restored = store.restore("exemple", saved.version, "carol")
    assert restored.deductions == _sample().deductions
    assert cleared.version < restored.version


def test_old_database_migrates_and_keeps_its_records(database_url):
    engine = make_engine(database_url)
    assert migrate(engine, target=8) == 8
    old = Store.__new__(Store)
    old.engine = engine
    with engine.begin() as conn:
        assert not sa.inspect(conn).has_table("ptce_certitude")
        conn.exec_driver_sql(
            "INSERT INTO ptce (id, nom, territoire, ami, sources, origine, version, "
            "modifie_le, modifie_par) VALUES ('a', 'Ancien', '[]', '[]', '[]', "
            "'saisie', 1, '2025-01-01', 'test')"
        )
        conn.exec_driver_sql(
            "INSERT INTO soutien (ptce_id, rang, niveau, code, type) "
            "VALUES ('a', 0, 'commune', '44003', 'commande publique')"
        )
    store = Store(engine=engine)
    with engine.connect() as conn:
        assert schema_version(conn) == SCHEMA_VERSION >= 9
        assert sa.inspect(conn).has_table("ptce_certitude")
    record = store.get("a")
    assert record.nom == "Ancien" and record.deductions == {}
    assert record.soutiens[0].type == "commande publique"  # stored code kept
    assert record.soutiens[0].deduit is None
    marked = replace(record, deductions={"nom": "Déduit d'une liste sans adresse."})
    store.save(marked, "alice")
    assert store.get("a").deductions == marked.deductions


# -- import / export ----------------------------------------------------------


def test_csv_round_trip_of_the_deduction_columns(store, tmp_path):
    record = _sample()
    ptce_csv, soutiens_csv = to_csv([record], "PTCE"), to_csv([record], "Soutiens")
    header = ptce_csv.decode("utf-8-sig").splitlines()[0].split(";")
    assert "deductions" in header and "meme_pole_que" in header
    text = soutiens_csv.decode("utf-8-sig")
    assert "deduit" in text.splitlines()[0].split(";")
    row = next(csv.DictReader(io.StringIO(ptce_csv.decode("utf-8-sig")), delimiter=";"))
    assert row["deductions"].startswith("département : Déduit du nom")
    assert "année de création : Les sources divergent" in row["deductions"]
    plan = import_files(
        [("ptce.csv", ptce_csv), ("soutiens.csv", soutiens_csv)], store, "test"
    )
    assert not plan.problems, [p.message for p in plan.problems]
    back = store.get("exemple")
    assert back.deductions == record.deductions
    assert back.meme_pole_que == record.meme_pole_que
    assert [s.deduit for s in back.soutiens] == [s.deduit for s in record.soutiens]
    assert [s.type for s in back.soutiens] == ["commande publique", "investissement"]


def test_xlsx_round_trip_and_types_legend(store):
    record = _sample()
    data = to_xlsx([record])
    book = openpyxl.load_workbook(io.BytesIO(data))
    legend = [r for r in book[TYPES_SHEET].iter_rows(values_only=True) if r[0]]
    for code in TYPES_SOUTIEN:
        assert (types.libelle(code), types.definition(code)) in legend
    soutiens = list(book["Soutiens"].iter_rows(values_only=True))
    col = soutiens[0].index("type_soutien")
    assert soutiens[1][col] == types.libelle("commande publique")
    plan = import_files([("export.xlsx", data)], store, "test")
    assert not plan.problems, [p.message for p in plan.problems]
    assert store.get("exemple").content() == record.content()


def test_geojson_carries_the_marks():
    doc = json.loads(to_geojson([_sample()]))
    props = doc["features"][0]["properties"]
    assert "département : Déduit du nom" in props["deductions"]
    assert props["soutiens"][0]["deduit"].startswith("La source dit")


def test_import_rejects_an_unknown_field_in_deductions(store):
    lines = [
        "identifiant;nom;deductions",
        "x;X;couleur : déduite du logo",
    ]
    plan = import_files([("p.csv", "\n".join(lines).encode())], store, "t")
    assert any(p.colonne == "deductions" for p in plan.problems)
    assert store.count() == 0


@pytest.mark.parametrize(
    "written",
    [
        "commande publique",  # the former label = the stored code
        "Acteur de la gouvernance",
        "appel aux biens et services proposés par le PTCE ou à son savoir-faire en "
        "matière de coopération",
        "ACCES AU FONCIER",
    ],
)
def test_old_and_new_type_labels_import(store, written):
    lines = [
        "identifiant_ptce;niveau;collectivite;type_soutien",
        f"x;commune;44003;{written}",
    ]
    ptce = b"identifiant;nom\nx;X"
    plan = import_files(
        [("p.csv", ptce), ("s.csv", "\n".join(lines).encode())], store, "t"
    )
    assert not plan.problems, [p.message for p in plan.problems]
    assert store.get("x").soutiens[0].type in TYPES_SOUTIEN


# -- the seven ways in the seed's wording -------------------------------------


def _seed_ways() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    part = text.split("La collectivité peut :")[1].split("PTCE et SCIC")[0]
    return [line for line in part.splitlines() if "▶" in line]


@pytest.mark.skipif(not SEED.exists(), reason="seed absent")
def test_seven_types_carry_the_seed_wording_and_a_definition():
    ways = _seed_ways()
    assert len(ways) == 7
    seven = [t for t in types.TYPES if t.code != "autre"]
    assert len(seven) == 7
    for t, way in zip(seven, ways, strict=True):
        bold = [w.lower() for w in way.split("**")[1::2]]
        # Every word of the seed's bold key phrase is in the label.
        for phrase in bold:
            for word in phrase.replace("'", " ").split():
                word = word.strip(",.…")
                if len(word) > 3:
                    assert word in t.libelle.lower(), (word, t.libelle)
        assert len(t.definition) > 30, t.code
    commande = types.libelle("commande publique")
    assert "savoir-faire en matière de coopération" in commande
    assert "coopér" in types.libelle("acteur de la gouvernance")
    assert "acteurs du territoire" in types.libelle("acteur de la gouvernance")


def test_import_help_lists_the_labels():
    (column,) = [c for c in SHEETS["Soutiens"] if c.name == "type_soutien"]
    for code in TYPES_SOUTIEN:
        assert types.libelle(code) in column.aide


def test_demo_file_is_the_default():
    assert DEMO_FILE.exists()


# -- shown as such: fiche, annuaire -------------------------------------------


def test_build_fiche_carries_the_marks(demo):
    from lib.analysis.fiche import build_fiche

    by = {p.id: p for p in demo}
    noms = {p.id: p.nom for p in demo}
    fiche = build_fiche(by["les-ecossolies"], noms=noms)
    assert fiche.deduit("annee_creation") and not fiche.deduit("commune")
    ((_, name, why),) = [d for d in fiche.deductions if d[0] == "annee_creation"]
    assert name == "année de création" and "2004" in why
    assert "Création (déduit)" in fiche.figures
    assert [(pid, nom) for pid, nom, _ in fiche.meme_pole] == [
        ("le-solilab", "Le Solilab")
    ]
    moulin = build_fiche(by["le-moulin-creatif"], noms=noms)
    marks = list(moulin.soutiens["Déduit"])
    assert all(m.startswith("déduit : ") for m in marks)
    assert "trois années" in marks[0]
    assert list(moulin.soutiens["Type de soutien"]) == [types.libelle("autre")] * 2


def test_directory_marks_inferred_values(demo, ref):
    from lib.analysis.fiche import directory_table
    from lib.domain.selection import build_frames

    frames = build_frames(demo, ref=ref)
    table = directory_table(frames.ptce)
    assert table.at["mieux-manger-en-mayenne", "Valeurs déduites"] == (
        "déduit : département"
    )
    assert table.at["ptce-du-pays-du-mans", "Valeurs déduites"] == ""
    assert table.at["le-moulin-creatif", "Valeurs déduites"] == "déduit : soutiens"
    assert table.at["le-solilab", "Même pôle probable que"] == "Les Écossolies"
    mine = table[["Valeurs déduites", "Même pôle probable que"]]
    assert not mine.isna().any().any()


def test_annuaire_fiche_shows_deduit_with_its_reasoning(
    built_cache, tmp_path, monkeypatch
):
    from streamlit.testing.v1 import AppTest

    from lib.io.demo import install_demo

    url = f"sqlite:///{tmp_path / 'certitude.sqlite'}"
    install_demo(Store(url))
    monkeypatch.setenv("DATABASE_URL", url)
    script = (
        "from views.filters import filters_sidebar\n"
        "from views import annuaire\n"
        "filters_sidebar()\n"
        "annuaire.render()\n"
    )
    at = AppTest.from_string(script, default_timeout=60)
    at.query_params["ptce"] = "les-ecossolies"
    at.run()
    assert not at.exception
    assert "Valeurs déduites" in [s.value for s in at.subheader]
    text = " ".join(m.value for m in at.markdown)
    assert "**année de création** — déduit : Les sources divergent" in text
    assert "2004" in text and "2006" in text
    warnings = " ".join(w.value for w in at.warning)
    assert "Même pôle probable que « Le Solilab »" in warnings
    assert "gardées séparées" in warnings
    assert "Création (déduit)" in [m.label for m in at.metric]
    soutiens = [d.value for d in at.dataframe if "Type de soutien" in d.value.columns]
    assert "Déduit" in soutiens[0].columns


def test_sidebar_filter_shows_labels_and_definitions(
    built_cache, tmp_path, monkeypatch
):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'f.sqlite'}")
    at = AppTest.from_string(
        "from views.filters import filters_sidebar\nfilters_sidebar()\n",
        default_timeout=60,
    )
    at.run()
    assert not at.exception
    (widget,) = [m for m in at.sidebar.multiselect if m.label == "Types de soutien"]
    assert list(widget.options) == [types.libelle(t) for t in TYPES_SOUTIEN]
    for code in TYPES_SOUTIEN:
        assert types.definition(code) in widget.help
    # Choosing a label filters on the stored code.
    widget.select(types.libelle("commande publique")).run()
    assert not at.exception
    assert at.sidebar.multiselect(key=widget.key).value == ["commande publique"]


def test_map_tooltips_mark_inferred_values(demo, ref):
    from geo.lookup import commune_points
    from lib.analysis.layers import supports
    from lib.domain.selection import build_frames
    from lib.rendering.web.maps import marker_rows

    frames = build_frames(demo, commune_points(), ref)
    rows = {row[6]: row for row in marker_rows(frames.ptce)}
    assert rows["mieux-manger-en-mayenne"][7] == "Valeurs déduites : département"
    assert rows["ptce-du-pays-du-mans"][7] == ""
    assert "même pôle probable" in rows["le-solilab"][7]
    _polys, links = supports(frames)
    details = {
        link["label"]: link["details"]
        for link in links
        if link["ptce"] == "le-moulin-creatif"
    }
    region = next(d for label, d in details.items() if "(région)" in label)
    assert region[0] == f"Soutien : {types.libelle('autre')}"
    assert region[-1].startswith(
        "Déduit : La source dit que le Moulin Créatif a démarré"
    )
    assert "2015 à 2017" in region[-1]


def test_edit_form_keeps_the_marks(store):
    from lib.io.editing import form_data, plan_form

    saved = store.save(_sample(), "alice")
    form = form_data(saved)
    assert form.ptce["deductions"].startswith("département : ")
    assert form.soutiens[0]["deduit"].startswith("La source dit")
    plan = plan_form(form, store)
    assert plan.ok and [r.id for r in plan.unchanged] == ["exemple"]


def test_statistiques_chart_gives_each_definition(ref):
    from lib.analysis import stats
    from lib.domain.selection import build_frames
    from lib.io.synthetic import generate
    from lib.rendering import charts

    table = stats.soutiens_type_niveau(build_frames(generate(50, seed=3, ref=ref)))
    spec = charts.soutiens_type_niveau(table).to_dict()
    values = next(iter(spec["datasets"].values()))
    got = {v["Type de soutien"]: v["Définition"] for v in values}
    assert got == {types.libelle(t): types.definition(t) for t in TYPES_SOUTIEN}


def test_a_file_without_the_mark_columns_keeps_stored_marks(store):
    record = _sample()
    store.save(record, "alice")
    # An export made before the columns existed: same values, no marks.
    ptce = to_csv([record], "PTCE").decode("utf-8-sig").splitlines()
    soutiens = to_csv([record], "Soutiens").decode("utf-8-sig").splitlines()

    def drop(lines, names):
        rows = list(csv.reader(lines, delimiter=";"))
        keep = [i for i, h in enumerate(rows[0]) if h not in names]
        out = io.StringIO()
        csv.writer(out, delimiter=";").writerows([[r[i] for i in keep] for r in rows])
        return out.getvalue().encode()

    old_ptce = drop(ptce, {"deductions", "meme_pole_que"})
    old_soutiens = drop(soutiens, {"deduit"})
    plan = import_files([("p.csv", old_ptce), ("s.csv", old_soutiens)], store, "t")
    assert not plan.problems, [p.message for p in plan.problems]
    assert store.get("exemple").content() == record.content()
    # A file that has the columns, left empty, removes the marks.
    empty = to_csv([replace(record, deductions={}, meme_pole_que=())], "PTCE")
    plan = import_files([("p.csv", empty)], store, "t")
    assert not plan.problems
    assert store.get("exemple").deductions == {}
    assert store.get("exemple").soutiens[0].deduit  # no Soutiens file: kept
