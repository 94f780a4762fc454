"""Shared fixtures: one factory for tiny boundary sources, the built cache."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

from geo import build as geobuild
from geo.reference import load_reference
from tests import pg

ROOT = Path(__file__).resolve().parent.parent

# Four unit squares side by side (west to east). The first carries a former
# code merged into the second since 2018, so the build must dissolve them.
# Codes are real: Ancenis-Saint-Géréon (44003, former 44160 = Saint-Géréon)
# and another member of the CC du Pays d'Ancenis, then a commune of Angers.
TINY_COMMUNES = [
    ("44160", "Saint-Géréon"),
    ("44003", "Ancenis"),
    ("44213", "Loireauxence"),
    ("49007", "Angers"),
]


def _tiny_frame(crs: int = 4326) -> gpd.GeoDataFrame:
    x0, y0, side = -1.30, 47.30, 0.05
    frame = gpd.GeoDataFrame(
        {
            "code": [c for c, _ in TINY_COMMUNES],
            "nom": [n for _, n in TINY_COMMUNES],
        },
        geometry=[
            box(x0 + i * side, y0, x0 + (i + 1) * side, y0 + side)
            for i in range(len(TINY_COMMUNES))
        ],
        crs=4326,
    )
    return frame.to_crs(crs)


@pytest.fixture
def make_source(tmp_path: Path) -> Callable[[str], Path]:
    """Write a tiny boundary source of a named kind and return its path.

    Variants
    --------
    ``geojson``: a france-geojson folder (``communes/communes-44-….geojson``)
    ``gpkg``: an IGN ADMIN EXPRESS GeoPackage, layer COMMUNE, Lambert 93
    ``shp``: an IGN ADMIN EXPRESS folder holding ``COMMUNE.shp``, Lambert 93
    """

    def make(variant: str) -> Path:
        if variant == "geojson":
            folder = tmp_path / "france-geojson"
            (folder / "communes").mkdir(parents=True)
            frame = _tiny_frame()
            for dep in ("44", "49"):
                part = frame[frame["code"].str.startswith(dep)]
                (folder / "communes" / f"communes-{dep}-test.geojson").write_text(
                    part.to_json(), encoding="utf-8"
                )
            return folder
        frame = _tiny_frame(2154).rename(columns={"code": "INSEE_COM", "nom": "NOM"})
        if variant == "gpkg":
            path = tmp_path / "ADMIN-EXPRESS-COG.gpkg"
            frame.to_file(path, layer="commune", driver="GPKG")
            return path
        if variant == "shp":
            folder = tmp_path / "ADMIN-EXPRESS-COG" / "1_DONNEES_LIVRAISON"
            folder.mkdir(parents=True)
            frame.to_file(folder / "COMMUNE.shp")
            return tmp_path / "ADMIN-EXPRESS-COG"
        raise ValueError(variant)

    return make


@pytest.fixture(scope="session")
def built_cache() -> dict:
    """The real boundary cache from ../shared/geo (built if missing or stale)."""
    source = geobuild.locate_source()
    return geobuild.build(source, log=lambda _line: None)


@pytest.fixture(scope="session")
def ref():
    """The committed COG 2026 reference."""
    return load_reference()


# -- databases: every storage test runs on SQLite and on PostgreSQL -------------

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pg.Server]:
    """A PostgreSQL server for the session (``TEST_POSTGRES_URL`` or temporary).

    Fails, with how to install it, when PostgreSQL is missing: the storage
    tests must run on both backends, never skip one silently.
    """
    with ExitStack() as stack:
        try:
            server = stack.enter_context(pg.postgres_server())
        except RuntimeError as error:
            pytest.fail(str(error), pytrace=False)
        yield server


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """The database backend of a storage test: ``sqlite`` or ``postgresql``."""
    return request.param


@pytest.fixture
def new_database_url(backend, request, tmp_path) -> Iterator[Callable[[], str]]:
    """Return a factory of fresh empty database URLs on the test's backend.

    SQLite files go to ``tmp_path``; PostgreSQL databases are created on the
    session's server and dropped after the test.
    """
    made: list[str] = []
    server = (
        request.getfixturevalue("postgres_server") if backend == "postgresql" else None
    )

    def make() -> str:
        if server is None:
            url = f"sqlite:///{tmp_path / f'db{len(made)}.sqlite'}"
        else:
            url = server.create_database()
        made.append(url)
        return url

    yield make
    if server is not None:
        for url in made:
            server.drop_database(url)


@pytest.fixture
def database_url(new_database_url) -> str:
    """A fresh empty database URL (SQLite file or PostgreSQL database)."""
    return new_database_url()


@pytest.fixture
def postgres_url(postgres_server) -> Iterator[str]:
    """A fresh empty PostgreSQL database URL (PostgreSQL-only tests)."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


def geojson_features(text: str) -> list[dict]:
    """Parse a GeoJSON FeatureCollection text into its features."""
    return json.loads(text)["features"]


@pytest.fixture(scope="module")
def browser():
    """Chromium for the real-browser tests of one module (see tests/browser.py)."""
    from tests.browser import chromium

    with chromium() as b:
        yield b


# -- the real-browser tests' server ----------------------------------------------
# Modules that need other data define their own ``database``/``server``.


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> dict[str, str]:
    """A demo database of a test module's own (never data/atlas.sqlite).

    The demo plus the records of :func:`tests.test_carte.make_records`, as
    the environment of a server (``DATABASE_URL``).
    """
    from lib.io.demo import install_demo
    from lib.store.ptce import Store
    from tests.test_carte import make_records

    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'atlas.sqlite'}"
    store = Store(url)
    install_demo(store)
    store.create_many(make_records(), "test")
    return {"DATABASE_URL": url}


@pytest.fixture(scope="module")
def server(built_cache, database):
    """The app on :func:`database`, started once per module; yields its URL."""
    from tests.browser import streamlit_server

    with streamlit_server(ROOT, env=database) as url:
        yield url
