"""Two editors at once: every write states the version its author saw.

A stale save, delete or move is refused with a French message and changes
nothing; récits have a history and can be restored like PTCE; restoring a
deleted PTCE continues its numbering and keeps its past intact.
"""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from lib.domain.model import Ptce
from lib.domain.recits import Recit, Vue
from lib.io.demo import install_demo
from lib.store.accounts import User
from lib.store.ptce import ConflictError, Store, recit
from lib.store.recits import (
    delete_recit,
    deleted_recits,
    load_recit,
    recit_history,
    restore_recit,
    save_recit,
)

ALICE = User("alice", "Alice", "éditeur")
BOB = User("bob", "Bob", "éditeur")


def _ptce(**changes) -> Ptce:
    return dataclasses.replace(
        Ptce(id="pole", nom="Pôle", commune="44109", departement="44", region="52"),
        **changes,
    )


def _story() -> Recit:
    return Recit(
        "club",
        "Club",
        (Vue("Alpha"), Vue("Beta", filtres={"dep": ["85"]}), Vue("Gamma")),
    )


# -- PTCE: delete and restore -------------------------------------------------


def test_restoring_a_deleted_ptce_continues_its_history(database_url):
    store = Store(database_url)
    store.save(_ptce(), "alice")
    v2 = store.save(_ptce(nom="Pôle renommé", version=1), "alice")
    store.delete("pole", "bob", v2.version)
    restored = store.restore("pole", 2, "carole")
    assert restored.version == 4 and restored.nom == "Pôle renommé"
    history = store.history("pole")
    assert [h["version"] for h in history] == [1, 2, 3, 4]
    assert [h["action"] for h in history] == [
        "création",
        "modification",
        "suppression",
        "restauration de la version 2",
    ]
    assert history[2]["apres"] is None  # nothing after the deletion
    assert history[-1]["apres"] == store.get("pole").content()
    # Saved again on top of the restored version: numbering goes on.
    assert store.save(dataclasses.replace(restored, nom="Encore"), "a").version == 5


def test_restoring_the_current_content_relabels_nothing(database_url):
    store = Store(database_url)
    store.save(_ptce(), "alice")
    store.save(_ptce(nom="Deux", version=1), "alice")
    store.restore("pole", 2, "alice")  # already the live content
    assert [h["action"] for h in store.history("pole")] == ["création", "modification"]


def test_recreating_a_deleted_id_by_import_continues_the_numbering(database_url):
    store = Store(database_url)
    store.save(_ptce(), "alice")
    store.delete("pole", "alice", 1)
    store.create_many([_ptce(nom="Recréé")], "import")
    assert [h["version"] for h in store.history("pole")] == [1, 2, 3]
    assert store.get("pole").version == 3


def test_a_stale_delete_is_refused(database_url):
    store = Store(database_url)
    seen = store.save(_ptce(), "alice")
    store.save(_ptce(nom="Par Bob", version=1), "bob")
    with pytest.raises(ConflictError, match="modifié"):
        store.delete("pole", "alice", seen.version)
    assert store.get("pole").nom == "Par Bob"


# -- récits: stale writes, history, restore -------------------------------------


def test_a_stale_vue_deletion_or_move_is_refused(database_url):
    store = Store(database_url)
    seen = save_recit(store, _story(), ALICE)  # Alice looks at vue 0, "Alpha"
    save_recit(store, seen.moved(0, 1), BOB)  # Bob moves it: Beta comes first
    for stale in (seen.without(0), seen.moved(0, 1), seen.with_vue(Vue("A2"), 0)):
        with pytest.raises(ConflictError, match="modifié entre-temps par Bob"):
            save_recit(store, stale, ALICE)
    assert [v.titre for v in load_recit(store, "club").vues] == [
        "Beta",
        "Alpha",
        "Gamma",
    ]
    with pytest.raises(ConflictError):
        delete_recit(store, "club", seen.version, ALICE)
    assert load_recit(store, "club").version == 2


def test_recits_have_a_history_and_can_be_restored(database_url):
    store = Store(database_url)
    first = save_recit(store, _story(), ALICE)
    second = save_recit(store, first.without(2), BOB)
    delete_recit(store, "club", second.version, ALICE)
    assert load_recit(store, "club") is None
    assert deleted_recits(store) == [("club", "Club", 2)]
    history = recit_history(store, "club")
    assert [(h["version"], h["action"], h["vues"]) for h in history] == [
        (1, "création", 3),
        (2, "modification", 2),
        (3, "suppression", None),
    ]
    restored = restore_recit(store, "club", 1, BOB)
    assert restored.version == 4 and len(restored.vues) == 3
    assert load_recit(store, "club") == restored
    assert recit_history(store, "club")[-1]["action"] == "restauration de la version 1"
    assert deleted_recits(store) == []


def test_existing_recits_enter_the_history_on_upgrade(tmp_path):
    from lib.store.ptce import make_engine, migrate

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    migrate(engine, target=6)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(recit).values(
                id="ancien",
                titre="Ancien",
                vues=[Vue("Une").to_dict()],
                version=3,
                modifie_le="2025-06-01T10:00:00+00:00",
                par="Alice (alice)",
            )
        )
    store = Store(engine=engine)
    (entry,) = recit_history(store, "ancien")
    assert entry["version"] == 3 and entry["vues"] == 1
    assert restore_recit(store, "ancien", 3, ALICE).version == 3  # unchanged


# -- the pages, two sessions ------------------------------------------------------


@pytest.fixture
def demo_store(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'races.sqlite'}"
    monkeypatch.setenv("DATABASE_URL", url)
    store = Store(url)
    install_demo(store)
    return store


def _signed_in(script: str, params: dict | None = None) -> AppTest:
    at = AppTest.from_string(script, default_timeout=60)
    at.session_state["_user"] = ALICE
    for key, value in (params or {}).items():
        at.query_params[key] = value
    return at.run()


PRESENTATION = "from views import presentation\npresentation.render()\n"


def _flash(at: AppTest) -> str:
    return " ".join(e.value for e in at.error)


def test_presentation_refuses_a_stale_vue_deletion(demo_store, built_cache):
    save_recit(demo_store, _story(), ALICE)
    at = _signed_in(PRESENTATION, {"recit": "club", "vue": "1"})
    assert not at.exception, at.exception
    seen = load_recit(demo_store, "club")
    save_recit(demo_store, seen.moved(0, 1), BOB)  # meanwhile, in Bob's session
    at.button(key="pres_del_vue").click().run()
    assert not at.exception, at.exception
    assert "modifié entre-temps par Bob" in _flash(at)
    titles = [v.titre for v in load_recit(demo_store, "club").vues]
    assert titles == ["Beta", "Alpha", "Gamma"]  # nothing deleted


def test_presentation_refuses_a_stale_vue_edit(demo_store, built_cache):
    save_recit(demo_store, _story(), ALICE)
    at = _signed_in(PRESENTATION, {"recit": "club", "vue": "1"})
    seen = load_recit(demo_store, "club")
    save_recit(demo_store, seen.with_vue(Vue("Alpha par Bob"), 0), BOB)
    title = next(t for t in at.text_input if t.label == "Titre")
    title.input("Alpha par Alice")
    submit = next(b for b in at.button if b.label == "Enregistrer la vue")
    submit.click().run()
    assert not at.exception, at.exception
    assert "modifié entre-temps par Bob" in _flash(at)
    stored = load_recit(demo_store, "club")
    assert stored.version == 2 and stored.vues[0].titre == "Alpha par Bob"


def test_presentation_applies_a_fresh_move_and_restores_a_deleted_recit(
    demo_store, built_cache
):
    save_recit(demo_store, _story(), ALICE)
    at = _signed_in(PRESENTATION, {"recit": "club", "vue": "1"})
    at.button(key="pres_down").click().run()
    assert not at.exception, at.exception
    assert [v.titre for v in load_recit(demo_store, "club").vues][:2] == [
        "Beta",
        "Alpha",
    ]
    assert not at.error
    at.button(key="pres_del").click().run()
    assert load_recit(demo_store, "club") is None
    at.button(key="pres_deleted_restore").click().run()
    assert not at.exception, at.exception
    restored = load_recit(demo_store, "club")
    assert restored is not None and restored.version == 4


DONNEES = "from views import donnees\ndonnees.render()\n"


def _open_ptce(ptce_id: str) -> AppTest:
    at = _signed_in(DONNEES)
    at.selectbox(key="donnees_ptce").set_value(ptce_id).run()
    assert not at.exception, at.exception
    return at


def test_donnees_refuses_a_stale_save_with_a_message(demo_store):
    seen = demo_store.get("le-moulin-creatif")
    at = _open_ptce(seen.id)
    demo_store.save(dataclasses.replace(seen, description="Par Bob"), "bob")
    field = next(t for t in at.text_input if t.label == "description")
    field.input("Par Alice")
    next(b for b in at.button if b.label == "Enregistrer").click().run()
    assert not at.exception, at.exception
    message = " ".join(e.value for e in [*at.error, *at.warning])
    assert "modifié" in message and "rechargez" in message.lower()
    # The refusal itself says why, in full (not a one-row table of None).
    assert any("modifié entre-temps" in e.value for e in at.error)
    assert not [d for d in at.dataframe if d.key is None]  # no problem table
    assert demo_store.get(seen.id).description == "Par Bob"
    # The form still holds Alice's text, not Bob's (nothing silently swapped).
    field = next(t for t in at.text_input if t.label == "description")
    assert field.value == "Par Alice"


def test_donnees_refuses_a_stale_delete(demo_store):
    seen = demo_store.get("le-moulin-creatif")
    at = _open_ptce(seen.id)
    demo_store.save(dataclasses.replace(seen, description="Par Bob"), "bob")
    at.checkbox(key=f"sur_{seen.id}").check().run()
    at.button(key=f"suppr_{seen.id}").click().run()
    assert not at.exception, at.exception
    assert any("modifié" in e.value for e in at.error)
    assert demo_store.get(seen.id).description == "Par Bob"
    # After reloading the fiche, the delete is based on the new version.
    at.button(key=f"recharger_{seen.id}").click().run()
    at.checkbox(key=f"sur_{seen.id}").check().run()
    at.button(key=f"suppr_{seen.id}").click().run()
    assert demo_store.get(seen.id) is None
