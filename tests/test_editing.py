"""Forms with the importer's validation, the write guard, the Données page."""

from __future__ import annotations

import dataclasses

import pytest
from streamlit.testing.v1 import AppTest

from lib.io.demo import install_demo
from lib.io.editing import (
    FormData,
    delete_ptce,
    form_data,
    import_upload,
    restore_version,
    save_form,
)
from lib.store.accounts import User, WriteRefused, create_account, operator
from lib.store.backups import list_backups
from lib.store.ptce import Store

XSS = "<img src=x onerror=alert(1)>"
PASSWORD = "correct horse battery"
EDITOR = User("alice", "Alice", "éditeur")
READER = User("bob", "Bob", "lecteur")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("PTCE_BCRYPT_ROUNDS", "4")
    url = f"sqlite:///{tmp_path / 'edit.sqlite'}"
    monkeypatch.setenv("DATABASE_URL", url)
    store = Store(url)
    install_demo(store)
    return store


def _changed(form: FormData, **ptce) -> FormData:
    return dataclasses.replace(form, ptce={**form.ptce, **ptce})


def test_an_unchanged_form_changes_nothing(store):
    record = store.get("le-moulin-creatif")
    plan = save_form(form_data(record), store, EDITOR)
    assert plan.ok and plan.unchanged and not plan.updated
    assert store.get("le-moulin-creatif").version == record.version


@pytest.mark.parametrize("who", [None, READER, "alice", {"role": "éditeur"}])
def test_writes_without_an_editor_are_refused_in_lib(store, who):
    record = store.get("le-moulin-creatif")
    form = _changed(form_data(record), nom="Autre nom")
    with pytest.raises(WriteRefused):
        save_form(form, store, who)
    with pytest.raises(WriteRefused):
        delete_ptce(store, record.id, record.version, who)
    with pytest.raises(WriteRefused):
        restore_version(store, record.id, 1, who)
    with pytest.raises(WriteRefused):
        import_upload([("x.csv", b"nom\nX\n")], store, who, dry_run=False)
    assert store.get("le-moulin-creatif") == record


def test_form_uses_the_importers_validation(store):
    record = store.get("le-moulin-creatif")
    form = _changed(form_data(record), annee_creation="vers 2015", commune="99999")
    plan = save_form(form, store, EDITOR)
    assert not plan.ok
    assert {p.colonne for p in plan.problems} == {"annee_creation", "commune"}
    bad_support = dataclasses.replace(
        form_data(record),
        soutiens=[{**form_data(record).soutiens[0], "montant": "beaucoup"}],
    )
    plan = save_form(bad_support, store, EDITOR)
    assert [p.colonne for p in plan.problems] == ["montant"]
    assert store.get("le-moulin-creatif") == record


def test_concurrent_edits_are_refused(store):
    record = store.get("le-moulin-creatif")
    first = _changed(form_data(record), nom="Par Alice")
    second = _changed(form_data(record), nom="Par Carole")
    assert save_form(first, store, EDITOR).ok
    plan = save_form(second, store, EDITOR)
    assert not plan.ok and "modifié entre-temps" in plan.problems[0].message
    assert store.get("le-moulin-creatif").nom == "Par Alice"


def test_create_edit_delete_restore(store):
    new = _changed(form_data(None), nom=XSS, commune="44109")
    plan = save_form(new, store, EDITOR)
    assert plan.ok, plan.problems
    (created,) = plan.created
    assert store.get(created.id).nom == XSS  # text is stored as it is typed
    again = save_form(new, store, EDITOR)  # same identifier as new: refused
    assert not again.ok and "déjà celui" in again.problems[0].message
    stored = store.get(created.id)
    delete_ptce(store, stored.id, stored.version, EDITOR)
    assert store.get(created.id) is None
    restored = restore_version(store, created.id, 1, EDITOR)
    assert restored.nom == XSS
    assert store.history(created.id)[0]["par"] == "Alice (alice)"


def test_import_wizard_names_are_harmless_and_a_backup_is_taken(store, tmp_path):
    data = "nom;commune\nPTCE importé;44109\n".encode()
    name = "../../../../etc/passwd.csv"
    plan = import_upload([(name, data)], store, EDITOR, dry_run=True)
    assert plan.ok and len(plan.created) == 1
    assert not list_backups(url=str(store.engine.url))
    done = import_upload([(name, data)], store, EDITOR, dry_run=False)
    assert done.ok and store.get(done.created[0].id).nom == "PTCE importé"
    assert len(list_backups(url=str(store.engine.url))) == 1
    assert not (tmp_path / "etc").exists()


# -- page -------------------------------------------------------------------------

SCRIPT = "from views import donnees\ndonnees.render()\n"


def test_page_asks_to_sign_in_and_opens_for_an_editor(store):
    create_account(store, "alice", "Alice", PASSWORD, "éditeur", operator())
    create_account(store, "bob", "Bob", PASSWORD, "lecteur", operator())
    at = AppTest.from_string(SCRIPT, default_timeout=60).run()
    assert not at.exception, at.exception
    assert not at.tabs and "compte éditeur" in at.info[0].value
    at.text_input[0].input("bob")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.tabs and "lecture seulement" in at.warning[0].value
    at.text_input[0].input("alice")
    at.text_input[1].input("mauvais")
    at.button[0].click().run()
    assert "incorrect" in at.error[0].value and not at.tabs
    at.text_input[0].input("alice")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert [t.label for t in at.tabs] == [
        "Modifier", "Ajouter", "Importer", "Historique", "Comptes",
    ]  # fmt: skip


def test_problem_rows_are_french_text_without_none():
    from lib.domain.model import Problem
    from lib.io.editing import PROBLEM_COLUMNS, problem_rows

    rows = problem_rows(
        [
            Problem("nom obligatoire", colonne="nom", ligne=1234, feuille="PTCE"),
            Problem("Le formulaire est vide."),
        ]
    )
    assert [tuple(r) for r in rows] == [PROBLEM_COLUMNS] * 2
    assert rows[0]["Ligne"] == "1\u202f234" and rows[0]["Colonne"] == "nom"
    assert all(v is not None and v != "None" for r in rows for v in r.values())
    assert rows[1] == dict.fromkeys(PROBLEM_COLUMNS[:-1], "") | {
        "Problème": "Le formulaire est vide."
    }
