"""Synthetic PTCE for benchmarks and tests (never mixed into demo data).

Records are spread over real communes and EPCI of the COG reference, carry
``origine="synthétique"`` and a name that says so, and are deterministic for a
given seed.
"""

from __future__ import annotations

import random

from geo.reference import Reference, load_reference
from lib.domain.model import (
    CATEGORIES_MEMBRE,
    FILIERES,
    FORMES_JURIDIQUES,
    ROLES_MEMBRE,
    STADES,
    TYPES_AMI,
    TYPES_SOUTIEN,
    Ami,
    Membre,
    Ptce,
    Source,
    Soutien,
)

SOURCE = Source("Données synthétiques générées pour les tests", None)


# size: one Ptce literal with every field drawn at random; the draws stay in one
# place because their order fixes the records of a seed (benchmarks, tests).
def generate(n: int, seed: int = 0, ref: Reference | None = None) -> list[Ptce]:
    """Generate ``n`` synthetic PTCE with members and supports.

    Parameters
    ----------
    n : int
        How many PTCE (1,000 to 100,000 in benchmarks; any size works).
    seed : int
        Random seed: the same seed gives the same records.
    ref : Reference, optional
        The COG reference.

    Returns
    -------
    list of Ptce
        Records flagged ``origine="synthétique"``, ids ``synth-000001``…
    """
    ref = ref or load_reference()
    rng = random.Random(seed)
    communes = sorted(
        (c for c in ref.communes.values() if c.zone != "com"), key=lambda c: c.code
    )
    records = []
    for i in range(1, n + 1):
        seat = rng.choice(communes)
        epci = ref.epci.get(seat.epci) if seat.epci else None
        supporters = [("region", seat.region), ("departement", seat.departement)]
        if epci:
            supporters.append(("epci", epci.code))
        supporters.append(("commune", seat.code))
        soutiens = tuple(
            Soutien(
                niveau=niveau,
                code=code,
                type=rng.choice(TYPES_SOUTIEN),
                dispositif=None,
                montant=float(rng.randrange(1, 200)) * 1000
                if rng.random() < 0.6
                else None,
                annee_debut=(start := rng.randint(2014, 2025)),
                annee_fin=start + rng.randint(0, 3),
                phase=rng.choice(STADES),
                source=SOURCE,
            )
            for niveau, code in rng.sample(supporters, rng.randint(0, len(supporters)))
        )
        membres = tuple(
            Membre(
                nom=f"Structure synthétique {i}-{j}",
                categorie=rng.choice(CATEGORIES_MEMBRE),
                role=ROLES_MEMBRE[0] if j == 1 else rng.choice(ROLES_MEMBRE[1:]),
            )
            for j in range(1, rng.randint(2, 8))
        )
        territoire = (epci.code,) if epci and rng.random() < 0.5 else (seat.code,)
        records.append(
            Ptce(
                id=f"synth-{i:06d}",
                nom=f"PTCE synthétique n°{i} ({seat.nom})",
                description=None,
                commune=seat.code,
                departement=seat.departement,
                region=seat.region,
                territoire=territoire,
                filieres=tuple(rng.sample(FILIERES[:-1], rng.randint(1, 3))),
                stade=rng.choice(STADES),
                forme_juridique=rng.choice(FORMES_JURIDIQUES),
                annee_creation=rng.randint(2005, 2025),
                nb_membres=len(membres) + rng.randint(0, 30),
                emplois=rng.randint(0, 40),
                charte_signee=rng.choice((True, False, None)),
                ami=(
                    (Ami(rng.choice((2021, 2023, 2025)), rng.choice(TYPES_AMI)),)
                    if rng.random() < 0.2
                    else ()
                ),
                sources=(SOURCE,),
                membres=membres,
                soutiens=soutiens,
                origine="synthétique",
            )
        )
    return records
