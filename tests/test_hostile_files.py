"""Hostile import files: every one refused in French, at a bounded cost.

Each class of bad file is built here, in ``tmp_path``, and given to the
command line (``python -m lib.io.cli import FILE``) on a seeded SQLite
database: the import must exit with a non-zero code, print a French message
and no traceback, and leave the database dump identical. Bombs (XLSX
decompression, entities, declared dimension) must be answered within 5 s
and 300 Mo of peak memory, measured on the processes themselves.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from contextlib import closing
from pathlib import Path

import openpyxl
import pytest

from lib.domain.model import Ptce
from lib.io import reading
from lib.io.editing import FormData, form_data, plan_form
from lib.io.exporter import to_csv, to_geojson, to_xlsx
from lib.io.importer import Table, import_files, plan_import
from lib.io.reading import ImportRejected, Limits, read_bounded
from lib.store.ptce import Store
from tests.conftest import ROOT

SEED = "identifiant;nom;commune;description\r\npole-sud;Pôle Sud;44109;Le seul PTCE\r\n"

# -- the command line and the database ----------------------------------------


def _env(db: str, folder: Path) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": db,
        "PTCE_BACKUP_DIR": str(folder / "backups"),
        "PTCE_LOG_DIR": str(folder / "logs"),
    }


def _cli(db: str, folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lib.io.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(db, folder),
        timeout=300,
    )


def _dump(db: str) -> list[str]:
    with closing(sqlite3.connect(db.removeprefix("sqlite:///"))) as conn:
        return list(conn.iterdump())


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    """A database made by ``init``, holding one PTCE (« Pôle Sud », 44)."""
    folder = tmp_path_factory.mktemp("seed")
    db = f"sqlite:///{folder / 'atlas.sqlite'}"
    assert _cli(db, folder, "init").returncode == 0
    (folder / "seed.csv").write_text(SEED, encoding="utf-8")
    proc = _cli(db, folder, "import", str(folder / "seed.csv"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder / "atlas.sqlite"


@pytest.fixture
def db(seeded, tmp_path) -> str:
    """A fresh copy of the seeded database."""
    target = tmp_path / "atlas.sqlite"
    shutil.copy(seeded, target)
    return f"sqlite:///{target}"


def _refused(db: str, path: Path, *expected: str) -> str:
    """Import ``path``: refused, French, no traceback, database unchanged."""
    before = _dump(db)
    proc = _cli(db, path.parent, "import", str(path))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "Traceback" not in out
    assert "Import refusé" in out or out.startswith("Erreur : "), out
    for text in expected:
        assert text in out, out
    assert _dump(db) == before
    return out


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


# -- a row without identifiant never changes an existing PTCE -----------------


def test_cli_row_without_identifiant_does_not_rewrite_namesake(db, tmp_path):
    path = _write(
        tmp_path, "homonyme.csv", "nom;departement;description\nPôle Sud;44;Réécrit\n"
    )
    _refused(
        db, path, "même nom existe déjà", "« pole-sud »", "indiquez son identifiant"
    )


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'plan.sqlite'}")
    store.create_many(
        [
            Ptce(
                id="pole-sud",
                nom="Pôle Sud",
                commune="44109",
                departement="44",
                region="52",
            )
        ],
        "t",
    )
    return store


def _table(*rows: list[str], headers=("nom", "departement", "description")):
    return Table(
        "PTCE", "f.csv", list(headers), [(i, list(r)) for i, r in enumerate(rows, 2)]
    )


def test_plan_no_identifiant_clash_is_an_error_naming_the_existing(store):
    plan = plan_import([_table(["pole sud", "Loire-Atlantique", "autre"])], store)
    assert not plan.ok
    assert not (plan.created or plan.updated or plan.unchanged)
    (problem,) = plan.problems
    assert problem.ligne == 2 and problem.colonne == "identifiant"
    assert "identifiant « pole-sud »" in problem.message
    assert store.get("pole-sud").description is None


def test_plan_no_identifiant_same_content_is_unchanged(store):
    stored = store.get("pole-sud")
    plan = plan_import(
        [Table("PTCE", "f.csv", ["nom", "commune"], [(2, ["Pôle Sud", "44109"])])],
        store,
    )
    assert plan.ok and [p.id for p in plan.unchanged] == ["pole-sud"]
    assert store.get("pole-sud") == stored


def test_plan_no_identifiant_other_departement_creates(store):
    plan = plan_import([_table(["Pôle Sud", "85", "en Vendée"])], store)
    assert plan.ok, plan.problems
    assert [p.id for p in plan.created] == ["pole-sud-2"] and not plan.updated


def test_plan_with_identifiant_still_updates(store):
    table = Table(
        "PTCE",
        "f.csv",
        ["identifiant", "nom", "commune"],
        [(2, ["pole-sud", "PS", ""])],
    )
    plan = plan_import([table], store)
    assert plan.ok and [p.nom for p in plan.updated] == ["PS"]


def test_form_for_a_new_ptce_named_like_another_is_refused(store):
    ptce = {**form_data(None).ptce, "nom": "Pôle Sud", "commune": "44109"}
    form = FormData({**ptce, "description": "un autre"}, [], [])
    plan = plan_form(form, store)
    assert not plan.ok
    assert "même nom existe déjà" in plan.problems[0].message
    assert store.get("pole-sud").description is None


# -- encodings ------------------------------------------------------------------


def test_mixed_utf8_and_cp1252_lines_refused(db, tmp_path):
    data = (
        b"nom;departement\r\n"
        + "Pôle Un;44\r\n".encode()
        + "Pôle Deux;44\r\n".encode("cp1252")
    )
    path = _write(tmp_path, "melange.csv", data)
    _refused(db, path, "mélange deux encodages", "lignes 2 en UTF-8", "lignes 3")


def test_utf8_bom_with_cp1252_body_refused(db, tmp_path):
    data = b"\xef\xbb\xbfnom;departement\r\n" + "Pôle Trois;44\r\n".encode("cp1252")
    path = _write(tmp_path, "bom.csv", data)
    _refused(db, path, "s'annonce en UTF-8", "lignes 2")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_files_decoded(db, tmp_path, encoding):
    # "utf-16" and "utf-32" write a BOM; "-le" and "-be" do not.
    text = "identifiant;nom;departement\r\nseize;Pôle Seize;44\r\n"
    path = _write(tmp_path, "u16.csv", text.encode(encoding))
    proc = _cli(db, tmp_path, "import", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert Store(db).get("seize").nom == "Pôle Seize"


def test_doubled_bom_does_not_hide_identifiant(db, tmp_path):
    data = b"\xef\xbb\xbf" * 2 + "identifiant;nom;departement\r\nici;Là;44\r\n".encode()
    proc = _cli(db, tmp_path, "import", str(_write(tmp_path, "bom2.csv", data)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert Store(db).get("ici").nom == "Là"


def test_binary_with_nul_bytes_refused(db, tmp_path):
    path = _write(tmp_path, "binaire.csv", b"nom\r\n\x00\x01\x02\x03PTCE\x00\xff\xfe")
    _refused(db, path, "octets nuls")


# -- CSV structure --------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # A quote opened and never closed swallows every following row.
        (
            'nom;commune\r\n"PTCE A;44003\r\nPTCE B;44109\r\n',
            ["ligne 2", "jamais fermé"],
        ),
        # A stray quote closed much later: one cell holds whole rows.
        (
            'nom;commune;description\r\n"PTCE A;44003;x\r\nPTCE B;44109;y\r\n'
            'PTCE C;44109;z"\r\n',
            ["lignes entières", "ligne 2"],
        ),
        ('nom;commune\r\n"PTCE "A";44003\r\n', ["ligne 2", "guillemet mal placé"]),
        ("nom;commune\r\nPTCE A;44003;en trop;encore\r\n", ["2 cellule(s) de trop"]),
        ("nom;commune\r\nPTCE A;44003\r\nPTCE; B;44109\r\n", ["ligne 3", "de trop"]),
    ],
    ids=["quote-open-at-eof", "quote-closed-later", "quote-misplaced", "extra", "x3"],
)
def test_malformed_csv_refused_with_line(db, tmp_path, content, expected):
    _refused(db, _write(tmp_path, "f.csv", content), *expected)


def test_value_under_an_empty_header_refused(db, tmp_path):
    content = "nom;;commune\r\nPTCE;perdue ?;44109\r\n"
    _refused(db, _write(tmp_path, "trou.csv", content), "colonne sans en-tête")


def test_header_only_file_refused(db, tmp_path):
    _refused(db, _write(tmp_path, "entete.csv", "nom;commune\r\n"), "aucune ligne")
    book = openpyxl.Workbook()
    book.active.title = "PTCE"
    book.active.append(["nom", "commune"])
    buf = io.BytesIO()
    book.save(buf)
    _refused(db, _write(tmp_path, "entete.xlsx", buf.getvalue()), "aucune ligne")


def test_zip_named_csv_is_not_read_as_xlsx(db, tmp_path):
    path = _write(tmp_path, "classeur.csv", to_xlsx([Ptce(id="z", nom="Zip")]))
    _refused(db, path, "« classeur.csv » n'est pas un CSV", "XLSX renommé")


# -- GeoJSON: geography -----------------------------------------------------------


def _geojson(*features) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def _point(lon, lat, **props) -> dict:
    return {
        "type": "Feature",
        "properties": {"nom": "PTCE placé", **props},
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


@pytest.mark.parametrize(
    ("feature", "expected"),
    [
        (_point(47.218, -1.553, commune="44109"), ["inversées", "Échangez"]),
        (_point(47.218, -1.553), ["inversées"]),
        (_point(13.40, 52.52), ["hors de France"]),
        (_point(-1.553, 47.218, commune="97411"), ["pas en La Réunion"]),
        (
            {
                "type": "Feature",
                "properties": {"nom": "Multi"},
                "geometry": {"type": "MultiPoint", "coordinates": [[-1.5, 47.2]]},
            },
            ["MultiPoint", "non acceptée"],
        ),
    ],
    ids=["swapped-with-commune", "swapped", "berlin", "wrong-zone", "multipoint"],
)
def test_implausible_points_refused(db, tmp_path, feature, expected):
    _refused(db, _write(tmp_path, "points.geojson", _geojson(feature)), *expected)


def test_point_far_from_its_commune_refused(db, tmp_path, built_cache):
    # Strasbourg's position given for a PTCE of Nantes.
    feature = _point(7.75, 48.58, commune="44109")
    out = _refused(
        db, _write(tmp_path, "loin.geojson", _geojson(feature)), "km de Nantes"
    )
    assert "vérifiez les coordonnées ou la commune" in out


def test_point_inside_its_commune_accepted(db, tmp_path, built_cache):
    feature = _point(-1.553, 47.218, commune="44109", identifiant="nantais")
    path = _write(tmp_path, "ici.geojson", _geojson(feature))
    proc = _cli(db, tmp_path, "import", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert Store(db).get("nantais").latitude == 47.218


def test_csv_latitude_longitude_swapped_refused(db, tmp_path):
    content = "nom;commune;latitude;longitude\r\nPTCE;44109;-1,553;47,218\r\n"
    _refused(db, _write(tmp_path, "coords.csv", content), "inversées")


# -- GeoJSON: wrong types ---------------------------------------------------------

FC = '{"type": "FeatureCollection", "features": %s}'
BAD_GEOJSON = {
    "number-top": ("42", "n'est pas une FeatureCollection"),
    "list-top": ("[1, 2]", "n'est pas une FeatureCollection"),
    "features-number": (FC % "5", "doit être une liste"),
    "features-object": (FC % '{"a": 1}', "doit être une liste"),
    "feature-number": (FC % "[5]", "n'est pas un objet GeoJSON"),
    "properties-string": (
        FC % '[{"type": "Feature", "properties": "nom", "geometry": null}]',
        "« properties » doit être un objet",
    ),
    "geometry-list": (
        FC % '[{"type": "Feature", "properties": {"nom": "x"}, "geometry": [1, 2]}]',
        "la géométrie doit être un objet",
    ),
    "coordinates-integer": (
        FC % '[{"properties": {"nom": "x"}, "geometry": '
        '{"type": "Point", "coordinates": 5}}]',
        "coordonnées du point",
    ),
    "coordinates-strings": (
        FC % '[{"properties": {"nom": "x"}, "geometry": '
        '{"type": "Point", "coordinates": ["-1.5", "47.2"]}}]',
        "coordonnées du point",
    ),
    "membres-string": (
        FC % '[{"properties": {"nom": "x", "membres": "a, b"}, "geometry": null}]',
        "liste d'objets attendue",
    ),
    "soutiens-list-of-lists": (
        FC % '[{"properties": {"nom": "x", "soutiens": [[1]]}, "geometry": null}]',
        "liste d'objets attendue",
    ),
    "property-object": (
        FC % '[{"properties": {"nom": {"a": [1]}}, "geometry": null}]',
        "texte ou nombre attendu",
    ),
    "nan": (FC % '[{"properties": {"nom": NaN}, "geometry": null}]', "NaN"),
    "huge-integer": (FC % f'[{{"properties": {{"nom": {"9" * 5000}}}}}]', "démesuré"),
    "deep-nesting": ("[" * 100_000 + "]" * 100_000, "imbriqué trop profondément"),
    "not-json": ("{features: [}", "pas un JSON valide"),
}


@pytest.mark.parametrize("case", sorted(BAD_GEOJSON))
def test_geojson_of_wrong_types_refused(db, tmp_path, case):
    content, expected = BAD_GEOJSON[case]
    _refused(db, _write(tmp_path, f"{case}.geojson", content), expected)


# -- XLSX: bombs and formulas -----------------------------------------------------

DOCTYPE = (
    b'<!DOCTYPE x [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
)


def _xlsx(rows, title="PTCE") -> bytes:
    book = openpyxl.Workbook()
    book.active.title = title
    for row in rows:
        book.active.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _patched(data: bytes, parts: dict[str, bytes]) -> bytes:
    """Rewrite an XLSX with some parts replaced or added."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            if info.filename not in parts:
                dst.writestr(info.filename, src.read(info.filename))
        for name, content in parts.items():
            dst.writestr(name, content)
    return out.getvalue()


def _part(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name)


SHEET = "xl/worksheets/sheet1.xml"
GOOD_ROWS = [["identifiant", "nom", "commune"], ["bombe", "PTCE Bombe", "44109"]]


def _with_shared_strings(uncompressed: int) -> bytes:
    """A workbook whose cell B2 is a shared string, in a table this large."""
    data = _xlsx(GOOD_ROWS)
    sheet = _part(data, SHEET).replace(
        b'<c r="B2" t="inlineStr"><is><t>PTCE Bombe</t></is></c>',
        b'<c r="B2" t="s"><v>0</v></c>',
    )
    types = _part(data, "[Content_Types].xml").replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        b"</Types>",
    )
    item = b"<si><t>" + b"x" * 1000 + b"</t></si>"
    count = uncompressed // len(item)
    out = io.BytesIO(_patched(data, {SHEET: sheet, "[Content_Types].xml": types}))
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(
                b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
                b'main"><si><t>PTCE Bombe</t></si>'
            )
            for _ in range(count // 1000):
                part.write(item * 1000)
            part.write(b"</sst>")
    return out.getvalue()


_MEASURE = """
import json, resource, subprocess, sys, time
start = time.monotonic()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({
    "wall": time.monotonic() - start,
    "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "returncode": proc.returncode,
    "out": proc.stdout + proc.stderr,
}))
"""


def _measured(db: str, path: Path) -> dict:
    """Run the import in a process of its own: wall time and peak memory.

    The measuring process only waits: its children's peak (the command and
    the process reading the file) is the import's alone.
    """
    command = [sys.executable, "-m", "lib.io.cli", "import", str(path)]
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(db, path.parent),
        timeout=600,
    )
    return json.loads(proc.stdout)


BOMBS = {
    "doctype-sheet": (
        lambda: _patched(
            _xlsx(GOOD_ROWS),
            {
                SHEET: _part(_xlsx(GOOD_ROWS), SHEET).replace(
                    b"<worksheet", DOCTYPE + b"<worksheet", 1
                )
            },
        ),
        "déclaration XML interdite",
    ),
    "billion-laughs-workbook": (
        lambda: _patched(
            _xlsx(GOOD_ROWS),
            {
                "xl/workbook.xml": b'<?xml version="1.0"?>'
                + DOCTYPE
                + _part(_xlsx(GOOD_ROWS), "xl/workbook.xml")
            },
        ),
        "déclaration XML interdite",
    ),
    "utf16-part": (
        lambda: _patched(
            _xlsx(GOOD_ROWS),
            {SHEET: _part(_xlsx(GOOD_ROWS), SHEET).decode().encode("utf-16")},
        ),
        "déclaration XML interdite",
    ),
    "other-encoding": (
        lambda: _patched(
            _xlsx(GOOD_ROWS),
            {
                SHEET: b'<?xml version="1.0" encoding="cp037"?>'
                + _part(_xlsx(GOOD_ROWS), SHEET)
            },
        ),
        "déclaration XML interdite",
    ),
    "shared-strings-195mb": (lambda: _with_shared_strings(195 * 2**20), "décompressé"),
    "shared-strings-ratio": (
        lambda: _with_shared_strings(20 * 2**20),
        "compressé de façon anormale",
    ),
}


@pytest.mark.parametrize("case", sorted(BOMBS))
def test_xlsx_bombs_refused_fast_and_small(db, tmp_path, case):
    build, expected = BOMBS[case]
    path = _write(tmp_path, f"{case}.xlsx", build())
    before = _dump(db)
    result = _measured(db, path)
    assert result["returncode"] != 0, result["out"]
    assert "Traceback" not in result["out"]
    assert expected in result["out"], result["out"]
    assert result["wall"] <= 5, result
    assert result["peak_mb"] <= 300, result
    assert _dump(db) == before


def test_xlsx_declared_dimension_is_not_trusted(db, tmp_path):
    data = _xlsx(GOOD_ROWS)
    sheet = _part(data, SHEET)
    assert b'<dimension ref="A1:C2"' in sheet
    sheet = sheet.replace(b'ref="A1:C2"', b'ref="A1:XFD1048576"')
    path = _write(tmp_path, "dimension.xlsx", _patched(data, {SHEET: sheet}))
    assert path.stat().st_size < 10_000
    result = _measured(db, path)
    assert result["returncode"] == 0, result["out"]
    assert result["wall"] <= 5, result
    assert result["peak_mb"] <= 300, result
    assert Store(db).get("bombe").nom == "PTCE Bombe"


def test_xlsx_extra_cells_refused(db, tmp_path):
    rows = [["nom", "commune"], ["PTCE", "44109", None, "perdu ?"]]
    _refused(db, _write(tmp_path, "large.xlsx", _xlsx(rows)), "1 cellule(s) de trop")


def test_formula_without_cached_value_refused(db, tmp_path):
    rows = [["nom", "commune"], ['=CONCATENATE("PTCE ", "calculé")', "44109"]]
    path = _write(tmp_path, "formule.xlsx", _xlsx(rows))
    out = _refused(db, path, "formule sans valeur calculée", "remplacez la formule")
    assert "obligatoire" not in out


def test_formula_with_cached_value_is_read(db, tmp_path):
    data = _xlsx([["identifiant", "nom"], ["calc", "x"]])
    sheet = _part(data, SHEET).replace(
        b'<c r="B2" t="inlineStr"><is><t>x</t></is></c>',
        b'<c r="B2" t="str"><f>CONCATENATE("PTCE ","calcul")</f><v>PTCE calcul</v></c>',
    )
    path = _write(tmp_path, "calcule.xlsx", _patched(data, {SHEET: sheet}))
    proc = _cli(db, tmp_path, "import", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert Store(db).get("calc").nom == "PTCE calcul"


def test_formula_computing_an_empty_text_is_read(db, tmp_path):
    data = _xlsx([["identifiant", "nom", "description"], ["vide", "PTCE vide", "x"]])
    sheet = _part(data, SHEET).replace(
        b'<c r="C2" t="inlineStr"><is><t>x</t></is></c>',
        b'<c r="C2" t="str"><f>""</f><v></v></c>',
    )
    path = _write(tmp_path, "vide.xlsx", _patched(data, {SHEET: sheet}))
    proc = _cli(db, tmp_path, "import", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert Store(db).get("vide").description is None


def test_damaged_xlsx_refused(db, tmp_path):
    data = _xlsx(GOOD_ROWS)
    broken = _patched(data, {SHEET: _part(data, SHEET)[:-40]})
    _refused(db, _write(tmp_path, "casse.xlsx", broken), "endommagé")
    _refused(db, _write(tmp_path, "pas-zip.xlsx", b"PK\x03\x04" + b"x" * 100), "XLSX")


# -- control characters: cleaned on import, never break an export ---------------


def test_control_characters_removed_with_a_warning(db, tmp_path):
    content = "identifiant;nom;description\r\nctl;PTCE\x01 \x1bcontrôle;ligne\x0bA\r\n"
    proc = _cli(db, tmp_path, "import", str(_write(tmp_path, "ctl.csv", content)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "caractères de contrôle" in proc.stdout and "ligne 2" in proc.stdout
    stored = Store(db).get("ctl")
    assert stored.nom == "PTCE contrôle" and stored.description == "ligneA"
    out = tmp_path / "export.xlsx"
    proc = _cli(db, tmp_path, "export", "--format", "xlsx", "-o", str(out))
    assert proc.returncode == 0, proc.stderr


def test_exports_never_fail_on_stored_control_characters(db, tmp_path):
    bad = Ptce(id="sale", nom="Nom\x01\x02 sale\x1f", description="a\x00b\ud800c")
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx([bad])))
    assert book["PTCE"]["B2"].value == "Nom sale"
    assert book["PTCE"]["C2"].value == "ab\ufffdc"
    assert "\ufffd" in to_csv([bad]).decode("utf-8-sig")
    assert "\ufffd" in to_geojson([bad]).decode("utf-8")
    # Stored without the importer, then exported by the command line.
    store = Store(db)
    store.create_many([Ptce(id="brut", nom="Brut\x07\x1b")], "test")
    out = tmp_path / "tout.xlsx"
    proc = _cli(db, tmp_path, "export", "--format", "xlsx", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    names = [
        r[1] for r in openpyxl.load_workbook(out)["PTCE"].iter_rows(values_only=True)
    ]
    assert "Brut" in names


# -- the bounded reading process ---------------------------------------------------


def _children() -> set[int]:
    me = str(os.getpid())
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            found.add(int(stat.parent.name))
    return found


def test_reading_beyond_the_time_limit_is_killed_and_refused():
    before = _children()
    start = time.monotonic()
    with pytest.raises(ImportRejected, match="trop long à lire"):
        read_bounded(_xlsx(GOOD_ROWS), "lent.xlsx", Limits(timeout=0.05))
    assert time.monotonic() - start < 5
    assert _children() <= before  # the reading process is gone


def test_reading_beyond_the_memory_limit_is_refused():
    # Python alone takes about 20 Mo: this file cannot be read within 24 Mo.
    with pytest.raises(ImportRejected, match="plus de 24 Mo de mémoire"):
        read_bounded(_xlsx(GOOD_ROWS), "gros.xlsx", Limits(memory=24 * 2**20))


def test_large_csv_read_in_bounded_process_same_result(monkeypatch):
    lines = ["identifiant;nom;commune"] + [f"p{i};PTCE {i};44109" for i in range(20)]
    data = ("\r\n".join(lines) + "\r\n").encode()
    here = read_bounded(data, "f.csv")
    there = read_bounded(data, "f.csv", Limits(in_process=10))
    assert here == there and len(there[0].rows) == 20


def test_small_xlsx_read_quickly():
    start = time.monotonic()
    tables = read_bounded(_xlsx(GOOD_ROWS), "petit.xlsx")
    assert time.monotonic() - start < 3
    assert tables[0].rows == [(2, ["bombe", "PTCE Bombe", "44109"])]


def test_import_files_reports_every_refused_file(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'x.sqlite'}")
    plan = import_files(
        [("a.csv", b"nom\r\n"), ("b.txt", b"\x00\x00\x00\x01"), ("c.pdf", b"%PDF")],
        store,
        "t",
    )
    messages = [p.message for p in plan.problems]
    assert len(messages) == 3, messages
    assert "aucune ligne" in messages[0] and "octets nuls" in messages[1]
    assert "Format non reconnu" in messages[2]
    assert reading.DEFAULT_LIMITS.max_uncompressed <= 50 * 2**20
