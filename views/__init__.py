"""Views of the atlas, and the Streamlit helpers they share.

Each view module holds one ``render()`` function that ``app.py`` registers
with ``st.navigation``. The helpers below are the only place where views
load cached data, so that no view reads or simplifies geodata itself.

The folder is called ``views/``, not ``pages/``: beside an entry point that
calls ``st.navigation``, a ``pages/`` folder starts Streamlit's legacy
multipage mode on the first run after the server starts (a deep link would
run a page file on its own).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping

import streamlit as st

from geo.boundaries import ATTRIBUTION, CacheMissing, geojson
from geo.build import cache_dir
from geo.lookup import commune_points
from lib.domain.selection import Filters, Frames, build_frames
from lib.rendering.web.maps import REMOTE_MARKERS_FROM, marker_file, marker_rows
from lib.store.accounts import SESSION_COOKIE, session_token, user_from_token
from lib.store.accounts import client_key as auth_client_key
from lib.store.backups import backup_if_due
from lib.store.database import open_store, writable
from lib.store.ptce import Store, database_url

_LOG = logging.getLogger("atlas")

#: Where app.py keeps the current filters for the pages of this run.
FILTERS_KEY = "_filters"


@st.cache_resource(show_spinner=False)
def _store(url: str) -> Store:
    # One engine (connection pool) shared by every session: a thread-safe
    # handle, hence cache_resource. Checked first (damaged, newer schema…):
    # a failure raises a French error and is not cached, so the next run
    # tries again once the database is repaired.
    return open_store(url)


def get_store() -> Store:
    """Return the store of ``DATABASE_URL`` (default ``data/atlas.sqlite``).

    Raises a :mod:`lib.domain.errors` exception (shown by ``lib.domain.errors.explain``)
    when the database is damaged, missing or of a newer schema.
    """
    url = database_url()
    store = _store(url)
    _backup_schedule(url)
    return store


@st.cache_resource(show_spinner=False, ttl=60)
def _writable(url: str) -> bool:
    return writable(_store(url))


def read_only() -> bool:
    """True when the database cannot be written (checked once a minute)."""
    return not _writable(database_url())


#: Shown on every page while the database is read-only.
READ_ONLY_NOTICE = (
    "La base de données est en lecture seule : la consultation reste possible, "
    "mais les modifications (formulaires, import, récits) sont indisponibles. "
    "Demandez à l'administrateur du serveur de la rendre accessible en écriture."
)


def database_notice() -> None:
    """Open the database, and say so on the page when it is read-only.

    Raises the French error of :func:`get_store` when it cannot be opened,
    before any widget is drawn.
    """
    get_store()
    if read_only():
        st.warning(READ_ONLY_NOTICE, icon=":material/lock:")


@st.cache_resource(show_spinner=False)
def _backup_schedule(url: str) -> threading.Thread:
    # One thread per server process and database: every hour, a backup if
    # the newest is older than PTCE_BACKUP_HOURS (SQLite only).
    def loop() -> None:
        while True:
            try:
                backup_if_due(url)
            except Exception:  # a failed backup must not stop the next ones
                _LOG.exception("Sauvegarde planifiée impossible")
            time.sleep(3600)

    thread = threading.Thread(target=loop, name="atlas-backups", daemon=True)
    thread.start()
    return thread


# cache_resource, not cache_data: the frames are never modified (filtering
# returns new frames) and cache_data would unpickle a copy on every access,
# 150 MB and half a second per call with 100,000 PTCE.
@st.cache_resource(show_spinner="Chargement des PTCE…", max_entries=2)
def _frames(url: str, version: str, folder: str) -> Frames:
    del version, folder  # cache keys: the data and the boundary cache
    try:
        points = commune_points()
    except CacheMissing:
        points = {}
    return build_frames(_store(url).load(), points)


def get_frames() -> Frames:
    """Return every PTCE as flat tables (rebuilt only when the data change)."""
    return _frames(*data_key())


# The sidebar counter and the page both need the selection: filter once per
# data version and set of filters, shared by the sessions that agree.
@st.cache_resource(show_spinner=False, max_entries=32)
def _filtered(url: str, version: str, folder: str, filters: Filters) -> Frames:
    return _frames(url, version, folder).filtered(filters)


@st.cache_resource(show_spinner=False, max_entries=32)
def _markers(url: str, version: str, folder: str, filters: Filters) -> tuple:
    rows = marker_rows(_filtered(url, version, folder, filters).ptce)
    return rows, (marker_file(rows) if len(rows) >= REMOTE_MARKERS_FROM else None)


def markers() -> tuple[list[list], str | None]:
    """Return the map's marker rows for the current filters, and their file URL.

    Built once per data version and set of filters (100,000 rows take a
    second to make and write); the URL is None for small selections, whose
    rows travel in the map's script.
    """
    return _markers(*data_key(), current_filters())


def current_filters() -> Filters:
    """Return the filters set in the sidebar (or, outside the app, in the URL)."""
    filters = st.session_state.get(FILTERS_KEY)
    if filters is None:
        filters = Filters.from_params(query_params())
    return filters


def filtered(filters: Filters | None = None) -> Frames:
    """Return the frames restricted to the current filters (or ``filters``)."""
    return selection_of(data_key(), filters or current_filters())


def data_key() -> tuple[str, str, str]:
    """Return the cache key of the data: database URL, data version, cache folder."""
    return (database_url(), get_store().data_version(), str(cache_dir()))


def selection_of(key: tuple[str, str, str], filters: Filters) -> Frames:
    """Return the frames of ``filters`` for a :func:`data_key` (cached)."""
    return _filtered(*key, filters)


def query_params() -> dict[str, list[str]]:
    """Return the URL query parameters with every value as a list."""
    return {key: st.query_params.get_all(key) for key in st.query_params}


def set_query_params(params: dict[str, str | list[str]], owned: Iterable[str]) -> None:
    """Mirror ``params`` in the URL for the keys in ``owned`` (others untouched).

    Only differences are written, so an unchanged state rewrites nothing.
    """
    for key in owned:
        wanted = params.get(key)
        if wanted in (None, "", []):
            if key in st.query_params:
                del st.query_params[key]
            continue
        wanted_list = [wanted] if isinstance(wanted, str) else list(wanted)
        if st.query_params.get_all(key) != wanted_list:
            st.query_params[key] = (
                wanted_list if len(wanted_list) > 1 else wanted_list[0]
            )


def url_first(
    marker: str,
    widgets: Callable[[dict[str, list[str]]], Mapping[str, object]],
    token: object = True,
    kept: str | None = None,
) -> bool:
    """URL first, widgets after: set widget states from the URL once.

    The one idiom of every view: on the first run of a session (or when
    ``token`` changes, e.g. another récit), the URL decides the widgets'
    values; afterwards the widgets lead and the view mirrors them in the URL
    (:func:`set_query_params`).

    Parameters
    ----------
    marker : str
        Session key remembering that the URL was read (and its ``token``).
    widgets : callable
        From the URL parameters (:func:`query_params`), the widget values to
        set: ``{widget key: value}``.
    token : object
        What the URL was read for; a new token reads it again.
    kept : str, optional
        Session key of widget values kept aside by the view: Streamlit
        forgets a widget's state on a run that does not draw it (another
        view), so they are put back when the view comes back.

    Returns
    -------
    bool
        True on the run that read the URL.
    """
    state = st.session_state
    if state.get(marker, _UNSET) == token:
        for key, value in (state.get(kept, {}) if kept else {}).items():
            if key not in state:
                state[key] = value
        return False
    state[marker] = token
    for key, value in widgets(query_params()).items():
        state[key] = value
    return True


_UNSET = object()


def load_geojson(
    level: str, detail: str = "national", region: str | None = None
) -> str:
    """Return the compact GeoJSON of a level (read once, shared by sessions)."""
    return _load_geojson(level, detail, region, str(cache_dir()))


# The text is immutable, so one copy is shared by every session (no per-rerun
# copy of hundreds of kilobytes); the cache folder is part of the key.
@st.cache_resource(show_spinner="Chargement des contours…")
def _load_geojson(level: str, detail: str, region: str | None, folder: str) -> str:
    del folder  # only part of the cache key: geojson() reads cache_dir() itself
    return geojson(level, detail, region)


def boundaries_error() -> str | None:
    """Return a French explanation when the boundary cache is unusable."""
    try:
        load_geojson("region")
    except CacheMissing as exc:
        return (
            f"{exc} Si la source des contours n'est pas dans "
            "../shared/geo/france-geojson-2018, indiquez son chemin dans la "
            "variable d'environnement PTCE_GEO_SOURCE (dossier france-geojson "
            "ou fichier IGN ADMIN EXPRESS COG), puis relancez « make run »."
        )
    return None


def attribution() -> None:
    """Show the data sources and licences line under a map."""
    st.caption(ATTRIBUTION)


#: Where the signed-in user of a session is kept.
USER_KEY = "_user"


#: The cookie change the next run of the Données page writes (a script).
_COOKIE_PENDING = "_session_cookie"
#: A token this session must not reopen (signed out, or found invalid):
#: ``st.context.cookies`` keeps the cookies of the page load until a reload.
_COOKIE_IGNORED = "_session_cookie_ignored"
_TOKEN = re.compile(r"^[A-Za-z0-9_.-]{1,1000}$")


def current_user():
    """Return the signed-in :class:`lib.store.accounts.User` of this session, or None.

    A new session (a reload, a new tab) is reopened from the browser's
    session cookie when its token is still valid. An expired session is
    closed here, so every page sees it at once.
    """
    user = st.session_state.get(USER_KEY)
    if user is None:
        user = _user_from_cookie()
    if user is not None and user.expired():
        del st.session_state[USER_KEY]
        st.toast("Session expirée : reconnectez-vous pour modifier.")
        return None
    return user


def _user_from_cookie():
    token = st.context.cookies.get(SESSION_COOKIE)
    if not token or token == st.session_state.get(_COOKIE_IGNORED):
        return None
    user = user_from_token(get_store(), token)
    if user is None:
        # Checked once per session, not on every run.
        st.session_state[_COOKIE_IGNORED] = token
        return None
    st.session_state[USER_KEY] = user
    return user


def client_key() -> str:
    """Return the key that throttles this browser's sign-ins (its address)."""
    return auth_client_key(
        st.context.ip_address, st.context.headers.get("X-Forwarded-For")
    )


def remember_session(user) -> None:
    """Sign ``user`` in for this session and, by a cookie, for later reloads.

    The cookie is written by :func:`write_session_cookie` on the next run of
    the Données page (callers rerun right after signing in).
    """
    st.session_state[USER_KEY] = user
    token = session_token(get_store(), user)
    if not _TOKEN.match(token):  # never put anything else into a script
        return
    seconds = max(int((user.expires - _utc_now()).total_seconds()), 1)
    # HttpOnly is impossible from a script, and Secure only over HTTPS (the
    # atlas also runs on http://localhost): Secure is added when the page is
    # served over HTTPS. SameSite=Strict: never sent by another site.
    st.session_state[_COOKIE_PENDING] = (
        f"{SESSION_COOKIE}={token}; Path=/; Max-Age={seconds}; SameSite=Strict"
    )


def forget_session() -> None:
    """Sign out of this session and clear the browser's session cookie."""
    st.session_state.pop(USER_KEY, None)
    st.session_state[_COOKIE_IGNORED] = st.context.cookies.get(SESSION_COOKIE)
    st.session_state[_COOKIE_PENDING] = (
        f"{SESSION_COOKIE}=; Path=/; Max-Age=0; SameSite=Strict"
    )


def write_session_cookie() -> None:
    """Write the cookie change asked for by the last sign-in or sign-out."""
    cookie = st.session_state.pop(_COOKIE_PENDING, None)
    if cookie is None:
        return
    # st.html runs the script in the page itself (no iframe): the cookie is
    # the app's own, sent with the next page load.
    st.html(
        "<script>document.cookie = "
        f"{json.dumps(cookie)} + "
        '(location.protocol === "https:" ? "; Secure" : "");</script>',
        unsafe_allow_javascript=True,
    )


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def oidc_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` holds an ``[auth]`` section."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        return False


def prepared_download(
    label: str,
    key: str,
    make,
    file_name: str,
    mime: str,
    signature: str = "",
    icon: str = ":material/download:",
) -> None:
    """A two-step download: "Préparer" makes the file, then it can be saved.

    Streamlit's own deferred downloads (``data=callable``) keep the made file
    only until two other script runs end anywhere on the server: under load
    the browser can find it gone (404, seen with 20 sessions). Here the bytes
    belong to the session (``st.session_state``) and are dropped as soon as
    the view they were made for changes (``signature``).

    The file is drawn in a worker process (:mod:`lib.worker`): the export
    functions ``make`` calls (:func:`lib.rendering.print.static_map.render_map`,
    :func:`lib.rendering.print.slides.recit_zip`…) run there, so that making a récit's
    ZIP
    does not hold the server for the other sessions. A failure is said in
    French on the next run (:func:`lib.domain.errors.explain`), with a reference in
    the log.

    Parameters
    ----------
    label : str
        What is exported ("PNG 300 dpi").
    key : str
        Widget and session key, unique on the page.
    make : callable
        ``() -> bytes``, run when "Préparer" is clicked; the export
        functions it calls run in a worker.
    file_name, mime : str
        Of the download.
    signature : str
        Identifies the view exported; a stored file of another view is dropped.
    icon : str
        Material icon of the buttons.
    """
    stored = st.session_state.get(key)
    if stored is not None and stored[0] != signature:
        del st.session_state[key]
        stored = None
    failed = st.session_state.pop(f"{key}_erreur", None)
    if failed is not None:
        st.error(failed, icon=":material/error:")
    if stored is None:
        # A callback: the file is made before the rerun that shows it.
        st.button(
            f"Préparer : {label}",
            key=f"{key}_preparer",
            icon=icon,
            on_click=_prepare,
            args=(key, signature, make),
        )
        return
    st.download_button(
        f"Télécharger : {label}",
        data=stored[1],
        file_name=file_name,
        mime=mime,
        key=f"{key}_telecharger",
        on_click="ignore",
        icon=icon,
        type="primary",
    )


def _prepare(key: str, signature: str, make) -> None:
    from lib.domain.errors import explain
    from lib.worker import offloading

    try:
        # The export functions called by make() run in a worker process:
        # this thread waits for the bytes without holding the GIL.
        with offloading():
            data = make()
    except Exception as exc:
        ref = uuid.uuid4().hex[:8]
        _LOG.exception("Export %s impossible (référence %s)", key, ref)
        st.session_state[f"{key}_erreur"] = explain(exc, for_app=True, ref=ref)
        return
    st.session_state[key] = (signature, data)
