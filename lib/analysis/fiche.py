"""The fiche of one PTCE: display-ready data, a timeline chart and a small map.

Everything here starts from the stored aggregate (:class:`lib.domain.model.Ptce`)
and the COG reference, and returns plain data, pandas tables with French
column names, an Altair chart or a folium map. Nothing imports Streamlit.

User text (names, notes, descriptions) never reaches HTML unescaped: the map's
tooltips are built from text nodes, and :func:`escape_markdown` is provided for
pages that write user strings with Markdown.
"""

# size: every display-ready part of one PTCE's fiche (safe text and links, figures,
# members, supports, timeline, deductions, directory row); 20 short functions.

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import pandas as pd

from geo.lookup import UnknownCode, territory_name
from geo.reference import Reference, load_reference
from lib import fr
from lib.domain.certitude import DEDUIT, libelle_champ
from lib.domain.model import NIVEAU_LABELS, Ptce, Source
from lib.domain.soutiens import libelle as libelle_type

#: Badge shown for records that are not user data.
ORIGINE_BADGES = {
    "démonstration": "données de démonstration",
    "synthétique": "données synthétiques",
}

#: Columns of :func:`soutiens_table`.
SOUTIEN_COLUMNS = [
    "Collectivité", "Niveau", "Code", "Type de soutien", "Dispositif",
    "Montant (€)", "Début", "Fin", "Phase", "Source", "Lien", "Note", "Déduit",
]  # fmt: skip
#: Columns of :func:`timeline_frame`.
TIMELINE_COLUMNS = [
    "ligne", "collectivite", "niveau", "type", "debut", "fin", "periode",
    "incertain", "montant",
]  # fmt: skip


# Characters that start inline markup anywhere (emphasis, code, links, HTML,
# maths, tables, entities, Streamlit directives and icons)...
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>~$:|&])")
# ...and block markers that only count at the start of a line.
_LINE_START = re.compile(r"^([ \t]*)([#+=-])", re.MULTILINE)
_LIST_NUMBER = re.compile(r"^([ \t]*\d+)([.)])", re.MULTILINE)


def escape_markdown(text: object) -> str:
    r"""Escape user text for ``st.markdown`` (no formatting, link or directive).

    Parameters
    ----------
    text : object
        Any user string (converted with ``str``).

    Returns
    -------
    str
        The text with Markdown, HTML and Streamlit-directive characters
        backslash-escaped (``:red[x]`` and ``:material/icon:`` stay literal),
        e.g. ``"<b>*x*</b>"`` → ``"\<b\>\*x\*\</b\>"``. Hyphens, dots and
        parentheses inside a line are left alone, so names stay readable.
    """
    text = _INLINE_SPECIAL.sub(r"\\\1", str(text))
    text = _LINE_START.sub(r"\1\\\2", text)
    return _LIST_NUMBER.sub(r"\1\\\2", text)


def safe_url(url: str | None) -> str | None:
    """Return ``url`` when it is an http(s) link, else None (no ``javascript:``).

    Parameters
    ----------
    url : str or None
        A link typed by a user or read from a file.

    Returns
    -------
    str or None
        The stripped URL, or None when it is empty or of another scheme.
    """
    if not url:
        return None
    url = str(url).strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def markdown_link(label: str, url: str | None) -> str:
    """Return a Markdown link with escaped label and URL, or the escaped label.

    Parameters
    ----------
    label : str
        The text of the link (user text).
    url : str or None
        The target; anything but http(s) gives plain text.

    Returns
    -------
    str
        ``[label](url)`` safe for ``st.markdown``.
    """
    target = safe_url(url)
    if target is None:
        return escape_markdown(label)
    # Parentheses, spaces and angle brackets would end or break the link.
    target = quote(target, safe=":/?#[]@!$&'*+,;=%~")
    target = target.replace("(", "%28").replace(")", "%29")
    return f"[{escape_markdown(label)}]({target})"


def collectivite_name(niveau: str, code: str, ref: Reference | None = None) -> str:
    """Return a collectivité's name, or its code when the reference lacks it."""
    try:
        return territory_name(niveau, code, ref)
    except UnknownCode:
        return code


def ami_badges(record: Ptce) -> list[str]:
    """Return one label per call won, oldest first: ``"AMI 2021 : financé"``."""
    return [f"AMI {a.annee} : {a.type}" for a in sorted(record.ami, key=_ami_key)]


def _ami_key(ami) -> tuple:
    return (ami.annee, ami.type)


def lieu(record: Ptce, ref: Reference | None = None) -> str:
    """Describe where the PTCE is: commune, département (code) and région.

    Parameters
    ----------
    record : Ptce
        The aggregate.
    ref : Reference, optional
        The COG reference.

    Returns
    -------
    str
        E.g. ``"Montaigu-Vendée — Vendée (85) — Pays de la Loire"``, or
        ``"Lieu non renseigné"``.
    """
    ref = ref or load_reference()
    parts = []
    if record.commune and record.commune in ref.communes:
        parts.append(ref.communes[record.commune].nom)
    if record.departement in ref.departements:
        nom = ref.departements[record.departement].nom
        parts.append(f"{nom} ({record.departement})")
    if record.region in ref.regions:
        parts.append(ref.regions[record.region].nom)
    return " — ".join(parts) if parts else "Lieu non renseigné"


def figures(record: Ptce) -> dict[str, str]:
    """Return the key figures of a PTCE as French labels and display strings.

    Unknown values show as ``"—"``; amounts are the sum of the known amounts.
    """
    montants = [s.montant for s in record.soutiens if s.montant is not None]
    charte = {True: "oui", False: "non", None: fr.MISSING}[record.charte_signee]
    creation = "Création" + (
        f" ({DEDUIT})" if "annee_creation" in record.deductions else ""
    )
    return {
        creation: fr.year(record.annee_creation),
        "Membres": fr.integer(record.nb_membres),
        "Emplois": fr.integer(record.emplois),
        "Charte signée": charte,
        "Soutiens": fr.integer(len(record.soutiens)),
        "Collectivités": fr.integer(len({(s.niveau, s.code) for s in record.soutiens})),
        "Montants connus": format_euros(sum(montants)) if montants else fr.MISSING,
    }


def format_euros(value: float | None) -> str:
    """Format an amount in euros the French way: ``1 234 567 €`` (or ``—``)."""
    return fr.euros(value)


def membres_table(record: Ptce) -> pd.DataFrame:
    """Return the members as a table: Nom, Catégorie, Rôle."""
    return pd.DataFrame(
        [
            {"Nom": m.nom, "Catégorie": fr.text(m.categorie), "Rôle": fr.text(m.role)}
            for m in record.membres
        ],
        columns=["Nom", "Catégorie", "Rôle"],
    )


def soutiens_table(record: Ptce, ref: Reference | None = None) -> pd.DataFrame:
    """Return every support of a PTCE, with French column names.

    Parameters
    ----------
    record : Ptce
        The aggregate.
    ref : Reference, optional
        The COG reference (collectivité names).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SOUTIEN_COLUMNS`, one row per support in stored order,
        including those whose years are unknown (empty Début / Fin). ``Lien``
        holds http(s) source links only.
    """
    ref = ref or load_reference()
    rows = [
        {
            "Collectivité": collectivite_name(s.niveau, s.code, ref),
            "Niveau": NIVEAU_LABELS.get(s.niveau, s.niveau),
            "Code": s.code,
            "Type de soutien": libelle_type(s.type),
            "Dispositif": s.dispositif,
            "Montant (€)": s.montant,
            "Début": s.annee_debut,
            "Fin": s.annee_fin,
            "Phase": s.phase,
            "Source": s.source.libelle if s.source else None,
            "Lien": safe_url(s.source.url) if s.source else None,
            "Note": s.note,
            # The reasoning of an inferred support, empty when it was read.
            "Déduit": f"{DEDUIT} : {s.deduit}" if s.deduit else None,
        }
        for s in record.soutiens
    ]
    table = pd.DataFrame(rows, columns=SOUTIEN_COLUMNS)
    table["Montant (€)"] = table["Montant (€)"].astype("Float64")
    for column in ("Début", "Fin"):
        table[column] = table[column].astype("Int64")
    return table


def timeline_frame(record: Ptce, ref: Reference | None = None) -> pd.DataFrame:
    """Return the supports that have at least one known year, for a timeline.

    A support with only one known year is drawn on that year and flagged
    ``incertain``; supports without any year are left out (they stay in
    :func:`soutiens_table`).

    Parameters
    ----------
    record : Ptce
        The aggregate.
    ref : Reference, optional
        The COG reference.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TIMELINE_COLUMNS`: ``ligne`` (collectivité and type, the
        row label), ``debut`` and ``fin`` (inclusive years), ``periode`` (French
        text such as ``"2015–2017"`` or ``"2002 – fin non renseignée"``),
        ``incertain`` and ``montant``; sorted by start year.
    """
    ref = ref or load_reference()
    rows = []
    for s in record.soutiens:
        start, end = s.annee_debut, s.annee_fin
        if start is not None and end is not None:
            start, end = min(start, end), max(start, end)
            periode = str(start) if start == end else f"{start}–{end}"
            incertain = False
        elif start is not None:
            end, periode, incertain = start, f"{start} – fin non renseignée", True
        elif end is not None:
            start, periode, incertain = end, f"début non renseigné – {end}", True
        else:
            continue
        name = collectivite_name(s.niveau, s.code, ref)
        rows.append(
            {
                "ligne": f"{name} · {libelle_type(s.type)}"
                + (f" ({DEDUIT})" if s.deduit else ""),
                "collectivite": name,
                "niveau": NIVEAU_LABELS.get(s.niveau, s.niveau),
                "type": libelle_type(s.type),
                "debut": int(start),
                "fin": int(end),
                "periode": periode,
                "incertain": incertain,
                "montant": s.montant,
            }
        )
    frame = pd.DataFrame(rows, columns=TIMELINE_COLUMNS)
    return frame.sort_values(["debut", "fin", "ligne"], kind="stable").reset_index(
        drop=True
    )


def sources(record: Ptce) -> list[Source]:
    """Return the PTCE's sources, then those cited by supports, without repeats."""
    seen: dict[tuple[str, str | None], Source] = {}
    for source in (*record.sources, *(s.source for s in record.soutiens)):
        if source is not None:
            seen.setdefault((source.libelle, source.url), source)
    return list(seen.values())


def territoire(record: Ptce, ref: Reference | None = None) -> list[dict]:
    """Return the territory of action as ``{"niveau", "code", "nom"}`` dicts.

    EPCI are recognised by their SIREN; other codes are communes (former codes
    lead to today's commune). Unknown codes are kept with their code as name.
    """
    ref = ref or load_reference()
    out = []
    for code in record.territoire:
        if code in ref.epci:
            out.append({"niveau": "epci", "code": code, "nom": ref.epci[code].nom})
            continue
        current = ref.current_code(code) or code
        out.append(
            {
                "niveau": "commune",
                "code": current,
                "nom": collectivite_name("commune", current, ref),
            }
        )
    return out


@dataclass(frozen=True)
class Fiche:
    """Everything a PTCE fiche shows, ready for display.

    Attributes
    ----------
    id, nom : str
        Identifier and name.
    badges : tuple of str
        AMI labels then the origin label for demo or synthetic data.
    lieu : str
        Commune, département and région (see :func:`lieu`).
    filieres : tuple of str
        Filières, main one first.
    stade, forme_juridique, description, site_web : str or None
        ``site_web`` is kept only when it is an http(s) link.
    figures : dict
        French label → display string (see :func:`figures`).
    territoire : list of dict
        Territory of action (see :func:`territoire`).
    membres, soutiens, timeline : pandas.DataFrame
        See :func:`membres_table`, :func:`soutiens_table`,
        :func:`timeline_frame`.
    sources : list of Source
        See :func:`sources`.
    """

    id: str
    nom: str
    badges: tuple[str, ...]
    lieu: str
    filieres: tuple[str, ...]
    stade: str | None
    forme_juridique: str | None
    description: str | None
    site_web: str | None
    figures: dict[str, str]
    territoire: list[dict]
    membres: pd.DataFrame
    soutiens: pd.DataFrame
    timeline: pd.DataFrame
    sources: list[Source]
    origine: str
    #: Values inferred rather than read: (field code, French name, reasoning),
    #: the probable-duplicate link apart.
    deductions: tuple[tuple[str, str, str], ...] = ()
    #: Probable duplicates: (id, name, reasoning).
    meme_pole: tuple[tuple[str, str, str], ...] = ()

    def deduit(self, champ: str) -> bool:
        """Tell whether the value of a field is inferred (« déduit »)."""
        return any(code == champ for code, _, _ in self.deductions)


def deductions(record: Ptce) -> tuple[tuple[str, str, str], ...]:
    """Return the inferred values of a PTCE: (field, French name, reasoning)."""
    return tuple(
        (champ, libelle_champ(champ), why)
        for champ, why in record.deductions.items()
        if champ != "meme_pole_que"
    )


def meme_pole(
    record: Ptce, noms: Mapping[str, str] | None = None
) -> tuple[tuple[str, str, str], ...]:
    """Return the probable duplicates of a PTCE: (id, name, reasoning).

    A linked PTCE missing from ``noms`` (deleted, or not loaded) keeps its
    identifier as its name.
    """
    why = record.deductions.get("meme_pole_que", "")
    noms = noms or {}
    return tuple((pid, noms.get(pid, pid), why) for pid in record.meme_pole_que)


def build_fiche(
    record: Ptce,
    ref: Reference | None = None,
    noms: Mapping[str, str] | None = None,
) -> Fiche:
    """Gather the display data of a PTCE fiche.

    Parameters
    ----------
    record : Ptce
        The full aggregate (``Store.get``).
    ref : Reference, optional
        The COG reference.
    noms : mapping, optional
        ``{id: name}`` of the other PTCE, to name probable duplicates.

    Returns
    -------
    Fiche
        Labels in French, tables with French column names.
    """
    ref = ref or load_reference()
    badges = ami_badges(record)
    if record.origine in ORIGINE_BADGES:
        badges.append(ORIGINE_BADGES[record.origine])
    return Fiche(
        id=record.id,
        nom=record.nom,
        badges=tuple(badges),
        lieu=lieu(record, ref),
        filieres=tuple(record.filieres),
        stade=record.stade,
        forme_juridique=record.forme_juridique,
        description=record.description,
        site_web=safe_url(record.site_web),
        figures=figures(record),
        territoire=territoire(record, ref),
        membres=membres_table(record),
        soutiens=soutiens_table(record, ref),
        timeline=timeline_frame(record, ref),
        sources=sources(record),
        origine=record.origine,
        deductions=deductions(record),
        meme_pole=meme_pole(record, noms),
    )


# --------------------------------------------------------------------------
# Map
# --------------------------------------------------------------------------


def _deduit_cell(fields) -> str:
    """« déduit : département, filières », or nothing when all was read."""
    if fr.is_missing(fields) or not len(fields):
        return ""
    return f"{DEDUIT} : " + ", ".join(fields)


def directory_table(
    ptce: pd.DataFrame, noms: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Return the rows of the annuaire: French columns, indexed by PTCE id.

    Parameters
    ----------
    ptce : pandas.DataFrame
        :attr:`lib.domain.selection.Frames.ptce` rows.
    noms : mapping, optional
        ``{id: name}`` of every PTCE, to name probable duplicates that the
        filters leave out (by default, the names of ``ptce``).

    Returns
    -------
    pandas.DataFrame
        Sorted by name in French order (:func:`lib.fr.sort_key`); text and
        amounts written by :mod:`lib.fr`, numbers left empty when unknown.
    """
    noms = dict(zip(ptce.index, ptce["nom"], strict=True)) | dict(noms or {})
    departement = [
        # A PTCE without a seat has neither (NaN under France entière).
        f"{nom} ({code})" if not fr.is_missing(nom) else fr.text(code)
        for nom, code in zip(ptce["departement_nom"], ptce["departement"], strict=True)
    ]
    table = pd.DataFrame(
        {
            "Nom": ptce["nom"],
            "Commune": ptce["commune_nom"].map(fr.text),
            "Département": departement,
            "Filières": ptce["filieres"].map(
                lambda f: ", ".join(f) or "non renseignée"
            ),
            # Values no source states as such: the mark, reasoning in the fiche.
            "Valeurs déduites": (
                ptce["deduit"].map(_deduit_cell) if "deduit" in ptce else ""
            ),
            "Même pôle probable que": (
                ptce["meme_pole_que"].map(
                    lambda ids: (
                        ", ".join(noms.get(i, i) for i in ids)
                        if not fr.is_missing(ids)
                        else ""
                    )
                )
                if "meme_pole_que" in ptce
                else ""
            ),
            "Stade": ptce["stade"].map(fr.text),
            "Forme juridique": ptce["forme_juridique"].map(fr.text),
            "Création": ptce["annee_creation"].astype("Int64"),
            "Membres": ptce["nb_membres"].astype("Int64"),
            "Emplois": ptce["emplois"].astype("Int64"),
            "Soutiens": ptce["nb_soutiens"].astype("Int64"),
            "Collectivités": ptce["nb_collectivites"].astype("Int64"),
            # Text: st.dataframe cannot write euros the French way by itself.
            "Montant connu": ptce["montant_total"].map(fr.euros),
            "AMI": ptce["ami"].map(lambda a: ", ".join(a) or fr.MISSING),
            "Origine": ptce["origine"].map(fr.text),
        },
        index=ptce.index,
    )
    order = sorted(table.index, key=lambda i: fr.sort_key(table.at[i, "Nom"]))
    return table.loc[order]
