"""The store: schema migrations, optimistic concurrency, history, restore."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lib.model import Membre, Ptce, Source, Soutien
from lib.store import (
    SCHEMA_VERSION,
    ConflictError,
    NotFoundError,
    Store,
    make_engine,
    migrate,
    schema_version,
)


def make_ptce(variant: str = "simple", **changes) -> Ptce:
    """Deterministic PTCE records by name (the tests' fixture factory)."""
    base = {
        "simple": Ptce(
            id="cultivons-les-cailloux",
            nom="Cultivons les Cailloux",
            commune="44003",
            departement="44",
            region="52",
        ),
        "complet": Ptce(
            id="lab-sport",
            nom="PTCE Lab Sport",
            departement="44",
            region="52",
            filieres=("sport et santé",),
            membres=(Membre("Structure A", "association", "porteur"),),
            soutiens=(
                Soutien(
                    "departement",
                    "44",
                    "financement du fonctionnement / de l'animation",
                    dispositif="politique sportive",
                    source=Source("RTES/CRESS PdL", None),
                ),
            ),
            sources=(Source("RTES/CRESS PdL, Points de RepèrESS n°10, mars 2025"),),
        ),
        "xss": Ptce(
            id="xss",
            nom="<img src=x onerror=alert(1)>",
            description='=HYPERLINK("x")',
            departement="44",
            region="52",
        ),
    }[variant]
    return Ptce(**{**base.__dict__, **changes})


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'atlas.sqlite'}")


def test_sqlite_pragmas(store):
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert schema_version(conn) == SCHEMA_VERSION


def test_migration_from_v1_keeps_data(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    assert migrate(engine, target=1) == 1
    with engine.begin() as conn:
        assert not sa.inspect(conn).has_table("fait")
        conn.exec_driver_sql(
            "INSERT INTO ptce (id, nom, territoire, ami, sources, origine, version, "
            "modifie_le, modifie_par) VALUES ('a', 'Ancien', '[]', '[]', '[]', "
            "'saisie', 1, '2025-01-01', 'test')"
        )
    store = Store(engine=engine)
    with engine.connect() as conn:
        assert schema_version(conn) == SCHEMA_VERSION
        assert sa.inspect(conn).has_table("fait")
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("ptce")}
    assert "ix_ptce_departement" in indexes
    assert store.get("a").nom == "Ancien"
    assert migrate(engine) == SCHEMA_VERSION  # idempotent


def test_save_and_load_round_trip(store):
    saved = store.save(make_ptce("complet"), "alice")
    assert saved.version == 1
    loaded = store.get("lab-sport")
    assert loaded == saved
    assert loaded.soutiens[0].dispositif == "politique sportive"


def test_unchanged_save_keeps_version(store):
    saved = store.save(make_ptce(), "alice")
    again = store.save(saved, "bob")
    assert again.version == 1
    assert len(store.history(saved.id)) == 1


def test_conflicting_concurrent_save_is_refused(store):
    opened_by_alice = store.save(make_ptce(), "alice")
    opened_by_bob = store.get(opened_by_alice.id)
    store.save(Ptce(**{**opened_by_bob.__dict__, "nom": "Nom de Bob"}), "bob")
    with pytest.raises(ConflictError, match="modifié par bob"):
        store.save(Ptce(**{**opened_by_alice.__dict__, "nom": "Nom d'Alice"}), "alice")
    assert store.get(opened_by_alice.id).nom == "Nom de Bob"
    history = store.history(opened_by_alice.id)
    assert [h["version"] for h in history] == [1, 2]
    assert history[1]["avant"]["nom"] == "Cultivons les Cailloux"
    assert history[1]["apres"]["nom"] == "Nom de Bob"
    assert history[1]["par"] == "bob"


def test_creating_an_existing_id_is_refused(store):
    store.save(make_ptce(), "alice")
    with pytest.raises(ConflictError, match="existe déjà"):
        store.save(make_ptce(nom="Autre"), "bob")


def test_restore_brings_old_version_back(store):
    first = store.save(make_ptce("complet"), "alice")
    store.save(Ptce(**{**first.__dict__, "nom": "Renommé", "membres": ()}), "bob")
    restored = store.restore(first.id, 1, "carol")
    assert restored.version == 3
    assert restored.content() == first.content()
    last = store.history(first.id)[-1]
    assert last["action"] == "restauration de la version 1"
    assert last["par"] == "carol"
    with pytest.raises(NotFoundError):
        store.restore(first.id, 99, "carol")


def test_delete_keeps_history_and_can_be_restored(store):
    saved = store.save(make_ptce("complet"), "alice")
    store.delete(saved.id, "bob", expected_version=1)
    assert store.get(saved.id) is None
    with engine_rows(store) as rows:
        assert rows("membre") == 0  # children cascade with foreign keys on
    assert store.history(saved.id)[-1]["action"] == "suppression"
    restored = store.restore(saved.id, 1, "carol")
    assert restored.content() == saved.content()


def test_stale_delete_is_refused(store):
    saved = store.save(make_ptce(), "alice")
    store.save(Ptce(**{**saved.__dict__, "nom": "X"}), "bob")
    with pytest.raises(ConflictError):
        store.delete(saved.id, "alice", expected_version=1)


def test_xss_and_formula_strings_stored_verbatim(store):
    saved = store.save(make_ptce("xss"), "alice")
    loaded = store.get(saved.id)
    assert loaded.nom == "<img src=x onerror=alert(1)>"
    assert loaded.description == '=HYPERLINK("x")'


def test_filters_or_within_and_across(store):
    store.save(make_ptce("complet"), "a")
    store.save(make_ptce(filieres=("culture",)), "a")
    assert store.ids(filieres=["culture", "sport et santé"]) == [
        "cultivons-les-cailloux",
        "lab-sport",
    ]
    assert store.ids(departements=["44"], filieres=["culture"]) == [
        "cultivons-les-cailloux"
    ]
    assert store.ids(departements=["85"]) == []


def test_create_many_matches_save(store, tmp_path):
    other = Store(f"sqlite:///{tmp_path / 'other.sqlite'}")
    record = make_ptce("complet")
    store.create_many([record], "bulk")
    other.save(record, "bulk")
    assert store.get(record.id) == other.get(record.id)
    assert store.history(record.id)[0]["apres"] == other.history(record.id)[0]["apres"]


class engine_rows:
    """Count rows of a table (context manager for readability)."""

    def __init__(self, store):
        self.conn = store.engine.connect()

    def __enter__(self):
        return lambda table: self.conn.exec_driver_sql(
            f"SELECT count(*) FROM {table}"
        ).scalar()

    def __exit__(self, *exc):
        self.conn.close()
