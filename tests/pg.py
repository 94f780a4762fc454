"""A throw-away PostgreSQL server for the storage tests.

``TEST_POSTGRES_URL`` (``postgresql+psycopg://user:pass@host:port/db``, a role
allowed to CREATE DATABASE) points the tests at an existing server. Otherwise
:func:`temporary_server` starts one with Debian's binaries (package
``postgresql``, installed by ``make test``): ``initdb`` into a temporary
directory owned by ``postgres`` (the server refuses to run as root), trust
authentication, listening on 127.0.0.1 on a free port, stopped at the end.

Each test gets its own database (:meth:`Server.create_database`), dropped
afterwards.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

INSTALL_HINT = (
    "PostgreSQL est introuvable (initdb, pg_ctl) : les tests du stockage "
    "tournent aussi sur PostgreSQL. `make test` installe le paquet Debian "
    "« postgresql » (apt-get install -y postgresql) ; ou bien définissez "
    "TEST_POSTGRES_URL=postgresql+psycopg://… vers un serveur existant."
)


class Server:
    """A PostgreSQL server on which tests create and drop databases.

    Parameters
    ----------
    url : str
        SQLAlchemy URL of a database of the server, for a role allowed to
        create databases.
    """

    def __init__(self, url: str):
        self.url = sa.make_url(url)
        self._admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")

    def create_database(self) -> str:
        """Create an empty database and return its URL (password included)."""
        name = f"atlas_test_{uuid.uuid4().hex[:12]}"
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`create_database`, connections or not."""
        name = sa.make_url(url).database
        assert name and name.startswith("atlas_test_"), name
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """Close the administration connections."""
        self._admin.dispose()


def _binaries() -> Path:
    """Return the folder of initdb and pg_ctl (newest Debian version first)."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent

    def version(path: str) -> int:
        match = re.search(r"/postgresql/(\d+)/", path)
        return int(match.group(1)) if match else 0

    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version)[::-1]:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    raise RuntimeError(INSTALL_HINT)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def temporary_server() -> Iterator[Server]:
    """Start a throw-away PostgreSQL cluster; stop and delete it at the end.

    Raises
    ------
    RuntimeError
        When PostgreSQL's binaries are missing (says how to install them).
    """
    bindir = _binaries()
    root = Path(tempfile.mkdtemp(prefix="atlas-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, log = root / "data", root / "server.log"

    def run(*args: str) -> None:
        done = subprocess.run(
            [*run_as, *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(args[:2])} a échoué ({done.returncode}) :\n"
                f"{done.stdout}\n{done.stderr}\n{tail}"
            )

    # UTF-8 with a French ICU collation, like a server set up in France:
    # orderings must not depend on the server's locale.
    run(
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "--auth=trust",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
        "--locale-provider=icu",
        "--icu-locale=fr-FR",
        "--no-sync",
    )
    port = _free_port()
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    # -w: pg_ctl polls until the server accepts connections.
    run(
        str(bindir / "pg_ctl"),
        *("-D", str(data), "-l", str(log), "-o", options, "-w", "start"),
    )
    server = None
    try:
        server = Server(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")
        yield server
    finally:
        if server is not None:
            server.close()
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[Server]:
    """The server named by ``TEST_POSTGRES_URL``, or a temporary one."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        server = Server(url)
        try:
            yield server
        finally:
            server.close()
    else:
        with temporary_server() as server:
            yield server
