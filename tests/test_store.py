"""The store: schema migrations, optimistic concurrency, history, restore."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from lib.domain.model import Membre, Ptce, Source, Soutien
from lib.store.ptce import (
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
def store(database_url) -> Store:
    """An empty store on SQLite, then on PostgreSQL (``backend`` fixture)."""
    return Store(database_url)


def test_sqlite_pragmas(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'atlas.sqlite'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert schema_version(conn) == SCHEMA_VERSION


def test_postgresql_gets_no_sqlite_pragmas(postgres_url):
    store = Store(postgres_url)
    with store.engine.connect() as conn:
        assert conn.dialect.name == "postgresql"
        assert schema_version(conn) == SCHEMA_VERSION


def test_migration_from_v1_keeps_data(database_url):
    engine = make_engine(database_url)
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


def test_create_many_matches_save(store, new_database_url):
    other = Store(new_database_url())
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


# -- every backend alike, several processes on one database ---------------------


def test_long_texts_are_stored_whole(store):
    long = make_ptce(
        nom="N" * 400,
        site_web="https://exemple.fr/?" + "q" * 600,
        sources=(Source("S" * 700, "https://exemple.fr/" + "u" * 600),),
    )
    saved = store.save(long, "x" * 150)
    assert store.get(long.id) == saved
    assert saved.nom == "N" * 400
    for version in range(1, 12):  # "restauration de la version 11" fits
        store.save(Ptce(**{**saved.__dict__, "nom": f"v{version}"}), "a")
        saved = store.get(long.id)
    restored = store.restore(long.id, 11, "carol")
    assert store.history(long.id)[-1]["action"] == "restauration de la version 11"
    assert restored.nom == "v10"


def test_ids_are_sorted_by_code_points(store):
    ids = ["é", "b", "ab", "a-c", "B", "a"]
    store.create_many([make_ptce(id=i, nom=i) for i in ids], "bulk")
    assert store.ids() == sorted(ids)
    assert [p.id for p in store.load()] == sorted(ids)


def test_two_stores_share_one_database(database_url):
    alice_app, bob_app = Store(database_url), Store(database_url)
    token = bob_app.data_version()
    opened_by_alice = alice_app.save(make_ptce(), "alice")
    assert bob_app.data_version() != token
    opened_by_bob = bob_app.get(opened_by_alice.id)
    assert opened_by_bob == opened_by_alice
    bob_app.save(Ptce(**{**opened_by_bob.__dict__, "nom": "Nom de Bob"}), "bob")
    assert alice_app.get(opened_by_alice.id).nom == "Nom de Bob"
    with pytest.raises(ConflictError, match="modifié par bob"):
        alice_app.save(
            Ptce(**{**opened_by_alice.__dict__, "nom": "Nom d'Alice"}), "alice"
        )
    with pytest.raises(ConflictError, match="existe déjà"):
        bob_app.save(make_ptce(nom="Autre"), "bob")
    assert [h["par"] for h in alice_app.history(opened_by_alice.id)] == [
        "alice",
        "bob",
    ]
    token = alice_app.data_version()
    bob_app.delete(opened_by_alice.id, "bob", expected_version=2)
    assert alice_app.get(opened_by_alice.id) is None
    assert alice_app.data_version() != token


def _wait_for_a_lock_wait(url: str) -> None:
    """Return once a session of the database waits for a lock (PostgreSQL)."""
    engine = make_engine(url)
    deadline = time.monotonic() + 30
    try:
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                waiting = conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                    "current_database() AND wait_event_type = 'Lock'"
                ).scalar()
                conn.rollback()  # a fresh snapshot of the activity next time
                if waiting:
                    return
                time.sleep(0.01)
        raise AssertionError("the second session never waited for the first one")
    finally:
        engine.dispose()


def test_simultaneous_updates_the_second_is_refused(postgres_url):
    alice_app, bob_app = Store(postgres_url), Store(postgres_url)
    first = alice_app.save(make_ptce(), "alice")
    with ThreadPoolExecutor(1) as pool, alice_app.engine.begin() as conn:
        # Alice's save is written, not committed yet: her row is locked.
        alice_app.save(
            Ptce(**{**first.__dict__, "nom": "Nom d'Alice"}), "alice", conn=conn
        )
        # Bob read version 1 too; his UPDATE … WHERE version = 1 must wait.
        bob = pool.submit(
            bob_app.save, Ptce(**{**first.__dict__, "nom": "Nom de Bob"}), "bob"
        )
        _wait_for_a_lock_wait(postgres_url)
    with pytest.raises(ConflictError, match="modifié par alice"):
        bob.result(timeout=30)
    assert bob_app.get(first.id).nom == "Nom d'Alice"
    assert [h["par"] for h in bob_app.history(first.id)] == ["alice", "alice"]


def test_simultaneous_creations_the_second_is_refused(postgres_url):
    alice_app, bob_app = Store(postgres_url), Store(postgres_url)
    with ThreadPoolExecutor(1) as pool, alice_app.engine.begin() as conn:
        alice_app.save(make_ptce(), "alice", conn=conn)
        bob = pool.submit(bob_app.save, make_ptce(nom="Autre"), "bob")
        _wait_for_a_lock_wait(postgres_url)
    with pytest.raises(ConflictError, match="existe déjà"):
        bob.result(timeout=30)
    assert bob_app.get("cultivons-les-cailloux").nom == "Cultivons les Cailloux"
    assert bob_app.count() == 1


def test_app_processes_starting_together_migrate_once(postgres_url):
    engines = [make_engine(postgres_url) for _ in range(4)]
    start = threading.Barrier(len(engines))

    def start_app(engine):
        start.wait()
        return migrate(engine)

    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            reached = list(pool.map(start_app, engines))
        assert reached == [SCHEMA_VERSION] * len(engines)
        with engines[0].connect() as conn:
            assert schema_version(conn) == SCHEMA_VERSION
    finally:
        for engine in engines:
            engine.dispose()


def test_data_version_changes_with_every_write_only(database_url):
    store = Store(database_url)
    seen = [store.data_version()]
    record = store.save(make_ptce(), "a")
    seen.append(store.data_version())
    store.load(), store.ids(), store.history(record.id)  # reads change nothing
    assert store.data_version() == seen[-1]
    store.save(Ptce(**{**record.__dict__, "nom": "Autre"}), "a")
    seen.append(store.data_version())
    store.create_many([make_ptce(id="b", nom="B")], "a")
    seen.append(store.data_version())
    store.delete("b", "a", expected_version=1)
    seen.append(store.data_version())
    assert len(set(seen)) == len(seen)
