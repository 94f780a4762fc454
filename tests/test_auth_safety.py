"""Issue #10, accounts and leaks: no oracle, no lock-out, sessions, no paths.

- a refused sign-in takes the same time and says the same thing whether the
  identifier exists, the password is wrong or the client must wait;
- a stranger's failures make *that client* wait, never the owner;
- a signed session token survives a reload and is refused once tampered
  with, expired, or after a password change;
- no page shows a server path.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import statistics
import time

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from lib.store.accounts import (
    LOCAL_CLIENT,
    MAX_FAILURES,
    REFUSED,
    AuthError,
    User,
    WriteRefused,
    change_password,
    client_key,
    create_account,
    operator,
    session_token,
    sign_in,
    user_from_token,
)
from lib.store.ptce import Store, essai_connexion
from tests.conftest import ROOT

PASSWORD = "correct horse battery"
T0 = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
TIMEOUT = 60


def _store(url: str) -> Store:
    store = Store(url)
    create_account(store, "admin", "Admin", PASSWORD, "admin", operator("test"))
    create_account(store, "alice", "Alice", PASSWORD, "éditeur", operator("test"))
    return store


@pytest.fixture
def store(database_url, monkeypatch):
    """Two accounts on SQLite and on PostgreSQL (fast hashes)."""
    monkeypatch.setenv("PTCE_BCRYPT_ROUNDS", "4")
    return _store(database_url)


def _refusal(store, identifiant, password, **kwargs) -> str:
    with pytest.raises(AuthError) as refused:
        sign_in(store, identifiant, password, **kwargs)
    return str(refused.value)


# -- no oracle --------------------------------------------------------------------


def test_unknown_and_known_identifiers_take_the_same_time(tmp_path, monkeypatch):
    # A real cost (12 rounds in production, 10 here to keep the test short):
    # the dummy hash checked for an unknown identifier must cost as much.
    monkeypatch.setenv("PTCE_BCRYPT_ROUNDS", "10")
    store = _store(f"sqlite:///{tmp_path / 'timing.sqlite'}")

    def timed(identifiant: str, client: str) -> float:
        start = time.perf_counter()
        with pytest.raises(AuthError):
            sign_in(store, identifiant, "mauvais mot de passe", client=client)
        return time.perf_counter() - start

    timed("personne", "échauffement")  # the dummy hash is made on first use
    known, unknown = [], []
    for i in range(20):  # interleaved: both see the same load of the machine
        known.append(timed("admin", f"client-{i}"))
        unknown.append(timed("personne-inconnue", f"client-{i}"))
    a, b = statistics.median(known), statistics.median(unknown)
    assert abs(a - b) <= 0.2 * max(a, b), (a, b)


def test_one_message_for_unknown_wrong_and_waiting(store):
    unknown = _refusal(store, "personne", PASSWORD, now=T0)
    wrong = _refusal(store, "admin", "mauvais mot de passe", now=T0)
    for _ in range(MAX_FAILURES):
        _refusal(store, "alice", "faux", now=T0, client="x")
    waiting = _refusal(store, "alice", PASSWORD, now=T0, client="x")
    for _ in range(MAX_FAILURES):
        _refusal(store, "personne", "faux", now=T0, client="x")
    waiting_unknown = _refusal(store, "personne", PASSWORD, now=T0, client="x")
    assert unknown == wrong == waiting == waiting_unknown == REFUSED
    assert "incorrect" in REFUSED and "attendez" in REFUSED


# -- no lock-out ------------------------------------------------------------------


def test_a_strangers_failures_never_lock_the_owner_out(store):
    stranger, owner = "203.0.113.9", "198.51.100.7"
    for i in range(4 * MAX_FAILURES):
        _refusal(store, "admin", f"essai {i}", now=T0, client=stranger)
    # The stranger must wait, even with the right password...
    _refusal(store, "admin", PASSWORD, now=T0, client=stranger)
    # ...while the owner, from another client, signs in at once.
    user = sign_in(store, "admin", PASSWORD, now=T0, client=owner)
    assert user.is_admin
    # Only that identifier waits for the stranger's client.
    assert sign_in(store, "alice", PASSWORD, now=T0, client=stranger)


def test_the_wait_grows_per_client_and_ends(store):
    client = "203.0.113.9"
    for _ in range(MAX_FAILURES):
        _refusal(store, "admin", "faux", now=T0, client=client)
    # First wait: one minute; tries meanwhile are not checked nor counted.
    _refusal(store, "admin", PASSWORD, now=T0 + dt.timedelta(seconds=50), client=client)
    later = T0 + dt.timedelta(minutes=1, seconds=1)
    _refusal(store, "admin", "faux", now=later, client=client)  # now 2 minutes
    _refusal(
        store, "admin", PASSWORD, now=later + dt.timedelta(seconds=100), client=client
    )
    user = sign_in(
        store, "admin", PASSWORD, now=later + dt.timedelta(minutes=2), client=client
    )
    assert user.identifiant == "admin"


def test_throttling_rows_hold_no_address_nor_identifier(store):
    _refusal(store, "admin", "faux", now=T0, client="203.0.113.9")
    _refusal(store, "personne", "faux", now=T0, client="203.0.113.9")
    with store.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.select(essai_connexion))]
    assert len(rows) == 2
    text = repr(rows)
    assert "203.0.113" not in text and "admin" not in text and "personne" not in text
    # Forgotten after a quiet day: the table does not grow without end.
    _refusal(store, "autre", "faux", now=T0 + dt.timedelta(days=2), client="y")
    with store.engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(essai_connexion)
            ).scalar()
            == 1
        )


def test_client_key_trusts_forwarded_for_only_behind_a_proxy(monkeypatch):
    monkeypatch.delenv("PTCE_BEHIND_PROXY", raising=False)
    assert client_key(None) == LOCAL_CLIENT
    assert client_key("198.51.100.7", "203.0.113.9") == "198.51.100.7"
    monkeypatch.setenv("PTCE_BEHIND_PROXY", "1")
    # The last address is the proxy's own view; the first is the client's say.
    assert client_key("127.0.0.1", "1.2.3.4, 203.0.113.9") == "203.0.113.9"
    assert client_key(None, " ") == LOCAL_CLIENT


# -- sessions that survive a reload -----------------------------------------------


def test_a_valid_token_reopens_the_session_elsewhere(store, database_url):
    user = sign_in(store, "alice", PASSWORD, now=T0)
    token = session_token(store, user)
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", token)
    # Another process on the same database (same secret) accepts it.
    again = user_from_token(Store(database_url), token, now=T0 + dt.timedelta(hours=1))
    assert again == User("alice", "Alice", "éditeur", again.expires)
    assert abs(again.expires - user.expires) < dt.timedelta(seconds=1)


def test_tampered_expired_or_revoked_tokens_are_refused(store):
    user = sign_in(store, "alice", PASSWORD, now=T0)
    token = session_token(store, user)
    body, signature = token.split(".")
    # The token names alice; rewriting its body to name admin breaks it.
    forged = session_token(store, sign_in(store, "admin", PASSWORD, now=T0))
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for bad in [
        f"{forged.split('.')[0]}.{signature}",
        f"{body}.{flipped}",
        f"{body}x.{signature}",
        body,
        "",
        None,
        "é.é",
        "a.b.c",
        "x" * 5000,
    ]:
        assert user_from_token(store, bad, now=T0) is None, bad
    # Expired: the token's own end, not a later one.
    assert user_from_token(store, token, now=T0 + dt.timedelta(hours=7, minutes=59))
    assert user_from_token(store, token, now=T0 + dt.timedelta(hours=8)) is None
    # A password change revokes every token made before it.
    owner = sign_in(store, "alice", PASSWORD)  # signed in now, not at T0
    change_password(store, "alice", "un tout autre mot de passe", owner)
    assert user_from_token(store, token, now=T0) is None


def test_a_token_carries_the_current_role(store):
    token = session_token(store, sign_in(store, "alice", PASSWORD, now=T0))
    with store.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE compte SET role = 'lecteur' WHERE identifiant = 'alice'")
        )
    assert user_from_token(store, token, now=T0).role == "lecteur"


def test_only_the_owner_or_an_admin_changes_a_password(store):
    alice = sign_in(store, "alice", PASSWORD)
    with pytest.raises(WriteRefused):
        change_password(store, "admin", "mot de passe volé !", alice)
    with pytest.raises(ValueError, match="trop court"):
        change_password(store, "alice", "court", alice)
    change_password(store, "alice", "nouveau mot de passe", operator())
    assert sign_in(store, "alice", "nouveau mot de passe", now=T0)


def test_page_signs_in_and_offers_sign_out(tmp_path, monkeypatch):
    monkeypatch.setenv("PTCE_BCRYPT_ROUNDS", "4")
    url = f"sqlite:///{tmp_path / 'page.sqlite'}"
    monkeypatch.setenv("DATABASE_URL", url)
    _store(url)
    at = AppTest.from_string(
        "from views import donnees\ndonnees.render()\n", default_timeout=TIMEOUT
    ).run()
    at.text_input[0].input("personne")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception and at.error[0].value == REFUSED
    at.text_input[0].input("alice")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert "Connecté : Alice" in " ".join(c.value for c in at.caption)
    at.button(key="deconnexion").click().run()
    assert not at.exception and not at.tabs
    assert at.button[0].label == "Se connecter"


# -- no server path on any page ---------------------------------------------------

ABSOLUTE = re.compile(r"(/work|/root|/home|/tmp|/usr|/var|[A-Za-z]:\\)")


def _shown(at: AppTest) -> str:
    """Every text of the page: markdown, captions, alerts, tables, labels."""
    parts = []

    def walk(node) -> None:
        for attr in ("value", "label", "body", "help", "placeholder"):
            try:
                value = getattr(node, attr, None)
            except (AttributeError, KeyError, ValueError, TypeError):
                continue
            if isinstance(value, pd.DataFrame):
                parts.append(value.to_string())
            elif isinstance(value, str):
                parts.append(value)
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for child in children.values():
                walk(child)

    walk(at._tree)
    return "\n".join(parts)


@pytest.fixture
def demo_url(tmp_path, monkeypatch):
    from lib.io.demo import install_demo

    url = f"sqlite:///{tmp_path / 'pages.sqlite'}"
    install_demo(Store(url))
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def _page(name: str) -> AppTest:
    return AppTest.from_string(
        f"from views import {name}\n{name}.render()\n", default_timeout=TIMEOUT
    ).run()


def test_sources_page_shows_no_server_path(built_cache, demo_url):
    at = _page("sources")
    assert not at.exception
    text = _shown(at)
    assert "Construit le" in text and "depuis" in text
    assert not ABSOLUTE.search(text), ABSOLUTE.search(text)


@pytest.mark.parametrize("page", ["sources", "accueil", "carte"])
def test_missing_cache_messages_show_no_server_path(
    page, tmp_path, monkeypatch, demo_url
):
    empty = tmp_path / "cache-vide"
    empty.mkdir()
    monkeypatch.setenv("PTCE_CACHE_DIR", str(empty))
    monkeypatch.setenv("PTCE_GEO_SOURCE", str(tmp_path / "pas-de-contours"))
    at = _page(page)
    assert not at.exception
    assert at.error, "the missing cache must be explained"
    text = _shown(at)
    assert "cache des contours est absent" in text
    assert not ABSOLUTE.search(text), (ABSOLUTE.search(text), text)


# -- a real browser: the session survives a reload --------------------------------


@pytest.mark.browser
def test_session_survives_a_reload_and_sign_out_ends_it(built_cache, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server

    if not shutil.which("chromium"):
        pytest.fail("chromium is missing: apt-get install -y chromium", pytrace=False)
    url = f"sqlite:///{tmp_path / 'session.sqlite'}"
    env = {"DATABASE_URL": url, "PTCE_BCRYPT_ROUNDS": "4"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PTCE_BCRYPT_ROUNDS", "4")
        _store(url)
    expect = sync_api.expect
    with (
        streamlit_server(ROOT, env=env) as server,
        sync_api.sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{server}/donnees")
        page.get_by_label("Identifiant").fill("alice")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        signed = page.get_by_text("Connecté : Alice")
        expect(signed).to_be_visible(timeout=TIMEOUT * 1000)
        page.wait_for_function("document.cookie.includes('atlas_session=')")
        (cookie,) = [c for c in page.context.cookies() if c["name"] == "atlas_session"]
        assert cookie["sameSite"] == "Strict" and cookie["path"] == "/"
        assert 7 * 3600 < cookie["expires"] - time.time() <= 8 * 3600

        page.reload()
        expect(page.get_by_text("Connecté : Alice")).to_be_visible(
            timeout=TIMEOUT * 1000
        )

        page.get_by_role("button", name="Se déconnecter").click()
        expect(page.get_by_role("button", name="Se connecter")).to_be_visible(
            timeout=TIMEOUT * 1000
        )
        page.wait_for_function("!document.cookie.includes('atlas_session=')")
        page.reload()
        expect(page.get_by_role("button", name="Se connecter")).to_be_visible(
            timeout=TIMEOUT * 1000
        )
        assert page.get_by_text("Connecté :").count() == 0
        browser.close()
