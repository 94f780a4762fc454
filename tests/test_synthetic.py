"""The synthetic generator: deterministic, flagged, on real territories."""

from __future__ import annotations

from geo.reference import load_reference
from lib.domain.model import FILIERES, TYPES_SOUTIEN
from lib.io.synthetic import generate


def test_deterministic_and_flagged():
    first, again = generate(200, seed=3), generate(200, seed=3)
    assert first == again
    assert generate(200, seed=4) != first
    assert all(p.origine == "synthétique" for p in first)
    assert all("synthétique" in p.nom for p in first)
    assert len({p.id for p in first}) == 200


def test_real_codes_and_vocabularies():
    ref = load_reference()
    records = generate(500, seed=5)
    for p in records:
        commune = ref.communes[p.commune]
        assert (p.departement, p.region) == (commune.departement, commune.region)
        assert set(p.filieres) <= set(FILIERES)
        assert p.membres and p.membres[0].role == "porteur"
        for s in p.soutiens:
            assert s.type in TYPES_SOUTIEN
            table = {
                "region": ref.regions,
                "departement": ref.departements,
                "epci": ref.epci,
                "commune": ref.communes,
            }[s.niveau]
            assert s.code in table
    assert sum(len(p.soutiens) for p in records) > 500
    assert len({p.departement for p in records}) > 50
