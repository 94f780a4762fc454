"""The committed COG 2026 extract and its regeneration from the npm tarball."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tarfile

import pytest

from geo.reference import REFERENCE_DIR, extract, load_reference, normalise_code
from tests.conftest import ROOT

PACKAGE_DATA = {
    "communes": [
        {
            "code": "44003",
            "nom": "Ancenis-Saint-Géréon",
            "departement": "44",
            "region": "52",
            "type": "commune-actuelle",
            "zone": "metro",
            "population": 11600,
            "codesPostaux": ["44150"],
            "anciensCodes": ["44160"],
        },
        {
            "code": "75056",
            "nom": "Paris",
            "departement": "75",
            "region": "11",
            "type": "commune-actuelle",
            "zone": "metro",
            "population": 2103778,
            "codesPostaux": ["75001"],
        },
        {
            "code": "75101",
            "nom": "Paris 1er Arrondissement",
            "type": "arrondissement-municipal",
            "commune": "75056",
            "departement": "75",
            "region": "11",
        },
    ],
    "epci": [
        {
            "code": "244400552",
            "nom": "CC du Pays d'Ancenis",
            "type": "CC",
            "populationMunicipale": 70000,
            "membres": [{"code": "44003"}],
        }
    ],
    "departements": [
        {
            "code": "44",
            "nom": "Loire-Atlantique",
            "region": "52",
            "chefLieu": "44109",
            "zone": "metro",
        },
        {
            "code": "75",
            "nom": "Paris",
            "region": "11",
            "chefLieu": "75056",
            "zone": "metro",
        },
    ],
    "regions": [
        {"code": "52", "nom": "Pays de la Loire", "chefLieu": "44109", "zone": "metro"},
        {"code": "11", "nom": "Île-de-France", "chefLieu": "75056", "zone": "metro"},
    ],
}


def _tarball(path, version="6.0.0"):
    with tarfile.open(path, "w:gz") as tar:
        files = {"package/package.json": {"version": version}}
        files.update({f"package/data/{k}.json": v for k, v in PACKAGE_DATA.items()})
        for name, content in files.items():
            data = json.dumps(content).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_extract_from_tarball(tmp_path):
    out = extract(_tarball(tmp_path / "pkg.tgz"), tmp_path / "ref")
    ref = load_reference(out)
    assert set(ref.communes) == {"44003", "75056"}
    assert ref.communes["44003"].epci == "244400552"
    assert ref.communes["75056"].epci is None
    assert ref.epci["244400552"].membres == ("44003",)
    assert ref.current_code("44160") == "44003"
    assert ref.current_code("75101") == "75056"
    source = (out / "SOURCE.md").read_text()
    assert "@etalab/decoupage-administratif@6.0.0" in source
    assert "Licence Ouverte" in source
    assert re.search(r"sha256: `[0-9a-f]{64}`", source)


def test_extract_refuses_another_version(tmp_path):
    with pytest.raises(ValueError, match=r"6\.0\.0"):
        extract(_tarball(tmp_path / "pkg.tgz", "5.3.0"), tmp_path / "ref")


def test_committed_extract_counts(ref):
    assert len(ref.communes) == 34_969
    assert len(ref.epci) == 1_255
    zones = [d for d in ref.departements.values() if d.zone in ("metro", "drom")]
    assert len(zones) == 101
    assert len([r for r in ref.regions.values() if r.zone != "com"]) == 18
    assert {e.type for e in ref.epci.values()} == {"CC", "CA", "CU", "METRO", "MET69"}
    assert sum(len(e.membres) for e in ref.epci.values()) >= 34_860
    assert ref.communes["44003"].codes_postaux == ("44150",)
    assert ref.epci["244400552"].type_label == "Communauté de communes"


def test_committed_extract_matches_its_source_file():
    source = (REFERENCE_DIR / "SOURCE.md").read_text()
    for name in ("communes", "epci", "departements", "regions"):
        rows = (REFERENCE_DIR / f"{name}.csv").read_text().count("\n") - 1
        assert f"| `{name}.csv` | {rows} |" in source


@pytest.mark.parametrize(
    ("typed", "code"), [(" 2a004 ", "2A004"), ("1001", "01001"), ("44003", "44003")]
)
def test_normalise_code(typed, code):
    assert normalise_code(typed) == code


def test_cli_status_prints_json(built_cache):
    proc = subprocess.run(
        [sys.executable, "-m", "geo", "status"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(proc.stdout)
    assert report["levels"]["region"]["features"] == 18
    assert report["communes_sans_contour"]["count"] == len(
        report["communes_sans_contour"]["codes"]
    )
    sizes = report["levels"]["epci"]["geojson_bytes"]
    assert set(sizes) == {"france", "pays_de_la_loire"}
    assert sizes["pays_de_la_loire"]["regional"] > 0
