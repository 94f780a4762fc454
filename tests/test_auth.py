"""Accounts: slow salted hashes, throttling, sessions, the write guard."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from lib.store.accounts import (
    AuthError,
    User,
    WriteRefused,
    accounts,
    create_account,
    operator,
    require_editor,
    sign_in,
)
from lib.store.ptce import Store, compte
from tests.conftest import ROOT

PASSWORD = "correct horse battery"
T0 = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("PTCE_BCRYPT_ROUNDS", "4")  # fast hashes in tests
    store = Store(f"sqlite:///{tmp_path / 'auth.sqlite'}")
    create_account(store, "Alice", "Alice A.", PASSWORD, "éditeur", operator("test"))
    create_account(store, "bob", "Bob", PASSWORD, "lecteur", operator("test"))
    return store


def test_passwords_are_stored_as_salted_hashes(store):
    with store.engine.connect() as conn:
        hashes = [r.hash for r in conn.execute(sa.select(compte))]
    assert all(h.startswith("$2b$") and PASSWORD not in h for h in hashes)
    assert len(set(hashes)) == 2  # same password, different salts
    assert accounts(store) == [
        {"identifiant": "alice", "nom": "Alice A.", "role": "éditeur"},
        {"identifiant": "bob", "nom": "Bob", "role": "lecteur"},
    ]


def test_sign_in_and_session_expiry(store):
    user = sign_in(store, " ALICE ", PASSWORD, now=T0)
    assert user.can_edit and not user.is_admin
    assert require_editor(user, now=T0) is user
    later = T0 + dt.timedelta(hours=8, seconds=1)
    with pytest.raises(WriteRefused, match="Session expirée"):
        require_editor(user, now=later)


def test_one_message_for_unknown_user_and_wrong_password(store):
    with pytest.raises(AuthError) as unknown:
        sign_in(store, "personne", PASSWORD, now=T0)
    with pytest.raises(AuthError) as wrong:
        sign_in(store, "alice", "mauvais mot de passe", now=T0)
    assert str(unknown.value) == str(wrong.value)


def test_failed_attempts_make_the_client_wait_for_a_growing_time(store):
    # Issue #10: the wait is per client and identifier (a stranger's failures
    # never lock the owner out, see tests/test_auth_safety.py) and its
    # message is the one of every refusal.
    for _ in range(5):
        with pytest.raises(AuthError, match="incorrect"):
            sign_in(store, "alice", "faux", now=T0)
    # Waiting: even the right password is refused for a minute.
    with pytest.raises(AuthError, match="incorrect"):
        sign_in(store, "alice", PASSWORD, now=T0 + dt.timedelta(seconds=30))
    later = T0 + dt.timedelta(minutes=2)
    with pytest.raises(AuthError, match="incorrect"):
        sign_in(store, "alice", "faux", now=later)  # sixth failure: 2 minutes
    with pytest.raises(AuthError, match="incorrect"):
        sign_in(store, "alice", PASSWORD, now=later + dt.timedelta(seconds=10))
    user = sign_in(store, "alice", PASSWORD, now=later + dt.timedelta(minutes=3))
    assert user.identifiant == "alice"
    # Success resets the count.
    with pytest.raises(AuthError, match="incorrect"):
        sign_in(store, "alice", "faux", now=later + dt.timedelta(minutes=4))
    assert sign_in(store, "alice", PASSWORD, now=later + dt.timedelta(minutes=4))


@pytest.mark.parametrize(
    "who",
    [None, "alice", {"role": "admin"}, User("bob", "Bob", "lecteur", T0)],
)
def test_writes_need_a_signed_in_editor(who):
    with pytest.raises(WriteRefused):
        require_editor(who, now=T0)


def test_only_admins_create_accounts(store):
    editor = sign_in(store, "alice", PASSWORD)
    with pytest.raises(WriteRefused):
        create_account(store, "eve", "Eve", PASSWORD, "admin", editor)
    with pytest.raises(ValueError, match="déjà pris"):
        create_account(store, "bob", "Bob", PASSWORD, "lecteur", operator())
    with pytest.raises(ValueError, match="trop court"):
        create_account(store, "carol", "Carol", "court", "lecteur", operator())
    with pytest.raises(ValueError, match="Identifiant invalide"):
        create_account(store, "../x", "X", PASSWORD, "lecteur", operator())
    with pytest.raises(ValueError, match="Rôle inconnu"):
        create_account(store, "dan", "Dan", PASSWORD, "chef", operator())


def test_cli_creates_the_first_admin(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    env = {
        **os.environ,
        "DATABASE_URL": db,
        "PTCE_ADMIN_PASSWORD": PASSWORD,
        "PTCE_BCRYPT_ROUNDS": "4",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "lib.io.cli", "create-admin", "Admin", "--nom", "A"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    user = sign_in(Store(db), "admin", PASSWORD)
    assert user.is_admin and user.nom == "A"
