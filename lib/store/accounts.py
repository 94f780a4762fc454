"""Accounts, sign-in and the permission to write.

Viewing needs no account; changing data needs a signed-in *éditeur* (or
*admin*). Accounts live in the database (table ``compte``) with a salted,
slow bcrypt hash. Every refusal takes the same time and says the same thing,
so that nobody learns which identifiers exist. Repeated failures make *one
client* wait for a growing time before trying that identifier again (table
``essai_connexion``): a stranger's guesses never lock the owner out. A
session expires after :data:`SESSION_HOURS`; a signed token
(:func:`session_token`, kept by the browser in a cookie) reopens it after a
page reload, and a password change revokes it.

Every function of ``lib`` that writes takes a :class:`User` and calls
:func:`require_editor`: a page that forgot to check, or a forged value,
is refused here and not only hidden in the interface. Command-line tools run
by the operator of the machine (who holds the database file anyway) act as
:func:`operator`.
"""

# size: accounts, throttled sign-in, signed session tokens and identity sign-in
# share the compte table, the one refusal message and the secret;
# 29 functions, the longest 82 lines (sign_in).

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass

import bcrypt
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from lib.domain.errors import SaidInFrench
from lib.store.ptce import Store, compte, essai_connexion, meta

#: Roles, from least to most rights.
ROLES = ("lecteur", "éditeur", "admin")
ROLE_LABELS = {"lecteur": "lecteur", "éditeur": "éditeur", "admin": "administrateur"}
#: A signed-in session lasts this long.
SESSION_HOURS = 8.0
#: Failed attempts of one client for one identifier before it must wait.
MAX_FAILURES = 5
#: First wait, doubled at each further failure, up to LOCK_MAX.
LOCK_FIRST = dt.timedelta(minutes=1)
LOCK_MAX = dt.timedelta(hours=1)
#: Failures older than this are forgotten (their count starts over).
FAILURES_KEPT = dt.timedelta(days=1)
#: The one answer to every refused sign-in: unknown identifier, wrong
#: password or a client that must wait look alike.
REFUSED = (
    "Connexion refusée : identifiant ou mot de passe incorrect, ou trop "
    "d'essais depuis ce poste. Vérifiez-les et réessayez ; après plusieurs "
    "échecs, attendez quelques minutes."
)
#: Client key when the address is unknown (AppTest, command line, localhost).
LOCAL_CLIENT = "local"
#: Name of the browser cookie holding the session token.
SESSION_COOKIE = "atlas_session"
#: ``PTCE_BEHIND_PROXY=1``: the client's address is the last one of
#: ``X-Forwarded-For`` (set by a reverse proxy that the operator trusts).
PROXY_ENV = "PTCE_BEHIND_PROXY"
MIN_PASSWORD = 10
_IDENT = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,99}$")


class AuthError(SaidInFrench, PermissionError):
    """Sign-in refused (message in French, safe to show)."""


class WriteRefused(SaidInFrench, PermissionError):
    """A write without a signed-in éditeur (message in French)."""


@dataclass(frozen=True)
class User:
    """Someone signed in (or the machine's operator).

    Attributes
    ----------
    identifiant, nom, role : str
    expires : datetime.datetime or None
        End of the session (UTC); None for the operator.
    """

    identifiant: str
    nom: str
    role: str
    expires: dt.datetime | None = None

    @property
    def can_edit(self) -> bool:
        """True for an éditeur or an admin."""
        return self.role in ("éditeur", "admin")

    @property
    def is_admin(self) -> bool:
        """True for an admin."""
        return self.role == "admin"

    def expired(self, now: dt.datetime | None = None) -> bool:
        """Return True once the session is over."""
        if self.expires is None:
            return False
        return (now or _now()) >= self.expires

    @property
    def label(self) -> str:
        """Name recorded in the history: ``"Nom (identifiant)"``."""
        return f"{self.nom} ({self.identifiant})"


def operator(name: str = "ligne de commande") -> User:
    """Return the machine's operator, for command-line tools and set-up.

    Parameters
    ----------
    name : str
        Recorded in the history.

    Returns
    -------
    User
        An admin whose session never expires.
    """
    return User(f"operateur:{name}", name, "admin")


def require_editor(user: object, now: dt.datetime | None = None) -> User:
    """Return ``user`` if it may write; refuse otherwise.

    Parameters
    ----------
    user : object
        Should be a :class:`User` signed in as éditeur or admin.
    now : datetime.datetime, optional

    Returns
    -------
    User

    Raises
    ------
    WriteRefused
        Nobody signed in, a lecteur, an expired session, or not a User.
    """
    if not isinstance(user, User):
        raise WriteRefused(
            "Modification refusée : connectez-vous avec un compte éditeur."
        )
    if user.expired(now):
        raise WriteRefused("Session expirée : reconnectez-vous pour modifier.")
    if not user.can_edit:
        raise WriteRefused(
            "Modification refusée : votre compte permet la lecture seulement."
        )
    return user


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _rounds() -> int:
    # 12 rounds: about a quarter of a second per check on this hardware.
    # Tests lower it (PTCE_BCRYPT_ROUNDS) to stay fast.
    return int(os.environ.get("PTCE_BCRYPT_ROUNDS", "12"))


def hash_password(password: str) -> str:
    """Return the salted bcrypt hash of a password.

    Parameters
    ----------
    password : str

    Returns
    -------
    str
    """
    data = password.encode("utf-8")
    if len(data) > 72:
        raise ValueError("Mot de passe trop long (72 octets au plus).")
    return bcrypt.hashpw(data, bcrypt.gensalt(_rounds())).decode("ascii")


@functools.lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> bytes:
    # Checked against when the account does not exist (or the client must
    # wait), so that every refusal costs one bcrypt check of the same cost as
    # a real one. Made once per cost, on first use (not at import: 12 rounds
    # take a quarter of a second). Its password is random and thrown away.
    return bcrypt.hashpw(secrets.token_bytes(32), bcrypt.gensalt(rounds))


def _check(password: str, hashed: bytes) -> bool:
    # bcrypt reads 72 bytes at most (and bcrypt 5 refuses longer input).
    return bcrypt.checkpw(password.encode("utf-8")[:72], hashed)


def create_account(
    store: Store, identifiant: str, nom: str, password: str, role: str, by: User
) -> None:
    """Create an account (admins only).

    Parameters
    ----------
    store : Store
    identifiant : str
        Lower-case letters, digits and ``. _ @ -``.
    nom : str
        Name shown and recorded in the history.
    password : str
        At least :data:`MIN_PASSWORD` characters.
    role : str
        One of :data:`ROLES`.
    by : User
        An admin.

    Raises
    ------
    WriteRefused
        ``by`` is not an admin.
    ValueError
        Invalid identifier, role or password, or identifier taken.
    """
    if not (isinstance(by, User) and by.is_admin and not by.expired()):
        raise WriteRefused("Seul un administrateur peut créer des comptes.")
    identifiant = identifiant.strip().lower()
    if not _IDENT.match(identifiant):
        raise ValueError(
            "Identifiant invalide : 2 à 100 caractères, lettres minuscules, "
            "chiffres, « . _ @ - »."
        )
    if role not in ROLES:
        raise ValueError(f"Rôle inconnu : {role} (attendu : {', '.join(ROLES)}).")
    if len(password) < MIN_PASSWORD:
        raise ValueError(
            f"Mot de passe trop court : {MIN_PASSWORD} caractères au moins."
        )
    with store.engine.begin() as conn:
        taken = conn.execute(
            sa.select(compte.c.identifiant).where(compte.c.identifiant == identifiant)
        ).first()
        if taken:
            raise ValueError(f"L'identifiant « {identifiant} » est déjà pris.")
        conn.execute(
            sa.insert(compte).values(
                identifiant=identifiant,
                nom=(nom.strip() or identifiant)[:200],
                role=role,
                hash=hash_password(password),
                cree_le=_now().isoformat(timespec="seconds"),
                echecs=0,
            )
        )


def accounts(store: Store) -> list[dict]:
    """Return the accounts (identifiant, nom, role), never their hashes.

    Parameters
    ----------
    store : Store

    Returns
    -------
    list of dict
    """
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(compte.c.identifiant, compte.c.nom, compte.c.role).order_by(
                compte.c.identifiant
            )
        )
        return [dict(r._mapping) for r in rows]


# size: one timing-safe path (every refusal costs one bcrypt check and reads
# alike) is easier to audit whole; the 30-line docstring says why.
def sign_in(
    store: Store,
    identifiant: str,
    password: str,
    now: dt.datetime | None = None,
    client: str = LOCAL_CLIENT,
) -> User:
    """Check a password and open a session.

    Every refusal takes one bcrypt check of the same cost and raises the same
    message, whether the identifier exists or not. After
    :data:`MAX_FAILURES` failures of one ``client`` for one identifier, that
    client must wait :data:`LOCK_FIRST`, doubled at each further failure up
    to :data:`LOCK_MAX`, before its next try of that identifier is checked;
    other clients are not affected, so the owner of an account still signs
    in while a stranger guesses.

    Parameters
    ----------
    store : Store
    identifiant, password : str
    now : datetime.datetime, optional
        The current time (tests).
    client : str
        Who is trying: see :func:`client_key`.

    Returns
    -------
    User
        Signed in until ``now`` + :data:`SESSION_HOURS`.

    Raises
    ------
    AuthError
        :data:`REFUSED`: unknown identifier, wrong password, or a client that
        must wait.
    """
    now = _utc(now)
    identifiant = (identifiant or "").strip().lower()
    secret = _secret(store)
    key = _attempt_key(secret, client, identifiant)
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(compte).where(compte.c.identifiant == identifiant)
        ).first()
        waits_until = conn.execute(
            sa.select(essai_connexion.c.bloque_jusqua).where(
                essai_connexion.c.cle == key
            )
        ).scalar()
    waiting = waits_until is not None and now < dt.datetime.fromisoformat(waits_until)
    # One check of the same cost in every case: the time taken tells nothing.
    usable = row is not None and not waiting
    target = (
        row.hash.encode("ascii")
        if row is not None and usable
        else _dummy_hash(_rounds())
    )
    good = _check(password, target) and usable
    if waiting:
        # Not counted: a waiting client's tries are never checked, so they
        # teach nothing, and the wait does not grow while the owner retries.
        raise AuthError(REFUSED)
    with store.engine.begin() as conn:
        if not good:
            _count_failure(conn, key, now)
        else:
            conn.execute(sa.delete(essai_connexion).where(essai_connexion.c.cle == key))
            conn.execute(
                sa.update(compte)
                .where(compte.c.identifiant == identifiant)
                .values(derniere_connexion=now.isoformat(timespec="seconds"))
            )
    if not good:
        raise AuthError(REFUSED)
    assert row is not None  # good implies usable, so a row was found
    return User(
        row.identifiant,
        row.nom,
        row.role,
        now + dt.timedelta(hours=SESSION_HOURS),
    )


def _count_failure(conn: Connection, key: str, now: dt.datetime) -> None:
    stamp = _stamp(now)
    table = essai_connexion
    insert = _dialect_insert(conn, table).values(cle=key, echecs=1, dernier=stamp)
    if hasattr(insert, "on_conflict_do_update"):
        # One atomic statement: concurrent failures (several processes on
        # PostgreSQL) are all counted.
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["cle"],
                set_={"echecs": table.c.echecs + 1, "dernier": stamp},
            )
        )
    elif not conn.execute(
        sa.update(table)
        .where(table.c.cle == key)
        .values(echecs=table.c.echecs + 1, dernier=stamp)
    ).rowcount:
        conn.execute(insert)
    failures = conn.execute(
        sa.select(table.c.echecs).where(table.c.cle == key)
    ).scalar_one()
    if failures >= MAX_FAILURES:
        # The exponent is bounded: LOCK_MAX is reached long before, and a
        # huge power of two would overflow timedelta.
        growth = 2 ** min(failures - MAX_FAILURES, 16)
        delay = min(LOCK_FIRST * growth, LOCK_MAX)
        conn.execute(
            sa.update(table)
            .where(table.c.cle == key)
            .values(bloque_jusqua=_stamp(now + delay))
        )
    # Forget old failures: the table stays small whatever is tried.
    conn.execute(sa.delete(table).where(table.c.dernier < _stamp(now - FAILURES_KEPT)))


def client_key(
    ip_address: str | None,
    forwarded_for: str | None = None,
    behind_proxy: bool | None = None,
) -> str:
    """Return the key that throttles the sign-ins of one client.

    Parameters
    ----------
    ip_address : str or None
        The address of the connection (None on localhost).
    forwarded_for : str, optional
        The ``X-Forwarded-For`` header, used only behind a trusted proxy:
        anyone can send that header, and believing it would let a stranger
        pick the key of someone else.
    behind_proxy : bool, optional
        Trust ``forwarded_for``; by default when :data:`PROXY_ENV` is ``1``.

    Returns
    -------
    str
        The client's address, or :data:`LOCAL_CLIENT`.
    """
    if behind_proxy is None:
        behind_proxy = os.environ.get(PROXY_ENV, "") == "1"
    if behind_proxy and forwarded_for:
        # The last address is the one the proxy itself saw; earlier ones
        # were written by the client and prove nothing.
        last = forwarded_for.split(",")[-1].strip()
        if last:
            return last
    return ip_address or LOCAL_CLIENT


def change_password(store: Store, identifiant: str, password: str, by: User) -> None:
    """Set a new password; the sessions opened with the old one end.

    Parameters
    ----------
    store : Store
    identifiant : str
        The account.
    password : str
        At least :data:`MIN_PASSWORD` characters.
    by : User
        The account's owner, or an admin.

    Raises
    ------
    WriteRefused
        ``by`` is neither the owner nor an admin.
    ValueError
        Password too short or too long, or no such account.
    """
    identifiant = (identifiant or "").strip().lower()
    if not (
        isinstance(by, User)
        and not by.expired()
        and (by.is_admin or by.identifiant == identifiant)
    ):
        raise WriteRefused(
            "Seuls le titulaire du compte et un administrateur peuvent changer "
            "ce mot de passe."
        )
    if len(password) < MIN_PASSWORD:
        raise ValueError(
            f"Mot de passe trop court : {MIN_PASSWORD} caractères au moins."
        )
    new_hash = hash_password(password)
    with store.engine.begin() as conn:
        changed = conn.execute(
            sa.update(compte)
            .where(compte.c.identifiant == identifiant)
            .values(hash=new_hash)
        ).rowcount
    if not changed:
        raise ValueError(f"Aucun compte « {identifiant} ».")


def session_token(store: Store, user: User) -> str:
    """Return a signed token that reopens ``user``'s session after a reload.

    The token holds the identifier, the end of the session and a fingerprint
    of the account's password hash, signed with HMAC-SHA256 and the server's
    secret: it cannot be forged or prolonged, and a password change revokes
    it. It is kept by the browser in the :data:`SESSION_COOKIE` cookie.

    Parameters
    ----------
    store : Store
    user : User
        Signed in by :func:`sign_in` or :func:`user_for_identity`.

    Returns
    -------
    str
        URL- and cookie-safe text (letters, digits, ``- _ .``).

    Raises
    ------
    ValueError
        ``user`` has no account or no end of session.
    """
    if user.expires is None:
        raise ValueError("Cette session n'a pas de fin : pas de jeton.")
    secret = _secret(store)
    with store.engine.connect() as conn:
        stored = conn.execute(
            sa.select(compte.c.hash).where(compte.c.identifiant == user.identifiant)
        ).scalar()
    if stored is None:
        raise ValueError(f"Aucun compte « {user.identifiant} ».")
    expires = int(_utc(user.expires).timestamp())
    payload = f"{user.identifiant}\n{expires}\n{_fingerprint(secret, stored)}"
    body = _b64(payload.encode("utf-8"))
    return f"{body}.{_b64(_sign(secret, body))}"


def user_from_token(
    store: Store, token: str | None, now: dt.datetime | None = None
) -> User | None:
    """Return the user whose session a token reopens, or None.

    Parameters
    ----------
    store : Store
    token : str or None
        From :func:`session_token` (the browser's cookie).
    now : datetime.datetime, optional

    Returns
    -------
    User or None
        None for a missing, malformed, tampered or expired token, a deleted
        account, or a password changed since the token was made. The role is
        the account's current one; the session ends when the token says.
    """
    if not token or len(token) > 1000 or token.count(".") != 1:
        return None
    secret = _secret(store)
    body, signature = token.split(".")
    try:
        if not hmac.compare_digest(_unb64(signature), _sign(secret, body)):
            return None
        identifiant, expires, fingerprint = _unb64(body).decode("utf-8").split("\n")
        end = dt.datetime.fromtimestamp(int(expires), dt.UTC)
    except (ValueError, binascii.Error, OverflowError, OSError):
        return None
    if _utc(now) >= end:
        return None
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(compte).where(compte.c.identifiant == identifiant)
        ).first()
    if row is None or not hmac.compare_digest(
        fingerprint, _fingerprint(secret, row.hash)
    ):
        return None
    return User(row.identifiant, row.nom, row.role, end)


def _utc(now: dt.datetime | None) -> dt.datetime:
    # Stamps are compared as text: they must all be written in UTC.
    return (now or _now()).astimezone(dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def _dialect_insert(conn: Connection, table: sa.Table):
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    return sa.insert(table)


_SECRET_KEY = "secret_session"


def _secret(store: Store) -> bytes:
    """Return the server's secret, made once and kept in ``meta``.

    In the database, not in a file, so that every process serving the same
    database (PostgreSQL) signs and checks with the same secret.
    """
    query = sa.select(meta.c.valeur).where(meta.c.cle == _SECRET_KEY)
    with store.engine.connect() as conn:
        value = conn.execute(query).scalar()
    if value is None:
        with store.engine.begin() as conn:
            insert = _dialect_insert(conn, meta).values(
                cle=_SECRET_KEY, valeur=secrets.token_hex(32)
            )
            if hasattr(insert, "on_conflict_do_nothing"):
                # Two processes may make one at once: the first one wins.
                insert = insert.on_conflict_do_nothing(index_elements=["cle"])
            conn.execute(insert)
            value = conn.execute(query).scalar_one()
    return bytes.fromhex(value)


def _attempt_key(secret: bytes, client: str, identifiant: str) -> str:
    # Keyed hash: the table never holds an address or an identifier, and
    # nobody can tell from it who tried what.
    text = f"{client}\n{identifiant}".encode()
    return hmac.new(secret, b"essai\n" + text, hashlib.sha256).hexdigest()


def _fingerprint(secret: bytes, password_hash: str) -> str:
    message = b"empreinte\n" + password_hash.encode("ascii")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def _sign(secret: bytes, body: str) -> bytes:
    return hmac.new(secret, b"jeton\n" + body.encode("ascii"), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def user_for_identity(
    store: Store, identifiant: str, now: dt.datetime | None = None
) -> User | None:
    """Open a session for someone already authenticated by an OIDC provider.

    The provider proves who the person is; the atlas's account (created by an
    admin, identifier = e-mail address) says what they may do.

    Parameters
    ----------
    store : Store
    identifiant : str
        The e-mail address given by the provider.
    now : datetime.datetime, optional

    Returns
    -------
    User or None
        None when no account has that identifier.
    """
    now = now or _now()
    identifiant = (identifiant or "").strip().lower()
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(compte).where(compte.c.identifiant == identifiant)
        ).first()
    if row is None:
        return None
    return User(
        row.identifiant, row.nom, row.role, now + dt.timedelta(hours=SESSION_HOURS)
    )
