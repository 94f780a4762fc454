"""The seven ways a collectivité can support a PTCE, defined once.

The seed document (RTES / CRESS Pays de la Loire, « Points de RepèrESS —
Collectivités & PTCE », mars 2025, page « Comment soutenir et s'appuyer sur
un PTCE ? ») lists seven ways. Each has:

- a stored **code**: the value kept in the database and in
  :data:`lib.domain.model.TYPES_SOUTIEN`. Codes never change, so records stored
  before the labels were aligned with the seed stay valid without a data
  migration;
- a **label** in the seed's wording, shown wherever a type appears (filters,
  legends, the matrix of the Collectivités page, tooltips, exports);
- a short **definition** written from the seed's examples.

Import accepts the code (the label used before), the label, and a few
older spellings: files exported by earlier versions still import.
"""

from __future__ import annotations

from dataclasses import dataclass

from lib.domain.model import TYPES_SOUTIEN, fold

__all__ = [
    "SOURCE_TYPES",
    "TYPES",
    "TypeSoutien",
    "code_type",
    "definition",
    "libelle",
    "libelle_aide",
]

#: Where the labels and definitions come from (shown with the legends).
SOURCE_TYPES = (
    "RTES/CRESS PdL, Points de RepèrESS n°10, mars 2025, "
    "« Comment soutenir et s'appuyer sur un PTCE ? »"
)


@dataclass(frozen=True)
class TypeSoutien:
    """One way of supporting a PTCE: stored code, label and definition."""

    code: str
    libelle: str
    definition: str


#: The seven ways of the seed (in its order), then « autre ».
TYPES: tuple[TypeSoutien, ...] = (
    TypeSoutien(
        "repérage et mise en lien",
        "repérage et mise en lien entre acteurs, compréhension du territoire",
        "Aider à repérer les acteurs, les mettre en relation et faire comprendre "
        "le territoire et ses orientations.",
    ),
    TypeSoutien(
        "financement du fonctionnement / de l'animation",
        "financements dédiés au fonctionnement (animation du pôle)",
        "Aider au fonctionnement par des financements dédiés, par exemple à "
        "l'animation du pôle, inscrits dans le temps (convention pluriannuelle "
        "d'objectifs).",
    ),
    TypeSoutien(
        "investissement",
        "aide à l'investissement",
        "Aider à investir : matériel mutualisé, locaux…",
    ),
    TypeSoutien(
        "conseil et ingénierie",
        "conseil et ingénierie",
        "Accompagner le PTCE sur les volets technique et administratif (et "
        "inversement, le PTCE peut conseiller la collectivité).",
    ),
    TypeSoutien(
        "accès au foncier et aux locaux",
        "accès au foncier (terrains et locaux)",
        "Faciliter l'accès au foncier : repérer des opportunités, porter "
        "l'investissement immobilier, mettre à disposition des locaux ou des "
        "terrains.",
    ),
    TypeSoutien(
        "commande publique",
        "appel aux biens et services proposés par le PTCE ou à son "
        "savoir-faire en matière de coopération",
        "Acheter les biens et services proposés par le PTCE (marchés publics, "
        "délégations de service public) ou faire appel à son savoir-faire et à "
        "son ingénierie de la coopération.",
    ),
    TypeSoutien(
        "acteur de la gouvernance",
        "acteur du PTCE et coopérer avec les acteurs du territoire",
        "Être partie prenante du PTCE et coopérer avec les acteurs du "
        "territoire : contribuer à sa gouvernance (par exemple comme associée "
        "d'une SCIC) et au développement de ses activités.",
    ),
    TypeSoutien(
        "autre",
        "autre",
        "Soutien qui n'entre dans aucune des sept manières du guide, ou dont "
        "la source ne précise pas la nature.",
    ),
)

_BY_CODE = {t.code: t for t in TYPES}
if tuple(_BY_CODE) != TYPES_SOUTIEN:  # pragma: no cover - a wiring error
    raise RuntimeError(
        "lib.domain.soutiens.TYPES and lib.domain.model.TYPES_SOUTIEN differ"
    )

#: Older spellings still accepted on import (folded text → code).
_ALIASES = {
    "financement du fonctionnement": "financement du fonctionnement / de l'animation",
    "financement de l'animation": "financement du fonctionnement / de l'animation",
    "acces au foncier": "accès au foncier et aux locaux",
    "gouvernance": "acteur de la gouvernance",
}
_LOOKUP: dict[str, str] = {}
for _t in TYPES:
    _LOOKUP[fold(_t.code)] = _t.code
    _LOOKUP[fold(_t.libelle)] = _t.code
for _alias, _code in _ALIASES.items():
    _LOOKUP[fold(_alias)] = _code


def libelle(code: str) -> str:
    """Return the label (seed wording) of a stored type code.

    Parameters
    ----------
    code : str
        A value of :data:`lib.domain.model.TYPES_SOUTIEN`.

    Returns
    -------
    str
        Its label; an unknown value is returned as it is (never hidden).
    """
    found = _BY_CODE.get(code)
    return found.libelle if found else code


def definition(code: str) -> str:
    """Return the short definition of a stored type code ("" when unknown)."""
    found = _BY_CODE.get(code)
    return found.definition if found else ""


def libelle_aide(code: str) -> str:
    """Return « label : definition », for tooltips and help texts."""
    text = definition(code)
    return f"{libelle(code)} : {text}" if text else libelle(code)


def code_type(text: str) -> str | None:
    """Return the stored code for a code, a label or an older spelling.

    Parameters
    ----------
    text : str
        What a file or a form holds, matched tolerantly (case, accents,
        spaces).

    Returns
    -------
    str or None
        The code, or None when nothing matches.
    """
    return _LOOKUP.get(fold(text or ""))
