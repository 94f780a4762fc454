"""Domain model: PTCE, their members and the collectivités that support them.

A PTCE is stored and versioned as one *aggregate*: its own fields, its
members, its supports, its calls won and its sources. Saving, history and
restore work on the whole aggregate, which keeps "one version per record"
meaningful for the analyst (a PTCE fiche) and lets an import compare a row
with what is stored in one step.

Vocabularies are the French labels shown to users and written in files.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field, fields

FILIERES = (
    "culture",
    "économie circulaire et déchets",
    "alimentation et agriculture",
    "sport et santé",
    "mobilité",
    "énergie",
    "habitat et bâtiment",
    "numérique",
    "tourisme",
    "insertion et emploi",
    "services à la personne",
    "textile",
    "autre",
)
STADES = ("gestation", "émergence", "développement", "consolidation")
FORMES_JURIDIQUES = (
    "association",
    "SCIC",
    "SCOP",
    "fonds de dotation",
    "GIE",
    "société ESUS",
    "sans structure propre",
    "autre",
)
CATEGORIES_MEMBRE = (
    "association",
    "coopérative",
    "mutuelle",
    "fondation",
    "entreprise de l'ESS",
    "entreprise classique",
    "collectivité",
    "recherche/enseignement supérieur",
    "organisme de formation",
    "citoyens",
    "autre",
)
ROLES_MEMBRE = ("porteur", "membre", "partenaire")
#: The seven levers of the seed document, plus "autre".
TYPES_SOUTIEN = (
    "repérage et mise en lien",
    "financement du fonctionnement / de l'animation",
    "investissement",
    "conseil et ingénierie",
    "accès au foncier et aux locaux",
    "commande publique",
    "acteur de la gouvernance",
    "autre",
)
NIVEAUX = ("region", "departement", "epci", "commune")
NIVEAU_LABELS = {
    "region": "région",
    "departement": "département",
    "epci": "EPCI",
    "commune": "commune",
}
TYPES_AMI = ("lauréat phase 1", "financé")
#: Where a record comes from; demo and synthetic data are never mixed.
ORIGINES = ("saisie", "démonstration", "synthétique")
#: Fields of a PTCE whose value may be marked as inferred (« déduit »), with
#: their French names (fiche, exports, import column ``deductions``).
CHAMPS_DEDUITS = {
    "nom": "nom",
    "commune": "commune",
    "departement": "département",
    "region": "région",
    "territoire": "territoire",
    "filieres": "filières",
    "stade": "stade",
    "forme_juridique": "forme juridique",
    "annee_creation": "année de création",
    "nb_membres": "nombre de membres",
    "emplois": "emplois",
    "charte_signee": "charte signée",
    "site_web": "site web",
    "latitude": "latitude",
    "longitude": "longitude",
    "ami": "AMI",
    "membres": "membres",
    "meme_pole_que": "même pôle probable",
}


def fold(text: str) -> str:
    """Fold text for tolerant matching: no accents, lower case, single spaces.

    Parameters
    ----------
    text : str
        Any label, e.g. ``"Économie circulaire et déchets "``.

    Returns
    -------
    str
        ``"economie circulaire et dechets"``.
    """
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"[\s_\-]+", " ", text)
    return text.strip()


def match_label(value: str, vocabulary: tuple[str, ...]) -> str | None:
    """Return the vocabulary label matching ``value`` tolerantly, or None."""
    key = fold(value)
    for label in vocabulary:
        if fold(label) == key:
            return label
    return None


def slugify(text: str) -> str:
    """Make a stable identifier from a name: ``"Lab'Sport (44)"`` → ``lab-sport-44``."""
    slug = re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")
    return slug or "ptce"


@dataclass(frozen=True)
class Source:
    """Where a fact comes from."""

    libelle: str
    url: str | None = None


@dataclass(frozen=True)
class Ami:
    """A call for expressions of interest won by a PTCE."""

    annee: int
    type: str  # one of TYPES_AMI


@dataclass(frozen=True)
class Membre:
    """A structure taking part in a PTCE."""

    nom: str
    categorie: str | None = None  # one of CATEGORIES_MEMBRE
    role: str = "membre"  # one of ROLES_MEMBRE


@dataclass(frozen=True)
class Soutien:
    """A collectivité supporting a PTCE (level + COG code, never free text)."""

    niveau: str  # one of NIVEAUX
    code: str  # COG code (SIREN for an EPCI)
    type: str  # one of TYPES_SOUTIEN
    dispositif: str | None = None
    montant: float | None = None  # euros
    annee_debut: int | None = None
    annee_fin: int | None = None
    phase: str | None = None  # one of STADES
    source: Source | None = None
    note: str | None = None
    #: Why this support is inferred rather than read in its source (empty:
    #: read as it is). Shown as « déduit » with this reasoning.
    deduit: str | None = None

    def flat(self) -> dict:
        """Return the support as one flat row (source split into two fields)."""
        return {
            "niveau": self.niveau,
            "code": self.code,
            "type": self.type,
            "dispositif": self.dispositif,
            "montant": self.montant,
            "annee_debut": self.annee_debut,
            "annee_fin": self.annee_fin,
            "phase": self.phase,
            "source_libelle": self.source.libelle if self.source else None,
            "source_url": self.source.url if self.source else None,
            "note": self.note,
            "deduit": self.deduit,
        }


@dataclass
class Ptce:
    """A Pôle Territorial de Coopération Économique, as one aggregate.

    The seat is a commune (INSEE 2026 code) when known; otherwise only its
    département or région. Unknown fields stay empty (None).
    """

    id: str
    nom: str
    description: str | None = None
    commune: str | None = None
    departement: str | None = None
    region: str | None = None
    territoire: tuple[str, ...] = ()  # commune and/or EPCI codes
    filieres: tuple[str, ...] = ()
    stade: str | None = None
    forme_juridique: str | None = None
    annee_creation: int | None = None
    nb_membres: int | None = None
    emplois: int | None = None
    charte_signee: bool | None = None
    site_web: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    ami: tuple[Ami, ...] = ()
    sources: tuple[Source, ...] = ()
    membres: tuple[Membre, ...] = ()
    soutiens: tuple[Soutien, ...] = ()
    origine: str = "saisie"
    #: Values inferred rather than read in a source: field name (see
    #: :data:`CHAMPS_DEDUITS`) → the reasoning, shown as « déduit ».
    deductions: dict[str, str] = field(default_factory=dict)
    #: Identifiers of PTCE that are probably the same pôle under another name
    #: (kept as separate records, linked; the reasoning is in
    #: ``deductions["meme_pole_que"]``).
    meme_pole_que: tuple[str, ...] = ()
    version: int = 0

    def content(self) -> dict:
        """Return the comparable content: every field but the version."""
        data = to_dict(self)
        data.pop("version")
        return data


def to_dict(ptce: Ptce) -> dict:
    """Serialise a PTCE aggregate to plain JSON-compatible data."""
    data = asdict(ptce)
    for key in (
        "territoire",
        "filieres",
        "ami",
        "sources",
        "membres",
        "soutiens",
        "meme_pole_que",
    ):
        data[key] = list(data[key])
    return data


def from_dict(data: dict) -> Ptce:
    """Build a PTCE aggregate from :func:`to_dict` output (history, demo files)."""
    known = {f.name for f in fields(Ptce)}
    values = {k: v for k, v in data.items() if k in known}
    values["territoire"] = tuple(values.get("territoire") or ())
    values["deductions"] = dict(values.get("deductions") or {})
    values["meme_pole_que"] = tuple(values.get("meme_pole_que") or ())
    values["filieres"] = tuple(values.get("filieres") or ())
    values["ami"] = tuple(Ami(**a) for a in values.get("ami") or ())
    values["sources"] = tuple(Source(**s) for s in values.get("sources") or ())
    values["membres"] = tuple(Membre(**m) for m in values.get("membres") or ())
    values["soutiens"] = tuple(
        Soutien(**{**s, "source": Source(**s["source"]) if s.get("source") else None})
        for s in values.get("soutiens") or ()
    )
    return Ptce(**values)


@dataclass(frozen=True)
class Fait:
    """A sourced national or regional figure (e.g. AMI laureates per year).

    Figures from different sources are kept side by side, never merged: the
    ``sujet`` groups the figures that should agree, so that a disagreement is
    visible.
    """

    sujet: str
    libelle: str
    valeur: float | None
    unite: str | None
    annee: int | None
    source: Source
    note: str | None = None


@dataclass
class Problem:
    """One validation problem, located in a file or a form."""

    message: str
    colonne: str | None = None
    valeur: str | None = None
    ligne: int | None = None
    feuille: str | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain data for JSON reports."""
        return {
            "ligne": self.ligne,
            "feuille": self.feuille,
            "colonne": self.colonne,
            "valeur": self.valeur,
            "probleme": self.message,
        }


#: Layers a map vue can draw (the Carte's « Couches »).
LAYERS = {
    "ptce": "PTCE",
    "choro": "Choroplèthe",
    "territoires": "Territoires d'action",
    "soutiens": "Collectivités qui soutiennent",
}


MAILLES = {"departement": "Départements", "epci": "EPCI"}
