"""The tabular format shared by import, export and templates.

Three sheets (three CSV files, or three sheets of one XLSX workbook):
``PTCE`` (one row per PTCE), ``Membres`` and ``Soutiens`` (one row per member
or support, linked by ``identifiant_ptce``). Lists inside a cell are separated
by :data:`LIST_SEP`. Column names are matched tolerantly on import (case,
accents, spaces, underscores) and through a few aliases.
"""

from __future__ import annotations

from dataclasses import dataclass

from lib.domain.model import (
    CATEGORIES_MEMBRE,
    CHAMPS_DEDUITS,
    FORMES_JURIDIQUES,
    STADES,
    TYPES_SOUTIEN,
    fold,
)
from lib.domain.soutiens import libelle

LIST_SEP = " | "


@dataclass(frozen=True)
class Column:
    """One column of a sheet: its name, help text and accepted aliases."""

    name: str
    aide: str
    aliases: tuple[str, ...] = ()
    required: bool = False


PTCE_COLUMNS = (
    Column(
        "identifiant", "identifiant stable (laisser vide : créé depuis le nom)", ("id",)
    ),
    Column("nom", "nom du PTCE", ("nom du ptce", "ptce"), required=True),
    Column("description", "texte libre"),
    Column(
        "commune",
        "commune du siège : code INSEE (ou nom, avec département ou code postal)",
        ("code commune", "code insee", "insee", "siege", "commune du siege"),
    ),
    Column(
        "code_postal",
        "code postal du siège (pour retrouver la commune par son nom)",
        ("cp",),
    ),
    Column("departement", "code ou nom du département", ("dep", "dept", "département")),
    Column("region", "code ou nom de la région", ("région",)),
    Column(
        "territoire",
        "territoire d'action : codes INSEE de communes et/ou SIREN ou noms "
        f"d'EPCI, séparés par « {LIST_SEP.strip()} »",
        ("territoire d'action",),
    ),
    Column(
        "filieres",
        "filières, séparées par « | »",
        ("filiere", "filière", "filières", "secteurs"),
    ),
    Column(
        "stade",
        ", ".join(STADES),
        ("phase", "etape"),
    ),
    Column(
        "forme_juridique",
        ", ".join(FORMES_JURIDIQUES),
        ("forme", "statut"),
    ),
    Column(
        "annee_creation",
        "année de création",
        ("année de création", "creation", "annee"),
    ),
    Column(
        "nb_membres", "nombre de structures membres", ("membres", "nombre de membres")
    ),
    Column("emplois", "nombre d'emplois", ("nombre d'emplois", "etp")),
    Column("charte_signee", "charte des PTCE signée : oui / non", ("charte",)),
    Column(
        "ami",
        "appels gagnés : « 2021 : financé | 2023 : lauréat phase 1 »",
        ("ami gagnes", "laureat"),
    ),
    Column("site_web", "adresse du site", ("site", "url", "site internet")),
    Column("latitude", "latitude (WGS84), si différente de la commune", ("lat",)),
    Column("longitude", "longitude (WGS84)", ("lon", "lng")),
    Column("sources", "sources : « libellé <https://…> | … »", ("source",)),
    Column("origine", "saisie, démonstration ou synthétique (défaut : saisie)"),
    Column(
        "deductions",
        "valeurs déduites plutôt que lues dans une source : « champ : raisonnement "
        "| … » ; champs : " + ", ".join(CHAMPS_DEDUITS.values()),
        ("déductions", "deduit", "déduit", "valeurs deduites"),
    ),
    Column(
        "meme_pole_que",
        "identifiants des PTCE qui sont probablement le même pôle, séparés par "
        "« | » (raisonnement dans deductions, champ « même pôle probable »)",
        ("même pôle probable", "meme pole probable", "doublon probable"),
    ),
)
MEMBRE_COLUMNS = (
    Column(
        "identifiant_ptce",
        "identifiant du PTCE (colonne identifiant de la feuille PTCE)",
        ("ptce", "id ptce"),
        required=True,
    ),
    Column(
        "nom",
        "nom de la structure",
        ("structure", "nom de la structure"),
        required=True,
    ),
    Column(
        "categorie",
        ", ".join(CATEGORIES_MEMBRE),
        ("catégorie", "type"),
    ),
    Column("role", "porteur, membre ou partenaire (défaut : membre)", ("rôle",)),
)
SOUTIEN_COLUMNS = (
    Column(
        "identifiant_ptce", "identifiant du PTCE", ("ptce", "id ptce"), required=True
    ),
    Column(
        "niveau",
        "région, département, EPCI ou commune",
        ("niveau de collectivite", "echelon"),
        required=True,
    ),
    Column(
        "collectivite",
        "code COG (région, département, SIREN d'EPCI, INSEE de commune) ou nom",
        ("collectivité", "code collectivite", "code"),
        required=True,
    ),
    Column(
        "type_soutien",
        " ; ".join(libelle(t) for t in TYPES_SOUTIEN)
        + " (les anciens libellés restent acceptés)",
        ("type de soutien", "levier"),
        required=True,
    ),
    Column("dispositif", "nom du dispositif ou de la politique"),
    Column("montant", "montant en euros", ("montant (€)", "montant eur")),
    Column("annee_debut", "première année", ("année", "annee", "debut")),
    Column("annee_fin", "dernière année", ("fin",)),
    Column(
        "phase",
        "phase du PTCE soutenue (gestation, émergence, développement, consolidation)",
    ),
    Column("source", "libellé de la source"),
    Column("source_url", "adresse de la source"),
    Column("note", "texte libre"),
    Column(
        "deduit",
        "si ce soutien est déduit plutôt que lu dans sa source : le raisonnement",
        ("déduit", "deduction", "déduction"),
    ),
)

SHEETS = {"PTCE": PTCE_COLUMNS, "Membres": MEMBRE_COLUMNS, "Soutiens": SOUTIEN_COLUMNS}


#: Invisible characters a header may carry (a BOM left by a doubled one,
#: zero-width spaces pasted from the web): they must not hide a column.
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"))


def _key(name: str) -> str:
    return fold(name.translate(_INVISIBLE)).replace(" ", "").replace("'", "")


def match_columns(headers: list[str], sheet: str) -> tuple[dict[int, str], list[str]]:
    """Match file headers to the columns of a sheet, tolerantly.

    Parameters
    ----------
    headers : list of str
        Header cells as found in the file.
    sheet : str
        ``"PTCE"``, ``"Membres"`` or ``"Soutiens"``.

    Returns
    -------
    tuple
        ``{position: column name}`` for recognised headers, and the list of
        headers that matched nothing (reported, not fatal).
    """
    lookup: dict[str, str] = {}
    for column in SHEETS[sheet]:
        for alias in (column.name, *column.aliases):
            lookup.setdefault(_key(alias), column.name)
    matched: dict[int, str] = {}
    unknown: list[str] = []
    for i, header in enumerate(headers):
        name = lookup.get(_key(header or ""))
        if name and name not in matched.values():
            matched[i] = name
        elif (header or "").strip():
            unknown.append(header)
    return matched, unknown


def guess_sheet(headers: list[str]) -> str:
    """Tell which sheet a single CSV file holds, from its headers."""
    keys = {_key(h or "") for h in headers}
    if {"identifiantptce", "ptce", "idptce"} & keys:
        soutien_keys = {
            _key(a) for c in SOUTIEN_COLUMNS[1:3] for a in (c.name, *c.aliases)
        }
        return "Soutiens" if soutien_keys & keys else "Membres"
    return "PTCE"
