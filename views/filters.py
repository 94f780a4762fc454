"""The shared filters of every view, in the sidebar, mirrored in the URL.

They are drawn around ``st.navigation`` (:mod:`app`), so that they are the same on
every view and keep their values when the view changes. Their state is
mirrored in the URL query parameters: a copied link reopens the same view.
"""

from __future__ import annotations

import logging

import streamlit as st

from geo.lookup import epci_in
from geo.reference import load_reference
from lib.domain.model import (
    FILIERES,
    FORMES_JURIDIQUES,
    NIVEAU_LABELS,
    NIVEAUX,
    STADES,
    TYPES_AMI,
    TYPES_SOUTIEN,
)
from lib.domain.selection import FILTER_FIELDS, FILTER_PARAMS, FRANCE, Filters
from lib.domain.soutiens import SOURCE_TYPES, definition
from lib.domain.soutiens import libelle as libelle_type
from lib.fr import integer, sort_key
from views import (
    FILTERS_KEY,
    filtered,
    get_frames,
    set_query_params,
    url_first,
)

_LOG = logging.getLogger("atlas")

#: Widget key per Filters field (lib.domain.selection.FILTER_FIELDS).
_KEYS = {f.name: f.key for f in FILTER_FIELDS}
YEARS = (1990, 2026)
#: Streamlit's « Select all » entry is in English and cannot be translated;
#: « Tous » (nothing chosen) already means every value.
_NO_SELECT_ALL = {"select_all": False}
#: Help of the « Types de soutien » filter: each type and its definition.
_TYPES_HELP = (
    "Les manières de soutenir un PTCE, selon le guide "
    + SOURCE_TYPES
    + " :\n\n"
    + "\n".join(f"- **{libelle_type(t)}** : {definition(t)}" for t in TYPES_SOUTIEN)
)


def _widget_values(filters: Filters) -> dict[str, object]:
    """The sidebar's widget values showing ``filters``."""
    values: dict[str, object] = {}
    for f in FILTER_FIELDS:
        value = getattr(filters, f.name)
        if f.kind == "region":
            values[f.key] = value or FRANCE
        elif f.kind == "list":
            values[f.key] = list(value)
        elif f.kind == "years":
            values[f.key] = value or YEARS
        else:
            values[f.key] = value
    return values


def _from_widgets(values: dict[str, object]) -> Filters:
    """The filters the sidebar's widget values say (by Filters field)."""
    fields: dict[str, object] = {}
    for f in FILTER_FIELDS:
        value = values[f.name]
        if f.kind == "region":
            fields[f.name] = None if value == FRANCE else value
        elif f.kind == "list":
            fields[f.name] = tuple(value)
        elif f.kind == "years":
            fields[f.name] = None if tuple(value) == YEARS else tuple(value)
        else:
            fields[f.name] = str(value).strip()
    return Filters(**fields)


def _reset() -> None:
    st.session_state.update(_widget_values(Filters()))


def filters_sidebar() -> Filters:
    """Draw the shared filters in the sidebar and return their value.

    On the first run of a session the widgets take their values from the URL;
    afterwards the widgets lead and the URL follows them.
    """
    ref = load_reference()
    state = st.session_state
    url_first(
        "_filters_from_url",
        lambda params: _widget_values(Filters.from_params(params, ref)),
    )

    sb = st.sidebar
    sb.header("Filtres")
    # Filled once the filters are known, but shown above them: always in view.
    counter_slot = sb.container()
    _territory_choices(ref)
    _choice("Filières", "filieres", FILIERES, "Toutes")
    _choice("Stades", "stades", STADES)
    _choice("Formes juridiques", "formes", FORMES_JURIDIQUES, "Toutes")
    _choice(
        "Types de soutien",
        "types_soutien",
        TYPES_SOUTIEN,
        # Stored codes stay stable; people read the guide's wording.
        format_func=libelle_type,
        help=_TYPES_HELP,
    )
    _choice(
        "Collectivités qui soutiennent",
        "niveaux",
        NIVEAUX,
        "Tous niveaux",
        format_func=lambda n: NIVEAU_LABELS[n],
    )
    _choice("AMI gagnés", "ami", TYPES_AMI)
    sb.slider("Année de création", *YEARS, key=_KEYS["annees"])
    sb.text_input("Recherche", key=_KEYS["texte"], placeholder="nom, commune, membre…")

    # Every widget has its key: the session state holds what they show.
    filters = _from_widgets({f.name: state[f.key] for f in FILTER_FIELDS})
    set_query_params(filters.to_params(), FILTER_PARAMS)
    state[FILTERS_KEY] = filters
    _counter(filters, counter_slot)

    sb.divider()
    sb.caption("Filtres actifs : " + " · ".join(filters.active(ref)))
    sb.button(
        "Réinitialiser les filtres",
        on_click=_reset,
        disabled=filters.is_default(),
        use_container_width=True,
    )
    return filters


def _territory_choices(ref) -> None:
    # Région, then the départements of that région, then the EPCI of those
    # départements: each list narrows the next one.
    regions = [
        FRANCE,
        *sorted(
            (r.code for r in ref.regions.values() if r.zone != "com"),
            key=lambda c: sort_key(ref.regions[c].nom),  # Île-de-France among the I
        ),
    ]
    region = st.sidebar.selectbox(
        "Région",
        regions,
        key=_KEYS["region"],
        format_func=lambda c: "France entière" if c == FRANCE else ref.regions[c].nom,
    )
    deps = sorted(
        (
            d.code
            for d in ref.departements.values()
            if d.zone != "com" and region in (FRANCE, d.region)
        ),
        key=lambda c: c.zfill(3),
    )
    _keep_valid(_KEYS["departements"], deps)
    departements = _choice(
        "Départements",
        "departements",
        deps,
        format_func=lambda c: f"{c} — {ref.departements[c].nom}",
    )
    epcis = list(epci_in(tuple(sorted(departements or deps))))
    _keep_valid(_KEYS["epci"], epcis)
    _choice("EPCI", "epci", epcis, format_func=lambda c: ref.epci[c].nom)


def _choice(label: str, name: str, options, placeholder: str = "Tous", **more):
    # A list filter of the sidebar: its widget key from FILTER_FIELDS, and no
    # « Select all » (English, and « Tous » already means every value).
    return st.sidebar.multiselect(
        label,
        options,
        key=_KEYS[name],
        placeholder=placeholder,
        **_NO_SELECT_ALL,
        **more,
    )


def _counter(filters: Filters, slot) -> None:
    # On every page, at the top of the sidebar: how many PTCE the filters keep.
    everything = get_frames()
    kept = len(filtered(filters).ptce)
    slot.markdown(
        f'<p data-testid="sidebar-counter"><strong>{integer(kept)} PTCE</strong> sur '
        f"{integer(len(everything.ptce))}</p>",
        unsafe_allow_html=True,
    )


def _keep_valid(key: str, options: list[str]) -> None:
    # A narrower région or département drops choices that no longer apply,
    # instead of letting Streamlit fail on values missing from the options.
    allowed = set(options)
    if key in st.session_state:
        st.session_state[key] = [v for v in st.session_state[key] if v in allowed]
