"""The store: PTCE aggregates in SQLite (or any SQLAlchemy database).

SQLite at ``data/atlas.sqlite`` by default, ``DATABASE_URL`` overrides. The
schema is versioned (table ``meta``) and upgraded by numbered migrations.
Each PTCE carries a version: a save states the version it started from and is
refused when someone else saved in between (optimistic concurrency). Every
change is written to ``historique`` with who, when, before and after, and any
earlier version can be restored.
"""

# size: the Store class (506 lines, 18 methods: read, save, history, restore,
# faits) with the schema and its numbered migrations, kept in order next to
# the tables they change.

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from lib.domain.errors import SaidInFrench
from lib.domain.model import (
    Ami,
    Fait,
    Membre,
    Ptce,
    Source,
    Soutien,
    from_dict,
    to_dict,
)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_URL = f"sqlite:///{ROOT / 'data' / 'atlas.sqlite'}"

metadata = sa.MetaData()

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("cle", sa.String(50), primary_key=True),
    sa.Column("valeur", sa.String(200), nullable=False),
)
ptce = sa.Table(
    "ptce",
    metadata,
    sa.Column("id", sa.String(120), primary_key=True),
    sa.Column("nom", sa.String(300), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("commune", sa.String(5)),
    sa.Column("departement", sa.String(3)),
    sa.Column("region", sa.String(3)),
    sa.Column("territoire", sa.JSON, nullable=False),
    sa.Column("stade", sa.String(30)),
    sa.Column("forme_juridique", sa.String(40)),
    sa.Column("annee_creation", sa.Integer),
    sa.Column("nb_membres", sa.Integer),
    sa.Column("emplois", sa.Integer),
    sa.Column("charte_signee", sa.Boolean),
    sa.Column("site_web", sa.String(500)),
    sa.Column("latitude", sa.Float),
    sa.Column("longitude", sa.Float),
    sa.Column("ami", sa.JSON, nullable=False),
    sa.Column("sources", sa.JSON, nullable=False),
    sa.Column("origine", sa.String(20), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("modifie_le", sa.String(32), nullable=False),
    sa.Column("modifie_par", sa.String(100), nullable=False),
)
ptce_filiere = sa.Table(
    "ptce_filiere",
    metadata,
    sa.Column(
        "ptce_id", sa.ForeignKey("ptce.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("filiere", sa.String(60), primary_key=True),
    sa.Column("rang", sa.Integer, nullable=False),
    sa.Index("ix_ptce_filiere_filiere", "filiere"),
)
membre = sa.Table(
    "membre",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ptce_id", sa.ForeignKey("ptce.id", ondelete="CASCADE"), nullable=False),
    sa.Column("rang", sa.Integer, nullable=False),
    sa.Column("nom", sa.String(300), nullable=False),
    sa.Column("categorie", sa.String(60)),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Index("ix_membre_ptce", "ptce_id"),
)
soutien = sa.Table(
    "soutien",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ptce_id", sa.ForeignKey("ptce.id", ondelete="CASCADE"), nullable=False),
    sa.Column("rang", sa.Integer, nullable=False),
    sa.Column("niveau", sa.String(12), nullable=False),
    sa.Column("code", sa.String(9), nullable=False),
    sa.Column("type", sa.String(60), nullable=False),
    sa.Column("dispositif", sa.String(300)),
    sa.Column("montant", sa.Float),
    sa.Column("annee_debut", sa.Integer),
    sa.Column("annee_fin", sa.Integer),
    sa.Column("phase", sa.String(30)),
    sa.Column("source_libelle", sa.String(500)),
    sa.Column("source_url", sa.String(500)),
    sa.Column("note", sa.Text),
    sa.Index("ix_soutien_ptce", "ptce_id"),
    sa.Index("ix_soutien_collectivite", "niveau", "code"),
)
historique = sa.Table(
    "historique",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # No foreign key: the history of a deleted PTCE is kept.
    sa.Column("ptce_id", sa.String(120), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("le", sa.String(32), nullable=False),
    sa.Column("par", sa.String(100), nullable=False),
    # The content *before* the change. The content after it is the next
    # entry's ``avant``, or the live record: storing it again would double
    # the size of the database (see Store.history).
    sa.Column("avant", sa.JSON),
    sa.Index("ix_historique_ptce", "ptce_id", "version"),
)
fait = sa.Table(
    "fait",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sujet", sa.String(200), nullable=False),
    sa.Column("libelle", sa.String(500), nullable=False),
    sa.Column("valeur", sa.Float),
    sa.Column("unite", sa.String(40)),
    sa.Column("annee", sa.Integer),
    sa.Column("source_libelle", sa.String(500), nullable=False),
    sa.Column("source_url", sa.String(500)),
    sa.Column("note", sa.Text),
)

recit = sa.Table(
    "recit",
    metadata,
    sa.Column("id", sa.String(120), primary_key=True),
    sa.Column("titre", sa.String(200), nullable=False),
    sa.Column("vues", sa.JSON, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("modifie_le", sa.String(32), nullable=False),
    sa.Column("par", sa.String(100), nullable=False),
)

recit_historique = sa.Table(
    "recit_historique",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # No foreign key: the history of a deleted récit is kept.
    sa.Column("recit_id", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("le", sa.String(32), nullable=False),
    sa.Column("par", sa.Text, nullable=False),
    # The content *after* the change (None after a deletion). Unlike a PTCE,
    # a récit is a few kilobytes: keeping each version whole keeps restoring
    # a plain copy.
    sa.Column("titre", sa.Text),
    sa.Column("vues", sa.JSON),
    sa.Index("ix_recit_historique_recit", "recit_id", "version"),
)

compte = sa.Table(
    "compte",
    metadata,
    sa.Column("identifiant", sa.String(100), primary_key=True),
    sa.Column("nom", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    # bcrypt hash: salted and slow; the password itself is never stored.
    sa.Column("hash", sa.String(100), nullable=False),
    sa.Column("cree_le", sa.String(32), nullable=False),
    sa.Column("echecs", sa.Integer, nullable=False, default=0),
    sa.Column("bloque_jusqua", sa.String(32)),
    sa.Column("derniere_connexion", sa.String(32)),
)

#: Failed sign-ins per client and identifier (see :func:`lib.store.accounts.sign_in`).
essai_connexion = sa.Table(
    "essai_connexion",
    metadata,
    # A keyed hash of (client, identifier): no address or name is stored.
    sa.Column("cle", sa.String(64), primary_key=True),
    sa.Column("echecs", sa.Integer, nullable=False),
    sa.Column("bloque_jusqua", sa.String(32)),
    sa.Column("dernier", sa.String(32), nullable=False),
    sa.Index("ix_essai_connexion_dernier", "dernier"),
)

#: How sure the values of a PTCE are (migration 9): one row per PTCE that has
#: inferred values or probable duplicates, none for the others.
ptce_certitude = sa.Table(
    "ptce_certitude",
    metadata,
    sa.Column(
        "ptce_id", sa.ForeignKey("ptce.id", ondelete="CASCADE"), primary_key=True
    ),
    # {field: reasoning} for values inferred rather than read in a source.
    sa.Column("deductions", sa.JSON, nullable=False),
    # {rang of the support: reasoning} for supports inferred, not read.
    sa.Column("soutiens_deduits", sa.JSON, nullable=False),
    # Identifiers of PTCE that are probably the same pôle.
    sa.Column("meme_pole_que", sa.JSON, nullable=False),
)

_V1_TABLES = (meta, ptce, ptce_filiere, membre, soutien, historique)


def _migrate_1(conn: Connection) -> None:
    """Create the PTCE aggregate tables and the history."""
    for table in _V1_TABLES:
        table.create(conn)


def _migrate_2(conn: Connection) -> None:
    """Add sourced figures and the indexes used by territorial filters."""
    fait.create(conn)
    # Plain DDL: an sa.Index built here would attach itself to the shared
    # ``ptce`` Table, and migration 1 would then create it too.
    for column in ("departement", "region", "commune"):
        conn.exec_driver_sql(f"CREATE INDEX ix_ptce_{column} ON ptce ({column})")


def _migrate_3(conn: Connection) -> None:
    """Add the presentation storylines (récits)."""
    recit.create(conn)


#: The text columns of migrations 1 to 3, by table (see :func:`_migrate_4`).
_TEXT_COLUMNS_V3 = {
    "ptce": (
        "id",
        "nom",
        "commune",
        "departement",
        "region",
        "stade",
        "forme_juridique",
        "site_web",
        "origine",
        "modifie_le",
        "modifie_par",
    ),
    "ptce_filiere": ("ptce_id", "filiere"),
    "membre": ("ptce_id", "nom", "categorie", "role"),
    "soutien": (
        "ptce_id",
        "niveau",
        "code",
        "type",
        "dispositif",
        "phase",
        "source_libelle",
        "source_url",
    ),
    "historique": ("ptce_id", "action", "le", "par"),
    "fait": ("sujet", "libelle", "unite", "source_libelle", "source_url"),
    "recit": ("id", "titre", "modifie_le", "par"),
}


def _migrate_4(conn: Connection) -> None:
    """Lift the length limits of text columns (PostgreSQL; nothing on SQLite).

    SQLite never enforced ``VARCHAR(n)``: long names, URLs, user names or
    ``restauration de la version 12`` (historique.action) were stored as
    they are. PostgreSQL refuses them, so its columns become ``TEXT``, as
    fast there, and both databases accept the same data.
    """
    if conn.dialect.name != "postgresql":
        return
    for table, columns in _TEXT_COLUMNS_V3.items():
        changes = ", ".join(f"ALTER COLUMN {c} TYPE TEXT" for c in columns)
        conn.exec_driver_sql(f"ALTER TABLE {table} {changes}")


def _migrate_5(conn: Connection) -> None:
    """Add the accounts of the people who may edit."""
    compte.create(conn)


def _migrate_6(conn: Connection) -> None:
    """Keep a data version in ``meta``, bumped by every write (a cheap cache key)."""
    conn.execute(
        sa.insert(meta),
        [
            {"cle": "data_epoch", "valeur": uuid.uuid4().hex[:12]},
            {"cle": "data_version", "valeur": "0"},
        ],
    )


def _bump_data_version(conn: Connection) -> None:
    # One atomic UPDATE: concurrent writers (PostgreSQL) never share a number.
    conn.execute(
        sa.update(meta)
        .where(meta.c.cle == "data_version")
        .values(valeur=sa.cast(sa.cast(meta.c.valeur, sa.Integer) + 1, sa.String))
    )


def new_data_epoch(conn: Connection) -> None:
    """Give the data a new epoch: cache keys made before can never match again.

    Used after a database is restored from a backup, whose counter may repeat
    numbers already used for other contents.

    Parameters
    ----------
    conn : sqlalchemy.engine.Connection
        In a transaction.
    """
    conn.execute(
        sa.update(meta)
        .where(meta.c.cle == "data_epoch")
        .values(valeur=uuid.uuid4().hex[:12])
    )


def _migrate_7(conn: Connection) -> None:
    """Keep a history of the récits; their current state is its first entry."""
    recit_historique.create(conn)
    rows = conn.execute(sa.select(recit)).mappings().all()
    if rows:
        conn.execute(
            sa.insert(recit_historique),
            [
                {
                    "recit_id": r["id"],
                    "version": r["version"],
                    "action": "état avant l'historique",
                    "le": r["modifie_le"],
                    "par": r["par"],
                    "titre": r["titre"],
                    "vues": r["vues"],
                }
                for r in rows
            ],
        )


def _migrate_8(conn: Connection) -> None:
    """Throttle failed sign-ins per client and identifier, not per account.

    A lock on the account itself let anyone lock its owner out with a few
    wrong guesses; ``compte.echecs`` and ``compte.bloque_jusqua`` are no
    longer used.
    """
    essai_connexion.create(conn)


def _migrate_9(conn: Connection) -> None:
    """Say which values are inferred (« déduit ») and link probable duplicates.

    A new table, empty for the PTCE already stored: their values stay as
    they are, read as sourced, and their history snapshots (without these
    keys) load with no deduction and no link.
    """
    ptce_certitude.create(conn)


#: Numbered migrations; a database at version N gets N+1… applied in order.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _migrate_1,
    2: _migrate_2,
    3: _migrate_3,
    4: _migrate_4,
    5: _migrate_5,
    6: _migrate_6,
    7: _migrate_7,
    8: _migrate_8,
    9: _migrate_9,
}
SCHEMA_VERSION = max(MIGRATIONS)


class ConflictError(SaidInFrench, RuntimeError):
    """A save based on an outdated version (message in French)."""


class NotFoundError(SaidInFrench, LookupError):
    """No PTCE with that identifier (message in French)."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def database_url(url: str | None = None) -> str:
    """Return the database URL: argument, ``DATABASE_URL``, or the default."""
    return url or os.environ.get("DATABASE_URL") or DEFAULT_URL


def _compact_json(value) -> str:
    # History snapshots are most of the database: no spaces, accents as is.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _snapshot(record: Ptce) -> dict:
    """Return the content of an aggregate without its empty fields.

    :func:`lib.domain.model.from_dict` fills them back with their defaults, so the
    snapshot loses nothing and takes half the space in the history.
    """

    def prune(value):
        if isinstance(value, dict):
            return {k: prune(v) for k, v in value.items() if v not in (None, [], ())}
        if isinstance(value, list):
            return [prune(v) for v in value]
        return value

    return prune(record.content())


def _expand(snapshot: dict | None) -> dict | None:
    return None if snapshot is None else from_dict(snapshot).content()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _binary(column: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    """Order by code points everywhere, as SQLite and Python's ``sorted`` do.

    PostgreSQL sorts text by the server's locale (``fr_FR``: case and
    accents mostly ignored), which would change the order of ids.
    """
    return sa.collate(column, "C") if dialect == "postgresql" else column


def make_engine(url: str | None = None) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; :func:`database_url` by default.

    Returns
    -------
    sqlalchemy.engine.Engine
    """
    url = database_url(url)
    # Not for URI forms (sqlite:///file:…?mode=ro&uri=true): their text is no
    # path, and a folder named "file:" would appear in the current one.
    if url.startswith("sqlite:///") and not url.startswith(
        ("sqlite:///:memory:", "sqlite:///file:")
    ):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        json_serializer=_compact_json,
        # A server may close idle connections (restart, timeout): check first.
        pool_pre_ping=not url.startswith("sqlite"),
    )
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def schema_version(conn: Connection) -> int:
    """Return the schema version of a database (0 when empty)."""
    if not sa.inspect(conn).has_table("meta"):
        return 0
    value = conn.execute(
        sa.select(meta.c.valeur).where(meta.c.cle == "schema_version")
    ).scalar()
    return int(value or 0)


#: PostgreSQL advisory lock held while migrating ("ATLAS" in ASCII).
_MIGRATION_LOCK = 0x41544C4153


def migrate(engine: Engine, target: int = SCHEMA_VERSION) -> int:
    """Upgrade the schema to ``target``, in one transaction per migration.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        The database.
    target : int
        The version to reach (the latest by default).

    Returns
    -------
    int
        The version reached.
    """
    with engine.begin() as conn:
        current = schema_version(conn)
    for number in range(current + 1, target + 1):
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Several app processes may start at once on a new database:
                # one migrates, the others wait here, then find it done.
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
                if schema_version(conn) >= number:
                    continue
            MIGRATIONS[number](conn)
            conn.execute(sa.delete(meta).where(meta.c.cle == "schema_version"))
            conn.execute(
                sa.insert(meta).values(cle="schema_version", valeur=str(number))
            )
    return max(current, target)


class Store:
    """PTCE aggregates, their history and sourced figures in one database.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; ``DATABASE_URL`` or ``data/atlas.sqlite`` by default.
    engine : sqlalchemy.engine.Engine, optional
        An existing engine (shared by Streamlit sessions).
    """

    def __init__(self, url: str | None = None, engine: Engine | None = None):
        self.engine = engine or make_engine(url)
        migrate(self.engine)

    # -- reading ------------------------------------------------------------

    def get(self, ptce_id: str, conn: Connection | None = None) -> Ptce | None:
        """Return one PTCE aggregate, or None."""
        found = self.load([ptce_id], conn)
        return found[0] if found else None

    def load(
        self, ids: Sequence[str] | None = None, conn: Connection | None = None
    ) -> list[Ptce]:
        """Return PTCE aggregates (all when ``ids`` is None), ordered by id."""
        if conn is None:
            with self.engine.connect() as conn:
                return self.load(ids, conn)
        query = sa.select(ptce).order_by(_binary(ptce.c.id, conn.dialect.name))
        if ids is not None:
            if not ids:
                return []
            query = query.where(ptce.c.id.in_(list(ids)))
        rows = conn.execute(query).mappings().all()
        wanted = [r["id"] for r in rows]
        children = self._children(conn, wanted if ids is not None else None)
        return [self._aggregate(row, children) for row in rows]

    def _children(self, conn: Connection, ids: list[str] | None) -> dict:
        def select(table: sa.Table, order: list) -> dict[str, list]:
            query = sa.select(table).order_by(table.c.ptce_id, *order)
            if ids is not None:
                query = query.where(table.c.ptce_id.in_(ids))
            grouped: dict[str, list] = {}
            for row in conn.execute(query).mappings():
                grouped.setdefault(row["ptce_id"], []).append(row)
            return grouped

        return {
            "filieres": select(ptce_filiere, [ptce_filiere.c.rang]),
            "membres": select(membre, [membre.c.rang]),
            "soutiens": select(soutien, [soutien.c.rang]),
            "certitude": select(ptce_certitude, []),
        }

    @staticmethod
    def _aggregate(row, children: dict) -> Ptce:
        pid = row["id"]
        certitude = (children["certitude"].get(pid) or [{}])[0]
        deduits = certitude.get("soutiens_deduits") or {}
        return Ptce(
            id=pid,
            nom=row["nom"],
            description=row["description"],
            commune=row["commune"],
            departement=row["departement"],
            region=row["region"],
            territoire=tuple(row["territoire"]),
            filieres=tuple(f["filiere"] for f in children["filieres"].get(pid, [])),
            stade=row["stade"],
            forme_juridique=row["forme_juridique"],
            annee_creation=row["annee_creation"],
            nb_membres=row["nb_membres"],
            emplois=row["emplois"],
            charte_signee=row["charte_signee"],
            site_web=row["site_web"],
            latitude=row["latitude"],
            longitude=row["longitude"],
            ami=tuple(Ami(**a) for a in row["ami"]),
            sources=tuple(Source(**s) for s in row["sources"]),
            membres=tuple(
                Membre(m["nom"], m["categorie"], m["role"])
                for m in children["membres"].get(pid, [])
            ),
            soutiens=tuple(
                Soutien(
                    niveau=s["niveau"],
                    code=s["code"],
                    type=s["type"],
                    dispositif=s["dispositif"],
                    montant=s["montant"],
                    annee_debut=s["annee_debut"],
                    annee_fin=s["annee_fin"],
                    phase=s["phase"],
                    source=(
                        Source(s["source_libelle"], s["source_url"])
                        if s["source_libelle"]
                        else None
                    ),
                    note=s["note"],
                    deduit=deduits.get(str(s["rang"])),
                )
                for s in children["soutiens"].get(pid, [])
            ),
            origine=row["origine"],
            deductions=dict(certitude.get("deductions") or {}),
            meme_pole_que=tuple(certitude.get("meme_pole_que") or ()),
            version=row["version"],
        )

    def ids(
        self,
        departements: Iterable[str] | None = None,
        filieres: Iterable[str] | None = None,
        origines: Iterable[str] | None = None,
    ) -> list[str]:
        """Return the ids of PTCE matching filters (OR within, AND across).

        Parameters
        ----------
        departements, filieres, origines : iterable of str, optional
            Keep PTCE whose département / one of whose filières / origin is
            in the given values. None means no filter.

        Returns
        -------
        list of str
            Matching ids, sorted.
        """
        query = sa.select(ptce.c.id).order_by(
            _binary(ptce.c.id, self.engine.dialect.name)
        )
        if departements is not None:
            query = query.where(ptce.c.departement.in_(list(departements)))
        if origines is not None:
            query = query.where(ptce.c.origine.in_(list(origines)))
        if filieres is not None:
            query = query.where(
                ptce.c.id.in_(
                    sa.select(ptce_filiere.c.ptce_id).where(
                        ptce_filiere.c.filiere.in_(list(filieres))
                    )
                )
            )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def count(self) -> int:
        """Return the number of PTCE stored."""
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(ptce)
            ).scalar_one()

    def data_version(self) -> str:
        """Return a token that changes whenever any PTCE changes (cache key).

        Two primary-key reads: every write bumps the counter in the same
        transaction, so other processes see a change at once; a restored
        backup gets a new epoch.
        """
        with self.engine.connect() as conn:
            rows = dict(
                conn.execute(
                    sa.select(meta.c.cle, meta.c.valeur).where(
                        meta.c.cle.in_(("data_epoch", "data_version"))
                    )
                ).all()
            )
        return f"{rows.get('data_epoch', '')}-{rows.get('data_version', '')}"

    def count_by_origine(self) -> dict[str, int]:
        """Return how many PTCE come from each origin (saisie, démonstration…)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(ptce.c.origine, sa.func.count()).group_by(ptce.c.origine)
            )
            return dict(rows.all())

    # -- writing ------------------------------------------------------------

    # size: 25-line numpy docstring; one transaction whose steps must stay in
    # order: version check, insert or update, children, history, data version.
    def save(
        self,
        record: Ptce,
        who: str,
        expected_version: int | None = None,
        conn: Connection | None = None,
    ) -> Ptce:
        """Create or update a PTCE aggregate, refusing a stale save.

        Parameters
        ----------
        record : Ptce
            The new content; ``record.version`` is the version it was based on
            (0 for a new PTCE) unless ``expected_version`` is given.
        who : str
            Who makes the change (recorded in the history).
        expected_version : int, optional
            The version the change was based on.
        conn : Connection, optional
            An open transaction to join (imports apply many saves at once).

        Returns
        -------
        Ptce
            The stored aggregate with its new version (unchanged content
            returns the stored aggregate as it is).

        Raises
        ------
        ConflictError
            When the stored version is not ``expected_version``.
        """
        if conn is None:
            with self.engine.begin() as conn:
                return self.save(record, who, expected_version, conn)
        expected = record.version if expected_version is None else expected_version
        current = self.get(record.id, conn)
        if (current.version if current else 0) != expected:
            raise ConflictError(self._conflict_message(conn, record, current, expected))
        if current is not None and current.content() == record.content():
            return current
        # A PTCE created again under the id of a deleted one (restore, import)
        # continues its numbering: its history never repeats a version.
        new_version = (
            expected if current is not None else _last_version(conn, record.id)
        ) + 1
        stamp, values = _now(), _row(record)
        values.update(version=new_version, modifie_le=stamp, modifie_par=who)
        if current is None:
            if not _insert_new(conn, values):  # another process created it
                raise ConflictError(
                    self._conflict_message(
                        conn, record, self.get(record.id, conn), expected
                    )
                )
        else:
            done = conn.execute(
                sa.update(ptce)
                .where(ptce.c.id == record.id, ptce.c.version == expected)
                .values(**values)
            )
            if done.rowcount != 1:  # another process saved in between
                raise ConflictError(
                    self._conflict_message(
                        conn, record, self.get(record.id, conn), expected
                    )
                )
        self._write_children(conn, record)
        stored = self.get(record.id, conn)
        assert stored is not None  # written just above, in this transaction
        conn.execute(
            sa.insert(historique).values(
                ptce_id=record.id,
                version=new_version,
                action="création" if current is None else "modification",
                le=stamp,
                par=who,
                avant=_snapshot(current) if current else None,
            )
        )
        _bump_data_version(conn)
        return stored

    def create_many(
        self, records: Sequence[Ptce], who: str, conn: Connection | None = None
    ) -> int:
        """Insert new PTCE in bulk (imports, demo, synthetic data).

        Same result as :meth:`save` for each record, in a few statements: the
        ids must not exist yet (the database refuses duplicates, and the
        whole batch is then rolled back).

        Returns
        -------
        int
            How many records were inserted.
        """
        if conn is None:
            with self.engine.begin() as conn:
                return self.create_many(records, who, conn)
        if not records:
            return 0
        stamp = _now()
        # Ids of deleted PTCE continue their numbering (see save).
        versions = {r.id: 1 for r in records}
        for start in range(0, len(records), 500):
            chunk = [r.id for r in records[start : start + 500]]
            for pid, last in conn.execute(
                sa.select(historique.c.ptce_id, sa.func.max(historique.c.version))
                .where(historique.c.ptce_id.in_(chunk))
                .group_by(historique.c.ptce_id)
            ):
                versions[pid] = last + 1
        conn.execute(
            sa.insert(ptce),
            [
                dict(_row(r), version=versions[r.id], modifie_le=stamp, modifie_par=who)
                for r in records
            ],
        )
        for table, rows in _child_rows(records).items():
            if rows:
                conn.execute(sa.insert(table), rows)
        conn.execute(
            sa.insert(historique),
            [
                {
                    "ptce_id": r.id,
                    "version": versions[r.id],
                    "action": "création",
                    "le": stamp,
                    "par": who,
                    "avant": None,
                }
                for r in records
            ],
        )
        _bump_data_version(conn)
        return len(records)

    def _conflict_message(
        self, conn: Connection, record: Ptce, current: Ptce | None, expected: int
    ) -> str:
        if current is None:
            return (
                f"Le PTCE « {record.nom} » ({record.id}) n'existe plus : il a été "
                "supprimé entre-temps. Rechargez la fiche."
            )
        last = conn.execute(
            sa.select(historique.c.le, historique.c.par)
            .where(historique.c.ptce_id == record.id)
            .order_by(historique.c.version.desc())
            .limit(1)
        ).first()
        who = f" par {last.par} le {last.le[:16].replace('T', ' ')}" if last else ""
        if expected == 0:
            return (
                f"Un PTCE avec l'identifiant « {record.id} » existe déjà "
                f"(« {current.nom} »)."
            )
        return (
            f"Le PTCE « {current.nom} » a été modifié{who} (version "
            f"{current.version}) depuis que vous l'avez ouvert (version {expected}). "
            "Votre enregistrement est refusé pour ne rien écraser : rechargez la "
            "fiche et refaites vos changements."
        )

    @staticmethod
    def _write_children(conn: Connection, record: Ptce) -> None:
        for table in (ptce_filiere, membre, soutien, ptce_certitude):
            conn.execute(sa.delete(table).where(table.c.ptce_id == record.id))
        for table, rows in _child_rows([record]).items():
            if rows:
                conn.execute(sa.insert(table), rows)

    def delete(self, ptce_id: str, who: str, expected_version: int) -> None:
        """Delete a PTCE (its history is kept and it can be restored).

        Raises
        ------
        NotFoundError
            When there is no such PTCE.
        ConflictError
            When it changed since ``expected_version``.
        """
        with self.engine.begin() as conn:
            current = self.get(ptce_id, conn)
            if current is None:
                raise NotFoundError(f"Aucun PTCE avec l'identifiant « {ptce_id} ».")
            if current.version != expected_version:
                raise ConflictError(
                    self._conflict_message(conn, current, current, expected_version)
                )
            conn.execute(sa.delete(ptce).where(ptce.c.id == ptce_id))
            conn.execute(
                sa.insert(historique).values(
                    ptce_id=ptce_id,
                    version=current.version + 1,
                    action="suppression",
                    le=_now(),
                    par=who,
                    avant=_snapshot(current),
                )
            )
            _bump_data_version(conn)

    # -- history ------------------------------------------------------------

    def history(self, ptce_id: str) -> list[dict]:
        """Return the changes of a PTCE, oldest first.

        Returns
        -------
        list of dict
            ``version``, ``action``, ``le`` (UTC ISO time), ``par``, ``avant``
            and ``apres`` (aggregate content before and after the change, or
            None when there was none: before a creation, after a deletion).
        """
        with self.engine.connect() as conn:
            rows = list(
                conn.execute(
                    sa.select(historique)
                    .where(historique.c.ptce_id == ptce_id)
                    .order_by(historique.c.version)
                ).mappings()
            )
            live = self.get(ptce_id, conn)
        entries = []
        for i, row in enumerate(rows):
            if i + 1 < len(rows):
                after = _expand(rows[i + 1]["avant"])
            elif live is not None and live.version == row["version"]:
                after = live.content()
            else:
                after = None
            entries.append(
                {
                    **{k: row[k] for k in ("version", "action", "le", "par")},
                    "avant": _expand(row["avant"]),
                    "apres": after,
                }
            )
        return entries

    def restore(self, ptce_id: str, version: int, who: str) -> Ptce:
        """Bring back the content a PTCE had at ``version`` (as a new version).

        Raises
        ------
        NotFoundError
            When that version does not exist in the history.
        """
        entries = {h["version"]: h for h in self.history(ptce_id)}
        entry = entries.get(version)
        if entry is None or entry["apres"] is None:
            raise NotFoundError(
                f"Pas de version {version} à restaurer pour « {ptce_id} »."
            )
        with self.engine.begin() as conn:
            current = self.get(ptce_id, conn)
            content = dict(entry["apres"], version=current.version if current else 0)
            restored = self.save(from_dict(content), who, conn=conn)
            if current is None or restored.version != current.version:
                # Label the entry this restore just wrote, and only that one
                # (restoring the current content writes none).
                conn.execute(
                    sa.update(historique)
                    .where(
                        historique.c.ptce_id == ptce_id,
                        historique.c.version == restored.version,
                    )
                    .values(action=f"restauration de la version {version}")
                )
            return restored

    # -- figures ------------------------------------------------------------

    def replace_faits(
        self, faits: Iterable[Fait], conn: Connection | None = None
    ) -> None:
        """Replace the sourced figures (demo loading)."""
        if conn is None:
            with self.engine.begin() as conn:
                return self.replace_faits(faits, conn)
        conn.execute(sa.delete(fait))
        rows = [
            {
                "sujet": f.sujet,
                "libelle": f.libelle,
                "valeur": f.valeur,
                "unite": f.unite,
                "annee": f.annee,
                "source_libelle": f.source.libelle,
                "source_url": f.source.url,
                "note": f.note,
            }
            for f in faits
        ]
        if rows:
            conn.execute(sa.insert(fait), rows)
        return None

    def faits(self) -> list[Fait]:
        """Return the sourced figures, grouped by subject."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(fait).order_by(
                    _binary(fait.c.sujet, conn.dialect.name), fait.c.id
                )
            )
            return [
                Fait(
                    r.sujet,
                    r.libelle,
                    r.valeur,
                    r.unite,
                    r.annee,
                    Source(r.source_libelle, r.source_url),
                    r.note,
                )
                for r in rows
            ]


def _last_version(conn: Connection, ptce_id: str) -> int:
    """Return the highest version the history knows for a PTCE (0: none)."""
    last = conn.execute(
        sa.select(sa.func.max(historique.c.version)).where(
            historique.c.ptce_id == ptce_id
        )
    ).scalar()
    return int(last or 0)


def _insert_new(conn: Connection, values: dict) -> bool:
    """Insert a new PTCE row; False when its id was taken meanwhile.

    ``ON CONFLICT DO NOTHING`` (PostgreSQL waits for the other transaction)
    keeps the transaction usable, so that the conflict can be explained.
    """
    dialect = conn.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        conn.execute(sa.insert(ptce).values(**values))
        return True
    module = postgresql if dialect == "postgresql" else sqlite
    statement = (
        module.insert(ptce)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(ptce.c.id)
    )
    return conn.execute(statement).first() is not None


def _child_rows(records: Iterable[Ptce]) -> dict[sa.Table, list[dict]]:
    rows: dict[sa.Table, list[dict]] = {
        ptce_filiere: [],
        membre: [],
        soutien: [],
        ptce_certitude: [],
    }
    for r in records:
        rows[ptce_filiere].extend(
            {"ptce_id": r.id, "filiere": f, "rang": i} for i, f in enumerate(r.filieres)
        )
        rows[membre].extend(
            {
                "ptce_id": r.id,
                "rang": i,
                "nom": m.nom,
                "categorie": m.categorie,
                "role": m.role,
            }
            for i, m in enumerate(r.membres)
        )
        rows[soutien].extend(
            {"ptce_id": r.id, "rang": i, **_soutien_columns(s)}
            for i, s in enumerate(r.soutiens)
        )
        deduits = {str(i): s.deduit for i, s in enumerate(r.soutiens) if s.deduit}
        if r.deductions or deduits or r.meme_pole_que:
            rows[ptce_certitude].append(
                {
                    "ptce_id": r.id,
                    "deductions": dict(r.deductions),
                    "soutiens_deduits": deduits,
                    "meme_pole_que": list(r.meme_pole_que),
                }
            )
    return rows


def _soutien_columns(s: Soutien) -> dict:
    # The reasoning of an inferred support lives in ptce_certitude.
    flat = s.flat()
    flat.pop("deduit")
    return flat


def _row(record: Ptce) -> dict:
    data = to_dict(record)
    for key in (
        "filieres",
        "membres",
        "soutiens",
        "version",
        "deductions",
        "meme_pole_que",
    ):
        data.pop(key)
    return data


def dumps(record: Ptce) -> str:
    """Serialise an aggregate as JSON text (CLI output)."""
    return json.dumps(to_dict(record), ensure_ascii=False, indent=1)
