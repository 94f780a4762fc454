"""Explorer data: flat frames of PTCE, supports and members, and shared filters.

Pages never walk aggregates themselves: they get one row per PTCE (with its
position, main filière, totals), one row per support and one per member from
here, and apply a :class:`Filters` built from the sidebar or the URL.
Filters combine with OR inside a filter and AND across filters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from geo.reference import Reference, load_reference
from lib.domain.certitude import champs_deduits
from lib.domain.model import (
    FILIERES,
    FORMES_JURIDIQUES,
    NIVEAU_LABELS,
    NIVEAUX,
    STADES,
    TYPES_AMI,
    TYPES_SOUTIEN,
    Ptce,
    fold,
)

#: Région shown by default: Pays de la Loire.
DEFAULT_REGION = "52"
#: Value of the ``region`` URL parameter for the whole country.
FRANCE = "france"


@dataclass(frozen=True)
class Filters:
    """The explorer's filters (empty tuple or None: no filter).

    Attributes
    ----------
    region : str or None
        A région code, or None for "France entière".
    departements, epci : tuple of str
        Codes; a PTCE matches through its seat, and for EPCI also through
        its territory of action.
    filieres, stades, formes, types_soutien, niveaux, ami : tuple of str
        Labels from the vocabularies of :mod:`lib.domain.model`; ``niveaux`` are the
        levels of the supporting collectivités, ``ami`` the kinds of call won.
    annees : tuple of int or None
        Inclusive range of creation years (PTCE with no known year drop out).
    texte : str
        Searched, accents and case ignored, in names, descriptions, communes
        and members.
    """

    region: str | None = DEFAULT_REGION
    departements: tuple[str, ...] = ()
    epci: tuple[str, ...] = ()
    filieres: tuple[str, ...] = ()
    stades: tuple[str, ...] = ()
    formes: tuple[str, ...] = ()
    types_soutien: tuple[str, ...] = ()
    niveaux: tuple[str, ...] = ()
    ami: tuple[str, ...] = ()
    annees: tuple[int, int] | None = None
    texte: str = ""

    # -- URL ------------------------------------------------------------------

    def to_params(self) -> dict[str, str | list[str]]:
        """Return the URL query parameters of these filters (defaults omitted)."""
        params: dict[str, str | list[str]] = {}
        if self.region != DEFAULT_REGION:
            params[_PARAM_OF["region"]] = self.region or FRANCE
        for name, key in _LIST_PARAMS.items():
            values = getattr(self, name)
            if values:
                params[key] = list(values)
        if self.annees:
            params[_PARAM_OF["annees"]] = f"{self.annees[0]}-{self.annees[1]}"
        if self.texte:
            params[_PARAM_OF["texte"]] = self.texte
        return params

    @classmethod
    def from_params(
        cls, params: Mapping[str, str | Sequence[str]], ref: Reference | None = None
    ) -> Filters:
        """Read filters from URL query parameters, ignoring invalid values.

        Parameters
        ----------
        params : mapping
            ``st.query_params.to_dict()``-like: each value a string or a list.
        ref : Reference, optional
            The COG reference, to check codes.

        Returns
        -------
        Filters
            Unknown codes and labels are dropped rather than failing: a link
            typed by hand still opens.
        """
        ref = ref or load_reference()

        def values(key: str) -> list[str]:
            raw = params.get(key, [])
            return [raw] if isinstance(raw, str) else list(raw)

        region_values = values(_PARAM_OF["region"])
        region: str | None = region_values[-1] if region_values else DEFAULT_REGION
        if region == FRANCE:
            region = None
        elif region not in ref.regions:
            region = DEFAULT_REGION
        valid = {
            "departements": set(ref.departements),
            "epci": set(ref.epci),
            "filieres": set(FILIERES),
            "stades": set(STADES),
            "formes": set(FORMES_JURIDIQUES),
            "types_soutien": set(TYPES_SOUTIEN),
            "niveaux": set(NIVEAUX),
            "ami": set(TYPES_AMI),
        }
        chosen = {
            name: tuple(dict.fromkeys(v for v in values(key) if v in valid[name]))
            for name, key in _LIST_PARAMS.items()
        }
        annees = None
        years = values(_PARAM_OF["annees"])
        if years:
            try:
                lo, hi = (int(x) for x in years[-1].split("-", 1))
                if 1900 <= lo <= hi <= 2100:
                    annees = (lo, hi)
            except ValueError:
                annees = None
        text = values(_PARAM_OF["texte"])
        texte = (text[-1] if text else "").strip()[:200]
        return cls(region=region, annees=annees, texte=texte, **chosen)

    # -- description ---------------------------------------------------------

    def active(self, ref: Reference | None = None) -> list[str]:
        """Return a French label per active filter, for the "filtres actifs" line."""
        ref = ref or load_reference()
        out = []
        out.append(
            f"Région : {ref.regions[self.region].nom}"
            if self.region
            else "France entière"
        )
        names: dict[str, tuple[str, Callable[[str], str]]] = {
            "departements": ("Départements", lambda c: f"{ref.departements[c].nom}"),
            "epci": ("EPCI", lambda c: ref.epci[c].nom),
            "filieres": ("Filières", str),
            "stades": ("Stades", str),
            "formes": ("Formes juridiques", str),
            "types_soutien": ("Soutiens", str),
            "niveaux": ("Collectivités", lambda c: NIVEAU_LABELS[c]),
            "ami": ("AMI", str),
        }
        for name, (label, show) in names.items():
            values = getattr(self, name)
            if values:
                out.append(f"{label} : " + ", ".join(show(v) for v in values))
        if self.annees:
            out.append(f"Créés de {self.annees[0]} à {self.annees[1]}")
        if self.texte:
            out.append(f"Recherche : « {self.texte} »")
        return out

    def is_default(self) -> bool:
        """Tell whether nothing narrows the default view."""
        return self == Filters()

    def without_territory(self) -> Filters:
        """Return the same filters on the whole country (national averages)."""
        return replace(self, region=None, departements=(), epci=())


@dataclass(frozen=True)
class FilterField:
    """One filter: its :class:`Filters` field, URL parameter, widget and column.

    Attributes
    ----------
    name : str
        Field of :class:`Filters`.
    param : str
        URL query parameter.
    key : str
        Streamlit widget key of the sidebar (``views/filters.py``).
    kind : {"region", "list", "years", "text"}
        How the value is read, written and matched.
    column : str
        Column of :attr:`Frames.ptce` it is matched against (see :func:`mask`).
    many : bool
        For a list: the column holds several values per PTCE (its filières,
        its supporting levels…), and one of them chosen is enough.
    """

    name: str
    param: str
    key: str
    kind: str
    column: str
    many: bool = False


#: Every filter, once: :class:`Filters`, its URL parameters, the sidebar's
#: widgets and the matching of :func:`mask` are derived from this table
#: (adding a filter starts here).
FILTER_FIELDS = (
    FilterField("region", "region", "f_region", "region", "region"),
    FilterField("departements", "dep", "f_dep", "list", "departement"),
    FilterField("epci", "epci", "f_epci", "list", "epci_lies", many=True),
    FilterField("filieres", "filiere", "f_filiere", "list", "filieres", many=True),
    FilterField("stades", "stade", "f_stade", "list", "stade"),
    FilterField("formes", "forme", "f_forme", "list", "forme_juridique"),
    FilterField(
        "types_soutien", "soutien", "f_soutien", "list", "types_soutien", many=True
    ),
    FilterField("niveaux", "niveau", "f_niveau", "list", "niveaux_soutien", many=True),
    FilterField("ami", "ami", "f_ami", "list", "ami_types", many=True),
    FilterField("annees", "annees", "f_annees", "years", "annee_creation"),
    FilterField("texte", "q", "f_texte", "text", "recherche"),
)
#: URL parameters of the filters.
FILTER_PARAMS = tuple(f.param for f in FILTER_FIELDS)
_LIST_PARAMS = {f.name: f.param for f in FILTER_FIELDS if f.kind == "list"}
_PARAM_OF = {f.name: f.param for f in FILTER_FIELDS}


# --------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Frames:
    """The data of the explorer as flat tables (built once per data version).

    Attributes
    ----------
    ptce : pandas.DataFrame
        One row per PTCE, indexed by id.
    soutiens : pandas.DataFrame
        One row per support, with ``ptce_id``, ``ptce_pos`` (row of its PTCE
        in ``ptce``) and the collectivité's name.
    membres : pandas.DataFrame
        One row per member, with ``ptce_id`` and ``ptce_pos``.
    """

    ptce: pd.DataFrame
    soutiens: pd.DataFrame
    membres: pd.DataFrame = field(repr=False)

    def filtered(self, filters: Filters) -> Frames:
        """Return the frames restricted to the PTCE matching ``filters``."""
        keep = mask(self.ptce, filters).to_numpy()
        if keep.all():
            return self
        # Supports and members carry the row position of their PTCE
        # (``ptce_pos``): a boolean lookup instead of hashing 250,000 ids.
        new_positions = np.cumsum(keep) - 1

        def rows_of(table: pd.DataFrame) -> pd.DataFrame:
            kept = table[keep[table["ptce_pos"].to_numpy()]].copy()
            kept["ptce_pos"] = new_positions[kept["ptce_pos"].to_numpy()]
            return kept

        return Frames(self.ptce[keep], rows_of(self.soutiens), rows_of(self.membres))


# size: one flat row per PTCE, per support and per member, every column named
# here once; the placing of a PTCE is already split out (_approximate, _place_label).
def build_frames(
    records: Iterable[Ptce],
    points: Mapping[str, tuple[float, float]] | None = None,
    ref: Reference | None = None,
) -> Frames:
    """Flatten PTCE aggregates into the explorer's frames.

    Parameters
    ----------
    records : iterable of Ptce
        Every PTCE of the store.
    points : mapping, optional
        ``{commune code: (lon, lat)}`` representative points, to place PTCE
        that have no coordinates of their own.
    ref : Reference, optional
        The COG reference (names, EPCI of the seat, populations).

    Returns
    -------
    Frames
        The three tables.
    """
    ref = ref or load_reference()
    points = points or {}
    rows, soutiens, membres = [], [], []
    for p in records:
        commune = ref.communes.get(p.commune) if p.commune else None
        placement: str | None
        if p.longitude is not None and p.latitude is not None:
            lon, lat, placement = p.longitude, p.latitude, "coordonnées"
        elif p.commune is not None and p.commune in points:
            (lon, lat), placement = points[p.commune], "commune"
        else:
            # Seat unknown: shown at the chef-lieu of its département or région,
            # flagged as approximate.
            (lon, lat), placement = _approximate(p, points, ref)
        epci_territoire: set[str] = set()
        for code in p.territoire:
            if code in ref.epci:
                epci_territoire.add(code)
            elif code in ref.communes:
                member_of = ref.communes[code].epci
                if member_of:
                    epci_territoire.add(member_of)
        seat_epci = commune.epci if commune else None
        montants = [s.montant for s in p.soutiens if s.montant is not None]
        rows.append(
            {
                "id": p.id,
                "nom": p.nom,
                "description": p.description,
                "commune": p.commune,
                "commune_nom": commune.nom if commune else None,
                "epci": seat_epci,
                "epci_lies": tuple(
                    sorted(epci_territoire | ({seat_epci} if seat_epci else set()))
                ),
                "territoire": p.territoire,
                "departement": p.departement,
                "departement_nom": (
                    ref.departements[p.departement].nom
                    if p.departement in ref.departements
                    else None
                ),
                "region": p.region,
                "filiere": p.filieres[0] if p.filieres else "non renseignée",
                "filieres": p.filieres,
                "stade": p.stade,
                "forme_juridique": p.forme_juridique,
                "annee_creation": p.annee_creation,
                "nb_membres": p.nb_membres,
                "emplois": p.emplois,
                "charte_signee": p.charte_signee,
                "ami": tuple(f"{a.annee} : {a.type}" for a in p.ami),
                "ami_types": tuple(sorted({a.type for a in p.ami})),
                "types_soutien": tuple(sorted({s.type for s in p.soutiens})),
                "niveaux_soutien": tuple(sorted({s.niveau for s in p.soutiens})),
                "nb_soutiens": len(p.soutiens),
                "nb_collectivites": len({(s.niveau, s.code) for s in p.soutiens}),
                "montant_total": sum(montants) if montants else np.nan,
                "site_web": p.site_web,
                "origine": p.origine,
                "sources": tuple(src.libelle for src in p.sources),
                "deduit": champs_deduits(p),
                "meme_pole_que": p.meme_pole_que,
                "lon": lon,
                "lat": lat,
                "placement": placement,
                "lieu": _place_label(placement, commune, p, ref),
                "recherche": fold(
                    " ".join(
                        x
                        for x in (
                            p.nom,
                            p.description or "",
                            commune.nom if commune else "",
                            *(m.nom for m in p.membres),
                        )
                    )
                ),
            }
        )
        for s in p.soutiens:
            row = s.flat()
            row["source"] = row.pop("source_libelle")
            soutiens.append(
                {
                    "ptce_id": p.id,
                    "ptce_nom": p.nom,
                    "collectivite": _name(ref, s.niveau, s.code),
                    **row,
                }
            )
        for m in p.membres:
            membres.append(
                {
                    "ptce_id": p.id,
                    "nom": m.nom,
                    "categorie": m.categorie,
                    "role": m.role,
                }
            )
    ptce = pd.DataFrame(rows, columns=_PTCE_COLUMNS).set_index("id", drop=False)
    soutiens = pd.DataFrame(soutiens, columns=_SOUTIEN_COLUMNS)
    membres = pd.DataFrame(membres, columns=["ptce_id", "nom", "categorie", "role"])
    positions = pd.Series(np.arange(len(ptce)), index=ptce.index)
    for table in (soutiens, membres):
        table["ptce_pos"] = positions.reindex(table["ptce_id"]).to_numpy(dtype=int)
    return Frames(ptce, soutiens, membres)


_PTCE_COLUMNS = [
    "id", "nom", "description", "commune", "commune_nom", "epci", "epci_lies",
    "territoire",
    "departement", "departement_nom", "region", "filiere", "filieres", "stade",
    "forme_juridique", "annee_creation", "nb_membres", "emplois", "charte_signee",
    "ami", "ami_types", "types_soutien", "niveaux_soutien", "nb_soutiens",
    "nb_collectivites", "montant_total", "site_web", "origine", "sources", "deduit",
    "meme_pole_que", "lon", "lat", "placement", "lieu", "recherche",
]  # fmt: skip
_SOUTIEN_COLUMNS = [
    "ptce_id", "ptce_nom", "niveau", "code", "collectivite", "type", "dispositif",
    "montant", "annee_debut", "annee_fin", "phase", "source", "source_url", "note",
    "deduit",
]  # fmt: skip


def _place_label(placement: str | None, commune, p: Ptce, ref: Reference) -> str:
    """Where a PTCE is shown, in words (marker tooltips)."""
    if placement == "commune" and commune:
        # The commune knows its département even when the record does not.
        return f"{commune.nom} ({commune.departement})"
    if placement == "coordonnées":
        return f"{commune.nom if commune else ''} (coordonnées propres)".strip()
    if placement == "département" and p.departement:
        nom = ref.departements[p.departement].nom
        return f"{nom} — position approximative (chef-lieu)"
    return "Position approximative (chef-lieu de la région)"


def _approximate(p: Ptce, points: Mapping, ref: Reference) -> tuple[tuple, str | None]:
    if p.departement in ref.departements:
        chef_lieu = ref.departements[p.departement].chef_lieu
        if chef_lieu in points:
            return points[chef_lieu], "département"
    if p.region in ref.regions:
        chef_lieu = ref.regions[p.region].chef_lieu
        if chef_lieu in points:
            return points[chef_lieu], "région"
    return (None, None), None


def _name(ref: Reference, niveau: str, code: str) -> str:
    table = ref.level(niveau)
    return table[code].nom if code in table else code


def _any_in(series: pd.Series, wanted: tuple[str, ...]) -> pd.Series:
    chosen = set(wanted)
    return series.map(lambda values: bool(chosen.intersection(values)))


def mask(ptce: pd.DataFrame, filters: Filters) -> pd.Series:
    """Return the boolean mask of the PTCE rows matching ``filters``.

    Parameters
    ----------
    ptce : pandas.DataFrame
        :attr:`Frames.ptce`.
    filters : Filters
        The filters (OR within a filter, AND across filters).

    Returns
    -------
    pandas.Series
        Aligned with ``ptce``.
    """
    keep = pd.Series(True, index=ptce.index)
    for f in FILTER_FIELDS:
        chosen = getattr(filters, f.name)
        if not chosen:
            continue
        column = ptce[f.column]
        if f.kind == "region":
            keep &= column == chosen
        elif f.kind == "list":
            keep &= _any_in(column, chosen) if f.many else column.isin(chosen)
        elif f.kind == "years":
            keep &= column.between(*chosen)
        else:
            keep &= column.str.contains(fold(chosen), regex=False)
    return keep
