"""How sure a value is: read in a source, or inferred (« déduit »).

A PTCE's ``deductions`` map a field to the reasoning that produced its value
when no source states it; a support's ``deduit`` holds the same for the
support itself. This module words these marks the same way on every screen
and export: the fiche, the annuaire, the map's tooltips and popups.
"""

from __future__ import annotations

from lib.domain.model import CHAMPS_DEDUITS, Ptce

__all__ = [
    "DEDUIT",
    "DEDUIT_AIDE",
    "DOUBLONS_AIDE",
    "champs_deduits",
    "libelle_champ",
]

#: The mark itself.
DEDUIT = "déduit"
#: What the mark means (help texts, legends).
DEDUIT_AIDE = (
    "« déduit » : valeur qu'aucune source ne donne telle quelle, tirée d'un "
    "raisonnement (par exemple un département lu dans le nom du PTCE). Le "
    "raisonnement est donné avec la valeur ; à vérifier avant de la citer."
)
#: Why probable duplicates are kept as two linked fiches rather than merged.
DOUBLONS_AIDE = (
    "Deux fiches qui décrivent probablement le même pôle sous deux noms sont "
    "gardées séparées et liées plutôt que fusionnées : aucune source ne dit "
    "qu'il s'agit du même pôle, et fusionner mêlerait des valeurs lues dans "
    "des sources différentes. Ne les additionnez pas dans un décompte."
)


def libelle_champ(champ: str) -> str:
    """Return the French name of a field that may be marked « déduit »."""
    return CHAMPS_DEDUITS.get(champ, champ)


def champs_deduits(record: Ptce) -> tuple[str, ...]:
    """Return the French names of the values of a PTCE that are inferred.

    Parameters
    ----------
    record : Ptce
        The aggregate.

    Returns
    -------
    tuple of str
        In the order of :data:`lib.domain.model.CHAMPS_DEDUITS` (the probable
        duplicate link left out: it is shown on its own), then « soutien »
        or « soutiens » when supports are inferred.
    """
    names = [
        libelle_champ(champ)
        for champ in CHAMPS_DEDUITS
        if champ in record.deductions and champ != "meme_pole_que"
    ]
    names += [libelle_champ(c) for c in record.deductions if c not in CHAMPS_DEDUITS]
    supports = sum(1 for s in record.soutiens if s.deduit)
    if supports:
        names.append("soutien" if supports == 1 else "soutiens")
    return tuple(names)
