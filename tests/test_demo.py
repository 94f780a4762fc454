"""Demo dataset: sourced facts only, valid codes, safe and idempotent loading."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lib.demo import DEMO_FILE, ensure_demo, install_demo, load_demo_file
from lib.model import (
    CATEGORIES_MEMBRE,
    FILIERES,
    FORMES_JURIDIQUES,
    NIVEAUX,
    ROLES_MEMBRE,
    STADES,
    TYPES_AMI,
    TYPES_SOUTIEN,
    Ptce,
    slugify,
    to_dict,
)
from lib.store import Store

ROOT = Path(__file__).resolve().parent.parent
FACT_SHEET = ROOT.parent / "shared" / "data" / "ptce-faits-sources.md"
SEED_LABEL = "RTES/CRESS PdL, Points de RepèrESS n°10, mars 2025"
SEED_PTCE = (
    "Le Moulin Créatif",
    "FIBRES 49",
    "PTCE du Pays du Mans",
    "PTCE Lab Sport",
    "Les Grandlieu'Zarts",
    "Cultivons les Cailloux",
)


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(DEMO_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo():
    return load_demo_file()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 't.sqlite'}")


def _by_name(raw: dict) -> dict[str, dict]:
    return {p["nom"]: p for p in raw["ptce"]}


def test_file_is_labelled_as_demo(raw):
    assert "démonstration" in raw["libelle"]
    assert raw["avertissement"].strip()
    assert raw["ptce"] and raw["faits"]


def test_records_have_the_model_shape(raw):
    expected = set(to_dict(Ptce(id="x", nom="x"))) - {"version"}
    for item in raw["ptce"]:
        assert set(item) == expected, item["nom"]


def test_every_ptce_is_demo_and_sourced(demo):
    records, _ = demo
    ids = [r.id for r in records]
    assert len(ids) == len(set(ids))
    for r in records:
        assert r.origine == "démonstration", r.nom
        assert r.id == slugify(r.nom), r.nom
        assert r.sources, r.nom
        assert all(s.libelle.strip() for s in r.sources), r.nom
        for s in r.soutiens:
            assert s.source is not None and s.source.libelle.strip(), r.nom


def test_vocabularies(demo):
    records, _ = demo
    for r in records:
        assert set(r.filieres) <= set(FILIERES), r.nom
        assert r.stade is None or r.stade in STADES
        assert r.forme_juridique is None or r.forme_juridique in FORMES_JURIDIQUES
        for a in r.ami:
            assert a.type in TYPES_AMI and isinstance(a.annee, int)
        for m in r.membres:
            assert m.role in ROLES_MEMBRE
            assert m.categorie is None or m.categorie in CATEGORIES_MEMBRE
        for s in r.soutiens:
            assert s.niveau in NIVEAUX and s.type in TYPES_SOUTIEN
            assert s.phase is None or s.phase in STADES


def test_codes_exist_in_the_cog(demo, ref):
    records, _ = demo
    tables = {
        "region": ref.regions,
        "departement": ref.departements,
        "epci": ref.epci,
        "commune": ref.communes,
    }
    for r in records:
        assert r.region is None or r.region in ref.regions, r.nom
        assert r.departement is None or r.departement in ref.departements, r.nom
        assert r.commune is None or r.commune in ref.communes, r.nom
        for code in r.territoire:
            assert code in ref.communes or code in ref.epci, (r.nom, code)
        for s in r.soutiens:
            assert s.code in tables[s.niveau], (r.nom, s.niveau, s.code)


def test_places_are_consistent(demo, ref):
    records, _ = demo
    for r in records:
        if r.commune:
            commune = ref.communes[r.commune]
            assert r.departement == commune.departement, r.nom
            assert r.region == commune.region, r.nom
        if r.departement:
            assert r.region == ref.departements[r.departement].region, r.nom


def test_seed_ptce_present_with_the_seed_source(raw):
    names = _by_name(raw)
    for name in SEED_PTCE:
        assert name in names
        labels = [s["libelle"] for s in names[name]["sources"]]
        assert SEED_LABEL in labels, name
        seed = next(s for s in names[name]["sources"] if s["libelle"] == SEED_LABEL)
        assert seed["url"] is None


def test_known_supports(raw):
    names = _by_name(raw)
    kinds = {
        (s["niveau"], s["code"], s["type"]) for p in raw["ptce"] for s in p["soutiens"]
    }
    operating = "financement du fonctionnement / de l'animation"
    assert ("departement", "44", operating) in kinds
    assert ("commune", "44003", "investissement") in kinds
    assert ("epci", "247200132", "repérage et mise en lien") in kinds
    assert ("epci", "244400404", "accès au foncier et aux locaux") in kinds
    assert names["Cultivons les Cailloux"]["commune"] == "44003"
    assert names["Le Solilab"]["commune"] == "44109"


def test_ami_laureates(demo):
    records, _ = demo
    funded = [r for r in records if any(a.type == "financé" for a in r.ami)]
    phase1 = [r for r in records if any(a.type == "lauréat phase 1" for a in r.ami)]
    assert len(funded) == 15
    assert len(phase1) == 8
    assert {r.region for r in phase1} == {"76"}
    assert "Tiers lieu ESS Level" in {r.nom for r in funded}
    assert all(r.ami and all(a.annee == 2021 for a in r.ami) for r in funded + phase1)


def test_both_sides_of_the_disagreement(demo):
    _, faits = demo
    values = {(f.sujet, f.valeur, f.source.libelle) for f in faits}
    phase1 = {v for s, v, _ in values if "lauréats de la phase 1" in s}
    funded = {v for s, v, _ in values if "PTCE financés" in s}
    assert {147, 107} <= phase1
    assert {31, 15} <= funded
    for f in faits:
        if f.valeur in (147, 107, 31) and f.unite == "PTCE":
            assert f.note and "divergent" in f.note, f.libelle
    assert any(f.source.libelle == SEED_LABEL and f.valeur == 147 for f in faits)
    sujets = {f.sujet for f in faits}
    assert {"dispositifs régionaux", "club des collectivités"} <= sujets


def test_every_url_comes_from_the_fact_sheet(raw):
    if not FACT_SHEET.exists():
        pytest.skip(f"fiche des faits absente : {FACT_SHEET}")
    sheet = FACT_SHEET.read_text(encoding="utf-8")
    text = json.dumps(raw, ensure_ascii=False)
    urls = set(re.findall(r"https?://[^\s\"]+", text))
    assert urls
    for url in sorted(urls):
        assert url in sheet, url


def test_install_is_complete_and_idempotent(store, raw):
    assert install_demo(store) == len(raw["ptce"])
    first = {p.id: p.version for p in store.load()}
    assert install_demo(store) == 0
    assert {p.id: p.version for p in store.load()} == first
    assert len(store.faits()) == len(raw["faits"])
    stored = {p.id: p.content() for p in store.load()}
    assert stored == {item["id"]: item for item in raw["ptce"]}


def test_install_never_overwrites_user_data(store, raw):
    item = raw["ptce"][0]
    mine = Ptce(id=item["id"], nom="Ma fiche", origine="saisie")
    store.save(mine, "analyste")
    assert install_demo(store) == len(raw["ptce"]) - 1
    kept = store.get(item["id"])
    assert kept.nom == "Ma fiche" and kept.origine == "saisie" and kept.version == 1


def test_ensure_demo_only_on_an_empty_database(store, tmp_path, raw):
    assert ensure_demo(store) == len(raw["ptce"])
    assert ensure_demo(store) == 0
    other = Store(f"sqlite:///{tmp_path / 'u.sqlite'}")
    other.save(Ptce(id="a", nom="A"), "analyste")
    assert ensure_demo(other) == 0
    assert other.count() == 1
    assert other.faits() == []
