"""Presentation mode: récits (storage, default récit from sourced facts), page."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lib.domain.recits import (
    DEFAULT_ID,
    Recit,
    Vue,
    default_recit,
    divergences,
    figures_of,
    new_id,
    vue_link,
)
from lib.domain.selection import build_frames
from lib.store.accounts import User, WriteRefused
from lib.store.ptce import ConflictError, NotFoundError, Store
from lib.store.recits import delete_recit, list_recits, load_recit, save_recit

XSS = "<img src=x onerror=alert(1)>"
ALICE = User("alice", "Alice", "éditeur")
BOB = User("bob", "Bob", "admin")
READER = User("carole", "Carole", "lecteur")


@pytest.fixture
def demo_store(tmp_path, monkeypatch):
    from lib.io.demo import install_demo

    url = f"sqlite:///{tmp_path / 'pres.sqlite'}"
    store = Store(url)
    install_demo(store)
    monkeypatch.setenv("DATABASE_URL", url)
    return store


def _story(**changes) -> Recit:
    base = Recit(
        "mon-recit",
        "Mon récit",
        (
            Vue("Pays de la Loire", "Texte", filtres={}),
            Vue("Vendée", filtres={"dep": ["85"]}, maille="epci"),
            Vue("Chiffres", genre="chiffres", sujets=("PTCE recensés",)),
        ),
    )
    return Recit(**{**base.__dict__, **changes})


# -- default récit --------------------------------------------------------------


def test_default_recit_is_built_from_sourced_facts(demo_store):
    ids = {p.id for p in demo_store.load()}
    story = default_recit(ids)
    titles = [v.titre for v in story.vues]
    assert story.id == DEFAULT_ID and len(titles) == len(set(titles)) == 11
    assert [v.genre for v in story.vues][:2] == ["chiffres", "carte"]
    # One vue per experience of the seed document, its PTCE highlighted.
    experiences = [v for v in story.vues if v.titre.startswith("Expérience")]
    assert len(experiences) == 6
    assert all(v.surligner and set(v.surligner) <= ids for v in experiences)
    assert {"matrice", "soutenir"} <= {v.genre for v in story.vues}
    # National figures whose sources disagree: both values and the note.
    figures = figures_of(demo_store.faits(), story.vues[0].sujets)
    values = {f.valeur for f in figures if "phase 1" in f.libelle}
    assert {147, 107} <= values
    assert any("divergent" in note for note in divergences(figures))


def test_default_recit_leaves_out_missing_experiences():
    story = default_recit({"fibres-49"})
    experiences = [v for v in story.vues if v.titre.startswith("Expérience")]
    assert [v.surligner for v in experiences] == [("fibres-49",)]


def test_expected_ptce_per_vue(demo_store, built_cache):
    from geo.lookup import commune_points

    frames = build_frames(demo_store.load(), commune_points())
    story = default_recit(frames.ptce["id"])
    counts = [len(frames.filtered(v.filters()).ptce) for v in story.vues]
    in_pdl = int((frames.ptce["region"] == "52").sum())
    assert counts[1] == in_pdl > 0
    assert counts[0] == len(frames.ptce)  # France entière
    vendee = next(v for v in story.vues if v.filtres == {"dep": ["85"]})
    assert len(frames.filtered(vendee.filters()).ptce) == int(
        (frames.ptce["departement"] == "85").sum()
    )


# -- vues and récits --------------------------------------------------------------


def test_vue_round_trip_and_invalid_values():
    vue = Vue("T", "x", filtres={"dep": ["44"]}, couches=("ptce",), surligner=("a",))
    assert Vue.from_dict(vue.to_dict()) == vue
    odd = Vue.from_dict({"titre": "", "genre": "eval", "couches": ["x", "ptce"]})
    assert (odd.titre, odd.genre, odd.couches) == ("Sans titre", "carte", ("ptce",))


def test_recit_edits():
    story = _story()
    assert [v.titre for v in story.moved(0, 1).vues][:2] == [
        "Vendée",
        "Pays de la Loire",
    ]
    assert [v.titre for v in story.moved(2, 5).vues][-1] == "Chiffres"
    assert len(story.without(1).vues) == 2
    added = story.with_vue(Vue("Nouvelle"))
    assert added.vues[-1].titre == "Nouvelle"
    assert story.with_vue(Vue("Remplacée"), 0).vues[0].titre == "Remplacée"
    assert vue_link("mon-recit", 1) == "./presentation?recit=mon-recit&vue=2"


def test_saved_recit_survives_a_restart(database_url):
    url = database_url
    saved = save_recit(Store(url), _story(), ALICE)
    assert saved.version == 1
    again = Store(url)  # a new engine, as after a restart of the app
    assert list_recits(again) == [("mon-recit", "Mon récit")]
    assert load_recit(again, "mon-recit") == saved


def test_concurrent_saves_are_refused(database_url):
    store = Store(database_url)
    first = save_recit(store, _story(), ALICE)
    save_recit(store, first.with_vue(Vue("Par A")), ALICE)
    with pytest.raises(ConflictError, match="modifié entre-temps"):
        save_recit(store, first.with_vue(Vue("Par B")), BOB)
    with pytest.raises(ConflictError):
        save_recit(store, _story(), BOB)  # same id, as new
    with pytest.raises(WriteRefused):
        save_recit(store, first, READER)
    with pytest.raises(WriteRefused):
        save_recit(store, first, "alice")
    with pytest.raises(ValueError, match="au moins une vue"):
        save_recit(store, _story(id="vide", vues=()), ALICE)
    with pytest.raises(WriteRefused):
        delete_recit(store, "mon-recit", 2, READER)
    with pytest.raises(ConflictError, match="modifié entre-temps"):
        delete_recit(store, "mon-recit", first.version, ALICE)  # stale
    delete_recit(store, "mon-recit", 2, ALICE)
    assert load_recit(store, "mon-recit") is None
    with pytest.raises(NotFoundError):
        delete_recit(store, "mon-recit", 2, ALICE)


def test_new_ids_are_free_slugs():
    assert new_id("Club des collectivités 2026", []) == "club-des-collectivites-2026"
    assert new_id("Défaut", []) != DEFAULT_ID
    assert new_id("A", ["a"]) == "a-2"
    assert new_id("../../etc/passwd", []) == "etc-passwd"


# -- page -----------------------------------------------------------------------

SCRIPT = "from views import presentation\npresentation.render()\n"


def _page(params: dict | None = None) -> AppTest:
    at = AppTest.from_string(SCRIPT, default_timeout=60)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    return at.run()


def _title(at: AppTest) -> str:
    return next(m.value for m in at.markdown if 'data-testid="pres-title"' in m.value)


def test_page_steps_through_the_default_recit(demo_store, built_cache):
    at = _page()
    assert not at.exception, at.exception
    first = default_recit({p.id for p in demo_store.load()})
    assert first.vues[0].titre in _title(at)
    at.button(key="pres_next").click().run()
    assert not at.exception, at.exception
    assert first.vues[1].titre in _title(at)
    assert at.query_params["vue"] in ("2", ["2"])
    assert at.button(key="pres_prev").disabled is False
    # Every vue renders, to the last one.
    for _ in range(len(first.vues) - 2):
        at.button(key="pres_next").click().run()
        assert not at.exception, at.exception
    assert first.vues[-1].titre in _title(at)
    assert at.button(key="pres_next").disabled is True
    # The vue and the whole récit can be downloaded (made on demand).
    labels = [b.label for b in at.button if b.label.startswith("Préparer")]
    assert len(labels) == 2


def test_vue_link_reopens_a_saved_recit(demo_store, built_cache):
    story = _story(vues=(*_story().vues, Vue(XSS, XSS, filtres={"dep": ["44"]})))
    save_recit(demo_store, story, ALICE)
    at = _page({"recit": "mon-recit", "vue": "4"})
    assert not at.exception, at.exception
    title = _title(at)
    assert "&lt;img src=x" in title and XSS not in title
    at = _page({"recit": "mon-recit", "vue": "2"})
    assert "Vendée" in _title(at)
    counter = next(
        m.value for m in at.markdown if 'data-testid="pres-counter"' in m.value
    )
    assert "PTCE</strong>" in counter


def test_copy_form_creates_a_recit(demo_store, built_cache):
    at = _page()
    # Nobody signed in: no form, an invitation to sign in.
    assert not at.text_input
    assert any("compte éditeur" in i.value for i in at.info)
    at = AppTest.from_string(SCRIPT, default_timeout=60)
    at.session_state["_user"] = ALICE
    at.run()
    at.text_input[0].input("Club 2026")
    copy = next(b for b in at.button if b.label == "Créer une copie de ce récit")
    copy.click().run()
    assert not at.exception, at.exception
    assert ("club-2026", "Club 2026") in list_recits(demo_store)
    with Store(str(demo_store.engine.url)).engine.connect() as conn:
        par = conn.exec_driver_sql("SELECT par FROM recit").scalar()
    assert par == "Alice (alice)"


def test_the_ways_vue_lists_the_seven_ways_of_the_guide():
    from lib.domain.recits import WAYS_TO_SUPPORT
    from lib.domain.soutiens import TYPES

    assert len(WAYS_TO_SUPPORT) == 7
    assert any("investissement" in w for w in WAYS_TO_SUPPORT)
    assert any("foncier" in w for w in WAYS_TO_SUPPORT)
    labels = [t.libelle for t in TYPES if t.code != "autre"]
    assert [w.lower() for w in WAYS_TO_SUPPORT] == [x.lower() for x in labels]
