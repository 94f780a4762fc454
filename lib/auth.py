"""Accounts, sign-in and the permission to write.

Viewing needs no account; changing data needs a signed-in *éditeur* (or
*admin*). Accounts live in the database (table ``compte``) with a salted,
slow bcrypt hash; repeated failed sign-ins lock the account for a growing
time; a session expires after :data:`SESSION_HOURS`.

Every function of ``lib`` that writes takes a :class:`User` and calls
:func:`require_editor`: a page that forgot to check, or a forged value,
is refused here and not only hidden in the interface. Command-line tools run
by the operator of the machine (who holds the database file anyway) act as
:func:`operator`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass

import bcrypt
import sqlalchemy as sa

from lib.store import Store, compte

#: Roles, from least to most rights.
ROLES = ("lecteur", "éditeur", "admin")
ROLE_LABELS = {"lecteur": "lecteur", "éditeur": "éditeur", "admin": "administrateur"}
#: A signed-in session lasts this long.
SESSION_HOURS = 8.0
#: Failed attempts allowed before the account is locked.
MAX_FAILURES = 5
#: First lock, doubled at each further failure, up to LOCK_MAX.
LOCK_FIRST = dt.timedelta(minutes=1)
LOCK_MAX = dt.timedelta(hours=1)
MIN_PASSWORD = 10
_IDENT = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,99}$")


class AuthError(PermissionError):
    """Sign-in refused (message in French, safe to show)."""


class WriteRefused(PermissionError):
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


#: Checked against when the account does not exist, so that an unknown
#: identifier takes as long to refuse as a wrong password.
_DUMMY = bcrypt.hashpw(b"compte inexistant", bcrypt.gensalt(4)).decode("ascii")


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


def sign_in(
    store: Store, identifiant: str, password: str, now: dt.datetime | None = None
) -> User:
    """Check a password and open a session.

    Parameters
    ----------
    store : Store
    identifiant, password : str
    now : datetime.datetime, optional
        The current time (tests).

    Returns
    -------
    User
        Signed in until ``now`` + :data:`SESSION_HOURS`.

    Raises
    ------
    AuthError
        Wrong identifier or password (one message for both), or account
        locked after too many failures.
    """
    now = now or _now()
    identifiant = identifiant.strip().lower()
    with store.engine.begin() as conn:
        row = conn.execute(
            sa.select(compte).where(compte.c.identifiant == identifiant)
        ).first()
        if row is None:
            bcrypt.checkpw(password.encode("utf-8")[:72], _DUMMY.encode("ascii"))
            raise AuthError("Identifiant ou mot de passe incorrect.")
        if row.bloque_jusqua and now < dt.datetime.fromisoformat(row.bloque_jusqua):
            wait = dt.datetime.fromisoformat(row.bloque_jusqua) - now
            minutes = max(1, int(wait.total_seconds() // 60) + 1)
            raise AuthError(
                f"Trop d'essais infructueux : réessayez dans {minutes} minute(s)."
            )
        good = bcrypt.checkpw(password.encode("utf-8")[:72], row.hash.encode("ascii"))
        if not good:
            failures = row.echecs + 1
            lock = None
            if failures >= MAX_FAILURES:
                delay = min(LOCK_FIRST * 2 ** (failures - MAX_FAILURES), LOCK_MAX)
                lock = (now + delay).isoformat()
            conn.execute(
                sa.update(compte)
                .where(compte.c.identifiant == identifiant)
                .values(echecs=failures, bloque_jusqua=lock)
            )
        else:
            conn.execute(
                sa.update(compte)
                .where(compte.c.identifiant == identifiant)
                .values(
                    echecs=0,
                    bloque_jusqua=None,
                    derniere_connexion=now.isoformat(timespec="seconds"),
                )
            )
    if not good:
        raise AuthError("Identifiant ou mot de passe incorrect.")
    return User(
        row.identifiant,
        row.nom,
        row.role,
        now + dt.timedelta(hours=SESSION_HOURS),
    )


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
