"""Import (validation, encodings, places, all-or-nothing) and export round trips."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.io import importer
from lib.io.exporter import (
    neutralise,
    template_csv,
    template_xlsx,
    to_csv,
    to_geojson,
    to_xlsx,
)
from lib.io.importer import import_files
from lib.io.synthetic import generate
from lib.store.ptce import Store
from tests.conftest import ROOT

HEADER = "identifiant;nom;commune;departement;filieres;annee_creation;sources"
GOOD = [
    "cailloux;Cultivons les Cailloux;44003;;culture;2019;RTES/CRESS <https://www.rtes.fr/les-ptce>",
    "lab-sport;PTCE Lab Sport;;Loire-Atlantique;sport et santé;;",
]


@pytest.fixture
def store(database_url) -> Store:
    """An empty store on SQLite, then on PostgreSQL (``backend`` fixture)."""
    return Store(database_url)


def _csv(lines, sep=";", encoding="utf-8", bom=False) -> bytes:
    text = "\r\n".join(line.replace(";", sep) if sep != ";" else line for line in lines)
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def _dump(store: Store) -> list[dict]:
    return [p.content() | {"version": p.version} for p in store.load()]


# -- validation ---------------------------------------------------------------

BAD_CELLS = [
    ("nom", "", "obligatoire"),
    ("commune", "99999", "code commune inconnu"),
    ("commune", "Saint-Denis", "communes portent ce nom"),
    ("commune", "Nulle-Part-sur-Rien", "commune introuvable"),
    ("departement", "Atlantide", "département inconnu"),
    ("region", "Narnia", "région inconnue"),
    ("territoire", "CC de Nulle Part", "EPCI inconnu"),
    ("filieres", "astrologie", "filière inconnue"),
    ("stade", "maturité", "valeur inconnue"),
    ("forme_juridique", "SARL", "valeur inconnue"),
    ("annee_creation", "deux mille", "nombre entier attendu"),
    ("annee_creation", "1850", "entre 1900 et 2100"),
    ("nb_membres", "-3", "entre 0 et"),
    ("charte_signee", "peut-être", "oui ou non"),
    ("ami", "2021 gagné", "forme attendue"),
    ("site_web", "www.exemple", "adresse web"),
    ("latitude", "91", "entre -90 et 90"),
    ("sources", "Rapport <ftp://x>", "http"),
    ("origine", "inventé", "valeur inconnue"),
]


@pytest.mark.parametrize(("column", "value", "message"), BAD_CELLS)
def test_each_error_kind_reported_with_line_and_column(store, column, value, message):
    names = [
        "nom",
        "description",
        "commune",
        "departement",
        "region",
        "territoire",
        "filieres",
        "stade",
        "forme_juridique",
        "annee_creation",
        "nb_membres",
        "charte_signee",
        "ami",
        "site_web",
        "latitude",
        "longitude",
        "sources",
        "origine",
    ]
    header = ";".join(names)
    row = {
        "nom": "PTCE test",
        "description": "ligne à tester",
        "longitude": "0" if column == "latitude" else "",
    }
    row[column] = value
    good = "PTCE sans faute;44003" + ";" * (len(names) - 2)
    bad = ";".join(row.get(n, "") for n in names)
    plan = import_files([("f.csv", _csv([header, good, bad]))], store, "test")
    assert not plan.ok
    found = [p for p in plan.problems if p.colonne == column]
    assert found, plan.summary()
    assert found[0].ligne == 3
    assert message in found[0].message
    assert store.count() == 0  # the good row was not written either


def test_missing_required_column(store):
    plan = import_files([("f.csv", _csv(["commune", "44003"]))], store, "t")
    assert plan.problems[0].colonne == "nom"
    assert "colonne obligatoire" in plan.problems[0].message


def test_failed_import_leaves_database_unchanged(store):
    import_files([("a.csv", _csv([HEADER, *GOOD]))], store, "t")
    before = _dump(store)
    changed = GOOD[0].replace("Cultivons les Cailloux", "Nouveau nom")
    plan = import_files(
        [("b.csv", _csv([HEADER, changed, "x;PTCE X;99999;;;;"]))], store, "t"
    )
    assert not plan.ok
    assert _dump(store) == before
    assert [h["version"] for h in store.history("cailloux")] == [1]


def test_unknown_ptce_in_children_sheet(store):
    data = _csv(["identifiant_ptce;nom;role", "inconnu;Structure;porteur"])
    plan = import_files([("m.csv", data)], store, "t")
    assert "aucun PTCE" in plan.problems[0].message
    assert plan.problems[0].ligne == 2


def test_refuses_too_large_and_too_many_rows(store, monkeypatch):
    monkeypatch.setattr(importer, "MAX_BYTES", 100)
    plan = import_files([("big.csv", b"nom\n" + b"x\n" * 100)], store, "t")
    assert "la limite est" in plan.problems[0].message
    monkeypatch.setattr(importer, "MAX_BYTES", 10**6)
    monkeypatch.setattr(importer, "MAX_ROWS", 5)
    plan = import_files([("many.csv", b"nom\n" + b"x\n" * 10)], store, "t")
    assert "lignes" in plan.problems[0].message


def test_unknown_format_refused(store):
    plan = import_files([("image.png", b"\x89PNG....")], store, "t")
    assert "Format non reconnu" in plan.problems[0].message


# -- encodings and formats ----------------------------------------------------


def test_same_content_in_all_encodings_and_xlsx(new_database_url):
    lines = [
        HEADER,
        *GOOD,
        "montaigu;Le Moulin Créatif;Montaigu-Vendée;85;culture;2015;",
    ]
    variants = {
        "cp1252.csv": _csv(lines, ";", "cp1252"),
        "bom.csv": _csv([line.replace(";", ",") for line in lines], ",", "utf-8", True),
    }
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "PTCE"
    for line in lines:
        ws.append(line.split(";"))
    buf = io.BytesIO()
    book.save(buf)
    variants["classeur.xlsx"] = buf.getvalue()
    dumps = []
    for name, data in variants.items():
        store = Store(new_database_url())
        plan = import_files([(name, data)], store, "t")
        assert plan.ok, plan.summary()
        dumps.append([p.content() for p in store.load()])
    assert dumps[0] == dumps[1] == dumps[2]
    assert dumps[0][2]["nom"] == "Le Moulin Créatif"
    assert dumps[0][2]["commune"] == "85146"


def test_tolerant_column_names_and_places(store):
    data = _csv(
        [
            "Nom du PTCE;Code postal;Siège;Département;Filière;Territoire d'action",
            "A;44150;Ancenis-Saint-Géréon;;Culture;CC du Pays d'Ancenis",
            "B;;saint nazaire;44;économie circulaire et déchets;44184 | 44003",
            "C;;;Vendée;;",
        ]
    )
    plan = import_files([("f.csv", data)], store, "t")
    assert plan.ok, plan.summary()
    by_name = {p.nom: p for p in store.load()}
    assert by_name["A"].commune == "44003"
    assert by_name["A"].territoire == ("244400552",)
    assert by_name["A"].filieres == ("culture",)
    assert by_name["B"].commune == "44184"
    assert by_name["B"].region == "52"
    assert by_name["C"].departement == "85" and by_name["C"].commune is None


def test_dry_run_previews_and_writes_nothing(store):
    plan = import_files([("f.csv", _csv([HEADER, *GOOD]))], store, "t", dry_run=True)
    assert plan.summary()["created"] == 2
    assert store.count() == 0


def test_reimport_same_file_changes_nothing(store):
    data = _csv([HEADER, *GOOD])
    assert import_files([("f.csv", data)], store, "t").summary()["created"] == 2
    before = _dump(store)
    again = import_files([("f.csv", data)], store, "t").summary()
    assert again == {"created": 0, "updated": 0, "unchanged": 2, "errors": []}
    assert _dump(store) == before


def test_rows_without_identifier_match_by_name(store):
    data = _csv(["nom;departement", "PTCE Sans Id;44"])
    import_files([("f.csv", data)], store, "t")
    again = import_files([("f.csv", data)], store, "t")
    assert again.summary()["unchanged"] == 1
    assert store.ids() == ["ptce-sans-id"]


# -- export -------------------------------------------------------------------

XSS = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("x")'


def test_xss_and_formulas_stored_verbatim_and_exported_neutralised(store):
    data = _csv(
        [
            "identifiant;nom;description",
            f'x;{XSS};"{FORMULA.replace(chr(34), chr(34) * 2)}"',
        ]
    )
    assert import_files([("f.csv", data)], store, "t").ok
    stored = store.get("x")
    assert stored.nom == XSS
    assert stored.description == FORMULA
    exported = to_csv(store.load())
    assert exported.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig")), delimiter=";"))
    description = rows[1][rows[0].index("description")]
    assert description == "'" + FORMULA
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(store.load())))
    cell = book["PTCE"].cell(row=2, column=3)
    assert cell.value == FORMULA and cell.data_type == "s"
    # And back: the protection is removed on import, nothing changes.
    assert import_files([("e.csv", exported)], store, "t").summary()["unchanged"] == 1


@pytest.mark.parametrize("text", ["=1+1", "+33", "-2", "@SUM(A1)", "\tx", "ok", ""])
def test_neutralise(text):
    protected = neutralise(text)
    assert protected == ("'" + text if text[:1] in ("=", "+", "-", "@", "\t") else text)


def _export_all(records, fmt):
    if fmt == "csv":
        return [
            (f"{s}.csv", to_csv(records, s)) for s in ("PTCE", "Membres", "Soutiens")
        ]
    if fmt == "xlsx":
        return [("export.xlsx", to_xlsx(records))]
    return [("export.geojson", to_geojson(records))]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson"])
def test_round_trip_1000_synthetic(new_database_url, fmt):
    records = generate(1000, seed=7)
    source = Store(new_database_url())
    source.create_many(records, "gen")
    target = Store(new_database_url())
    plan = import_files(_export_all(source.load(), fmt), target, "t")
    assert plan.ok, plan.summary()["errors"][:3]
    assert [p.content() for p in target.load()] == [p.content() for p in source.load()]
    again = import_files(_export_all(target.load(), fmt), target, "t")
    assert again.summary()["unchanged"] == 1000


def test_geojson_export_points(store):
    import_files([("f.csv", _csv([HEADER, *GOOD]))], store, "t")
    doc = json.loads(to_geojson(store.load(), {"44003": (-1.17, 47.37)}))
    features = {f["properties"]["identifiant"]: f for f in doc["features"]}
    assert features["cailloux"]["geometry"]["coordinates"] == [-1.17, 47.37]
    assert features["lab-sport"]["geometry"] is None


def test_templates_import_cleanly(store, new_database_url):
    assert import_files([("modele.xlsx", template_xlsx())], store, "t").ok
    store2 = Store(new_database_url())
    assert import_files([("modele.csv", template_csv())], store2, "t").ok


# -- property-based: the CSV importer never crashes ---------------------------

cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    headers=st.lists(
        st.sampled_from(
            [
                "nom",
                "commune",
                "departement",
                "filieres",
                "annee_creation",
                "latitude",
                "longitude",
                "ami",
                "sources",
                "territoire",
                "identifiant",
                "charte_signee",
                "x",
            ]
        )
        | cells,
        min_size=1,
        max_size=6,
    ),
    rows=st.lists(st.lists(cells, max_size=7), max_size=5),
    sep=st.sampled_from([";", ",", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
)
def test_csv_importer_never_crashes(store, headers, rows, sep, encoding):
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep)
    writer.writerow(headers)
    writer.writerows(rows)
    data = buf.getvalue().encode(encoding, errors="replace")
    plan = import_files([("fuzz.csv", data)], store, "fuzz", dry_run=True)
    assert isinstance(plan.problems, list)
    for problem in plan.problems:
        assert problem.message


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(store, data):
    for name in ("x.csv", "x.xlsx", "x.geojson"):
        plan = import_files([(name, data)], store, "fuzz", dry_run=True)
        assert plan.ok or plan.problems


# -- command line -------------------------------------------------------------


def _cli(*args, env_db):
    return subprocess.run(
        [sys.executable, "-m", "lib.io.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "DATABASE_URL": env_db},
    )


def test_cli_import_reports_json_last_line(tmp_path, database_url):
    db = database_url
    good = tmp_path / "bon.csv"
    good.write_bytes(_csv([HEADER, *GOOD]))
    bad = tmp_path / "mauvais.csv"
    bad.write_bytes(_csv([HEADER, "x;;99999;;;;"]))
    proc = _cli("import", str(bad), env_db=db)
    assert proc.returncode == 1
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["created"] == 0
    assert {e["colonne"] for e in summary["errors"]} == {"nom", "commune"}
    proc = _cli("import", str(good), "--dry-run", env_db=db)
    assert json.loads(proc.stdout.splitlines()[-1])["created"] == 2
    proc = _cli("import", str(good), env_db=db)
    assert proc.returncode == 0
    proc = _cli("export", "--format", "csv", env_db=db)
    assert "Cultivons les Cailloux" in proc.stdout
    proc = _cli("history", "cailloux", env_db=db)
    assert json.loads(proc.stdout.splitlines()[0])["action"] == "création"
    renamed = tmp_path / "renomme.csv"
    renamed.write_bytes(_csv([HEADER, GOOD[0].replace("Cultivons", "Cultivez")]))
    assert _cli("import", str(renamed), env_db=db).returncode == 0
    proc = _cli("restore", "cailloux", "1", "--par", "test", env_db=db)
    assert proc.returncode == 0, proc.stderr
    assert Store(db).get("cailloux").nom == "Cultivons les Cailloux"
    assert _cli("restore", "cailloux", "42", env_db=db).returncode == 1
    proc = _cli(
        "template", "--format", "xlsx", "-o", str(tmp_path / "m.xlsx"), env_db=db
    )
    assert proc.returncode == 0 and (tmp_path / "m.xlsx").stat().st_size > 0


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson"])
def test_round_trip_demo_data(new_database_url, fmt):
    from lib.io.demo import install_demo

    source = Store(new_database_url())
    assert install_demo(source) > 30
    target = Store(new_database_url())
    plan = import_files(_export_all(source.load(), fmt), target, "t")
    assert plan.ok, plan.summary()["errors"][:3]
    assert [p.content() for p in target.load()] == [p.content() for p in source.load()]
    assert all(p.origine == "démonstration" for p in target.load())
