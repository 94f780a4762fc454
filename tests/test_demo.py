"""Demo dataset: sourced facts only, valid codes, safe and idempotent loading."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lib.domain.model import (
    CATEGORIES_MEMBRE,
    CHAMPS_DEDUITS,
    FILIERES,
    FORMES_JURIDIQUES,
    NIVEAUX,
    ROLES_MEMBRE,
    STADES,
    TYPES_AMI,
    TYPES_SOUTIEN,
    Ptce,
    fold,
    slugify,
    to_dict,
)
from lib.io.demo import DEMO_FILE, ensure_demo, install_demo, load_demo_file
from lib.store.ptce import Store

ROOT = Path(__file__).resolve().parent.parent
FACT_SHEET = ROOT.parent / "shared" / "data" / "ptce-faits-sources.md"
#: Pages read with the search tools whose URL is not in the shared fact sheet:
#: each with its title, date read and the excerpts quoted for each value.
PAGES_LUES = ROOT / "data" / "demo" / "pages-lues.json"
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


#: The pages read that name laureates of the 2023 AMI (Mediatico, Labo de l'ESS).
_AMI_2023_PAGES = (
    "erreur-systeme.fr/actualite/olivia-gregoire-annonce-la-labellisation",
    "lelabo-ess.org/Laur%C3%A9ats-PTCE-2023-",
)


def _funded(records, year: int) -> list:
    key = ("financé", year)
    return [r for r in records if any((a.type, a.annee) == key for a in r.ami)]


def test_ami_laureates(demo):
    records, _ = demo
    funded = _funded(records, 2021)
    phase1 = [r for r in records if any(a.type == "lauréat phase 1" for a in r.ami)]
    occitanie = [
        r for r in phase1 if any("cressoccitanie" in (s.url or "") for s in r.sources)
    ]
    assert len(funded) == 15
    assert len(occitanie) == 8
    assert {r.region for r in occitanie} == {"76"}
    assert "Tiers lieu ESS Level" in {r.nom for r in funded}
    assert all(r.ami and all(a.annee == 2021 for a in r.ami) for r in funded + phase1)


def test_ami_2023_laureates_are_those_named_in_the_pages_read(demo, register):
    records, faits = demo
    funded = {r.id for r in _funded(records, 2023)}
    (official,) = [
        f.valeur for f in faits if "PTCE financés" in f.sujet and f.annee == 2023
    ]
    named = {
        x["ptce"]
        for page in register["pages"]
        if any(key in page["url"] for key in _AMI_2023_PAGES)
        for x in page["extraits"]
        if "ami" in x["appuie"]
    }
    assert funded == named
    assert 13 <= len(funded) <= official == 15
    by = {r.id: r for r in records}
    assert by["les-grandlieu-zarts"].ami[0].annee == 2023
    assert {"tera", "la-californie", "labsport"} <= funded


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


def test_every_url_comes_from_the_fact_sheet_or_the_pages_read(raw, register):
    if not FACT_SHEET.exists():
        pytest.skip(f"fiche des faits absente : {FACT_SHEET}")
    sheet = FACT_SHEET.read_text(encoding="utf-8")
    read = {page["url"] for page in register["pages"]}
    text = json.dumps(raw, ensure_ascii=False)
    urls = set(re.findall(r"https?://[^\s\"]+", text))
    assert urls
    for url in sorted(urls):
        assert url in sheet or url in read, url
    # The register only lists pages whose URL the shared sheet lacks.
    assert not {url for url in read if url in sheet}


# -- pages read with the search tools (data/demo/pages-lues.json) -------------


@pytest.fixture(scope="module")
def register() -> dict:
    return json.loads(PAGES_LUES.read_text(encoding="utf-8"))


def _norm(text: str) -> str:
    """Fold for matching quotes: no accents, case, hyphens or curly quotes."""
    text = str(text).replace("’", "'").replace("œ", "oe").replace("Œ", "Oe")
    return fold(text)


def _cited(record: Ptce) -> set[str]:
    urls = {s.url for s in record.sources}
    urls |= {s.source.url for s in record.soutiens if s.source}
    return {u for u in urls if u}


def _excerpts(register: dict) -> dict[str, list[tuple[dict, dict]]]:
    """PTCE identifier → (page, excerpt) pairs of the register."""
    found: dict[str, list[tuple[dict, dict]]] = {}
    for page in register["pages"]:
        for x in page["extraits"]:
            found.setdefault(x["ptce"], []).append((page, x))
    return found


#: Fields a register excerpt may support (« appuie »).
_SUPPORTED = set(to_dict(Ptce(id="x", nom="x"))) - {"id", "version", "sources"}


def test_register_pages_are_complete(register, demo):
    records, _ = demo
    by = {r.id: r for r in records}
    assert register["lu_le"] == "2026-12-02" and register["methode"].strip()
    urls = [page["url"] for page in register["pages"]]
    assert len(urls) == len(set(urls))
    for page in register["pages"]:
        assert page["url"].startswith(("http://", "https://")), page
        assert page["titre"].strip() and page["lu_le"] == "2026-12-02", page["url"]
        assert page["extraits"], page["url"]
        for x in page["extraits"]:
            assert x["ptce"] in by, (page["url"], x["ptce"])
            assert page["url"] in _cited(by[x["ptce"]]), (page["url"], x["ptce"])
            assert x["appuie"] and set(x["appuie"]) <= _SUPPORTED, x
            assert len(x["texte"].strip()) > 20, x


def test_each_excerpt_names_its_ptce(register, demo):
    records, _ = demo
    by = {r.id: r for r in records}
    for page in register["pages"]:
        for x in page["extraits"]:
            name, lu = _norm(by[x["ptce"]].nom), _norm(x["nom_lu"])
            assert len(lu) >= 4, x
            # The name as the page writes it is in the quote (or the title)…
            assert lu in _norm(page["titre"] + " " + x["texte"]), (page["url"], lu)
            # …and it is the PTCE's name, or part of it, or contains it.
            assert lu in name or name in lu, (page["url"], lu, name)


def test_every_page_read_backs_the_ptce_that_cite_it(register, demo):
    records, _ = demo
    read = {page["url"] for page in register["pages"]}
    excerpts = _excerpts(register)
    cited = set()
    for r in records:
        for url in _cited(r) & read:
            cited.add(url)
            assert any(p["url"] == url for p, _ in excerpts.get(r.id, [])), (r.nom, url)
        for s in r.soutiens:
            if s.source and s.source.url in read:
                assert any(
                    p["url"] == s.source.url and "soutiens" in x["appuie"]
                    for p, x in excerpts[r.id]
                ), (r.nom, s.source.url)
    assert cited == read  # no page listed that no record uses


def _place_names(record: Ptce, champ: str, ref) -> list[str]:
    if champ == "commune":
        return [ref.communes[record.commune].nom]
    if champ == "departement":
        return [ref.departements[record.departement].nom, f"({record.departement})"]
    return [ref.regions[record.region].nom]


def test_values_of_ptce_read_in_pages_are_quoted(register, demo, ref):
    """Every value of a PTCE sourced only by pages read is quoted, or « déduit »."""
    records, _ = demo
    read = {page["url"] for page in register["pages"]}
    excerpts = _excerpts(register)
    checked = 0
    for r in records:
        urls = {s.url for s in r.sources}
        if not urls or not urls <= read:
            continue
        checked += 1
        quotes = excerpts[r.id]
        backed = {champ for _, x in quotes for champ in x["appuie"]}
        if "commune" in backed:
            backed |= {"departement", "region"}
        if "departement" in backed:
            backed.add("region")
        for champ, value in r.content().items():
            if champ in {"id", "origine", "sources", "description", "deductions"}:
                continue
            if value in (None, [], (), {}):
                continue
            assert champ in backed or champ in r.deductions, (r.nom, champ, value)
        # The most precise place read is written in a quote that backs it.
        places = [
            c
            for c in ("commune", "departement", "region")
            if getattr(r, c) and c not in r.deductions
        ]
        if places:
            champ = places[0]
            texts = [
                _norm(p["titre"] + " " + x["texte"])
                for p, x in quotes
                if champ in x["appuie"]
            ]
            names = [_norm(n) for n in _place_names(r, champ, ref)]
            assert any(n in t for n in names for t in texts), (r.nom, champ, names)
        if r.annee_creation and "annee_creation" not in r.deductions:
            assert any(
                str(r.annee_creation) in x["texte"]
                for _, x in quotes
                if "annee_creation" in x["appuie"]
            ), r.nom
        for m in r.membres:
            assert any(
                _norm(m.nom) in _norm(x["texte"])
                for _, x in quotes
                if "membres" in x["appuie"]
            ), (r.nom, m.nom)
        assert set(r.deductions) <= set(CHAMPS_DEDUITS), r.nom
    assert checked >= 20


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
