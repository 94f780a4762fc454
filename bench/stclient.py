"""Minimal Streamlit protocol client, for load tests without browsers.

Speaks what the Streamlit frontend speaks on ``/_stcore/stream``: a websocket
with the ``streamlit`` subprotocol, ``BackMsg`` protobufs up (``rerun_script``
carrying a ``ClientState``; ``backend_operation_request`` for deferred
downloads) and ``ForwardMsg`` protobufs down, until ``script_finished``.

No cached message hashes are ever announced, so the server sends every
message in full (no ``ref_hash`` references to resolve). Like the frontend,
the client keeps the value of every widget of the last run (its default, or
the value the server sets) and sends them all back with each rerun;
:meth:`StreamlitSession.set_widget` changes one, as a user would.

Usage::

    async with StreamlitSession("http://localhost:8501") as s:
        run = await s.run("carte", "region=france&filiere=culture")
        print(run.seconds, run.status, run.errors, run.static_urls)
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect

#: What the app shows instead of a traceback (app.py).
APP_ERROR = b"erreur inattendue"
#: Files the Carte's browser fetches besides the websocket (GeoJSON, markers).
STATIC_URL = re.compile(rb"/app/static/(?:geo|markers)/[\w.\-]+\.(?:geojson|json)")

_STATUS = ForwardMsg.ScriptFinishedStatus
OK_STATUSES = {
    _STATUS.FINISHED_SUCCESSFULLY,
    _STATUS.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
}


@dataclass
class Download:
    """A download button seen in a run."""

    label: str
    url: str  # media URL of eager data ("" when deferred)
    deferred_file_id: str  # "" when eager


@dataclass
class RunResult:
    """One script run: from sending the rerun to ``script_finished``."""

    page: str
    query: str
    seconds: float = 0.0
    status: int | None = None
    messages: int = 0
    bytes: int = 0
    reruns: int = 0  # app-initiated st.rerun() inside this response
    errors: list[str] = field(default_factory=list)
    static_urls: set[str] = field(default_factory=set)
    downloads: list[Download] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class ProtocolError(RuntimeError):
    """The server answered something this client cannot follow."""


class StreamlitSession:
    """One browser tab: a websocket session with the Streamlit server."""

    def __init__(self, base_url: str, timeout: float = 120.0):
        self.base_url = base_url.rstrip("/")
        self.ws_url = self.base_url.replace("http", "ws", 1) + "/_stcore/stream"
        self.timeout = timeout
        self.session_id = ""
        self.pages: dict[str, str] = {}  # url path -> page_script_hash
        self.query_string = ""  # as the app last set it (page_info_changed)
        self.widgets: dict[str, WidgetState] = {}  # id -> value, as the frontend
        self.labels: dict[str, str] = {}  # widget label -> id (last run)
        self.buttons: dict[str, str] = {}  # button label -> id
        self.options: dict[str, list[str]] = {}  # widget label -> its options
        self._seen: set[str] = set()
        self._ws = None

    async def __aenter__(self) -> StreamlitSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def connect(self) -> None:
        # The frontend sends ["streamlit", xsrf token, previous session id];
        # without an Origin header the server accepts a non-browser client,
        # and without the XSRF token it simply skips the auth cookie.
        self._ws = await connect(
            self.ws_url,
            subprotocols=["streamlit"],
            max_size=None,
            open_timeout=self.timeout,
            ping_interval=None,
        )

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    async def _send(self, msg: BackMsg) -> None:
        await self._ws.send(msg.SerializeToString())

    async def _recv(self) -> tuple[ForwardMsg, bytes]:
        data = await asyncio.wait_for(self._ws.recv(), self.timeout)
        if isinstance(data, str):
            raise ProtocolError("text frame received")
        msg = ForwardMsg()
        msg.ParseFromString(data)
        return msg, data

    async def run(self, page: str, query: str = "", click: str = "") -> RunResult:
        """Rerun the app on ``page`` (url path) with ``query``; wait for the end.

        ``click``: label of a button drawn by the last run, pressed for this
        run only (a trigger, as the frontend sends it).
        """
        back = BackMsg()
        state = back.rerun_script
        state.query_string = query
        state.page_name = page
        # After the first run the frontend names pages by hash (navigation).
        if page in self.pages:
            state.page_script_hash = self.pages[page]
        state.widget_states.widgets.extend(self.widgets.values())
        if click:
            if click not in self.buttons:
                raise ProtocolError(f"no button labelled {click!r}")
            state.widget_states.widgets.append(
                WidgetState(id=self.buttons[click], trigger_value=True)
            )
        self._seen = set()
        result = RunResult(page, query)
        start = time.perf_counter()
        await self._send(back)
        while True:
            msg, data = await self._recv()
            result.messages += 1
            result.bytes += len(data)
            self._inspect(msg, data, result)
            if msg.WhichOneof("type") == "script_finished":
                status = msg.script_finished
                if status == _STATUS.FINISHED_EARLY_FOR_RERUN:
                    result.reruns += 1  # st.rerun(): a new run follows
                    continue
                result.status = status
                break
        # The frontend forgets the widgets that the last run did not draw.
        self.widgets = {k: v for k, v in self.widgets.items() if k in self._seen}
        result.seconds = time.perf_counter() - start
        if result.status not in OK_STATUSES:
            result.errors.append(f"script finished with status {result.status}")
        return result

    def _inspect(self, msg: ForwardMsg, data: bytes, result: RunResult) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            init = msg.new_session.initialize
            if init.session_id:
                self.session_id = init.session_id
            for p in msg.new_session.app_pages:
                if p.url_pathname:
                    self.pages[p.url_pathname] = p.page_script_hash
        elif kind == "navigation":
            for p in msg.navigation.app_pages:
                if p.url_pathname:
                    self.pages[p.url_pathname] = p.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "page_not_found":
            result.errors.append(f"page not found: {result.page}")
        elif kind == "delta":
            if APP_ERROR in data:
                result.errors.append("app error message (erreur inattendue)")
            result.static_urls.update(u.decode() for u in STATIC_URL.findall(data))
            delta = msg.delta
            if delta.WhichOneof("type") != "new_element":
                return
            element = delta.new_element
            which = element.WhichOneof("type")
            if which == "exception":
                exc = element.exception
                result.errors.append(f"exception {exc.type}: {exc.message[:200]}")
            elif which == "download_button":
                b = element.download_button
                result.downloads.append(Download(b.label, b.url, b.deferred_file_id))
            elif which == "button":
                self.buttons[element.button.label] = element.button.id
            elif which in _WIDGETS:
                self._widget(getattr(element, which), which)

    def _widget(self, proto, which: str) -> None:
        wid = proto.id
        self._seen.add(wid)
        self.labels[proto.label] = wid
        if which in ("selectbox", "radio", "multiselect"):
            self.options[proto.label] = list(proto.options)
        if wid in self.widgets and not proto.set_value:
            return  # the frontend keeps what the user chose
        state = _initial_state(proto, which)
        if state is not None:
            self.widgets[wid] = state

    def set_widget(self, label: str, value) -> bool:
        """Give the widget labelled ``label`` a new value (next rerun sends it).

        ``value``: a list of option strings (multiselect, pills), a string
        (selectbox, radio, text input), a bool or a list of numbers (slider).
        Returns False when no such widget was drawn by the last run.
        """
        wid = self.labels.get(label)
        if wid is None or wid not in self.widgets:
            return False
        state = WidgetState(id=wid)
        kind = self.widgets[wid].WhichOneof("value")
        if kind == "string_array_value":
            state.string_array_value.data.extend(value)
        elif kind == "double_array_value":
            state.double_array_value.data.extend(value)
        else:
            setattr(state, kind, value)
        self.widgets[wid] = state
        return True

    async def deferred_file(self, file_id: str) -> str:
        """Ask the server to make a deferred download; return its media URL."""
        back = BackMsg()
        req = back.backend_operation_request
        req.request_id = str(uuid.uuid4())
        req.session_id = self.session_id
        req.deferred_file.file_id = file_id
        await self._send(back)
        while True:
            msg, _ = await self._recv()
            if msg.WhichOneof("type") != "backend_operation_response":
                continue
            resp = msg.backend_operation_response
            if resp.request_id != req.request_id:
                continue
            if resp.error_msg:
                raise ProtocolError(f"deferred file failed: {resp.error_msg}")
            return resp.deferred_file.url


_WIDGETS = {
    "selectbox", "radio", "multiselect", "button_group", "slider",
    "text_input", "text_area", "checkbox", "number_input",
}  # fmt: skip


def _has(proto, name: str) -> bool:
    try:
        return proto.HasField(name)
    except ValueError:  # not an optional field: always present
        return True


def _initial_state(proto, which: str) -> WidgetState | None:
    # What the frontend sends for a widget it has just drawn: the value set
    # by the server when there is one, otherwise the default.
    state = WidgetState(id=proto.id)
    if which in ("selectbox", "radio"):
        if proto.set_value and _has(proto, "raw_value"):
            state.string_value = proto.raw_value
        elif _has(proto, "default") and 0 <= proto.default < len(proto.options):
            state.string_value = proto.options[proto.default]
        else:
            return None  # no selection: nothing sent
    elif which == "multiselect":
        values = (
            list(proto.raw_values)
            if proto.set_value
            else [proto.options[i] for i in proto.default]
        )
        state.string_array_value.data.extend(values)
    elif which == "button_group":
        values = (
            list(proto.raw_values)
            if proto.set_value
            else [proto.options[i].content for i in proto.default]
        )
        state.string_array_value.data.extend(values)
    elif which == "slider":
        if proto.options:
            return None  # select_slider: not used by the app
        values = proto.value if proto.set_value else proto.default
        state.double_array_value.data.extend(values)
    elif which in ("text_input", "text_area"):
        value = proto.value if proto.set_value and _has(proto, "value") else None
        if value is None:
            if not _has(proto, "default"):
                return None
            value = proto.default
        state.string_value = value
    elif which == "checkbox":
        state.bool_value = proto.value if proto.set_value else proto.default
    elif which == "number_input":
        value = proto.value if proto.set_value else proto.default
        state.double_value = value
    return state


class Http:
    """Blocking HTTP GETs run on a pool of their own (not the loop's default)."""

    def __init__(self, base_url: str, workers: int = 32):
        self.base_url = base_url.rstrip("/")
        self._pool = ThreadPoolExecutor(max_workers=workers)

    def _get(self, path: str) -> int:
        url = path if path.startswith("http") else self.base_url + path
        with urllib.request.urlopen(url, timeout=120) as r:
            if r.status != 200:
                raise ProtocolError(f"HTTP {r.status} for {path}")
            return len(r.read())

    async def get(self, path: str) -> tuple[float, int]:
        """Fetch ``path``; return (seconds, bytes). Raises on HTTP errors."""
        start = time.perf_counter()
        size = await asyncio.get_running_loop().run_in_executor(
            self._pool, self._get, path
        )
        return time.perf_counter() - start, size

    def close(self) -> None:
        self._pool.shutdown(wait=False)
