"""« Que peut faire cette collectivité ? »: the guide and the data for a territory."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import shapely

from geo.boundaries import load_boundaries
from geo.lookup import commune_points
from lib import fr
from lib.analysis.accompagner import (
    LISTE_MAX,
    PAIRS_MAX,
    PTCE_MAX,
    format_km,
    level_shapes,
    neighbours,
    que_faire,
    role_du_niveau,
)
from lib.analysis.reperes import section
from lib.analysis.territoires import ptce_mask, region_of
from lib.domain.model import TYPES_SOUTIEN, Ptce, Soutien
from lib.domain.selection import build_frames
from lib.domain.soutiens import libelle
from lib.io.demo import load_demo_file

PAYS_D_ANCENIS = "244400552"
NANTES_METROPOLE = "244400404"
#: A distance as the section writes it: French digits, decimal comma.
KM = re.compile(r"^(moins de 0,1|\d{1,3}(\u202f\d{3})*(,\d)?)\u00a0km$")
#: The guide's titles of the four levels (lib.analysis.reperes).
TITRES = {
    "commune": "Communes",
    "epci": "Intercommunalités",
    "departement": "Départements",
    "region": "Régions",
}


@pytest.fixture(scope="module")
def demo(ref, built_cache):
    records, _ = load_demo_file()
    return build_frames(records, commune_points(), ref)


def _epci_without_ptce(frames, ref) -> str:
    # An EPCI of Pays de la Loire where the data has no PTCE: read from the
    # data, so that PTCE added to the demo never break the test.
    for code in sorted(ref.epci):
        if region_of("epci", code, ref) != "52":
            continue
        if not ptce_mask(frames.ptce, "epci", code).any():
            return code
    raise AssertionError("every EPCI of Pays de la Loire has a PTCE")


def _lambert_km(frames, niveau: str, code: str) -> dict[str, float]:
    """Kilometres from a territory to each PTCE of known position (Lambert-93).

    Another method than the module's (a national projection instead of one
    centred on the territory): both must agree.
    """
    shapes = load_boundaries(niveau, "regional").to_crs(2154)
    shape = shapes.loc[shapes["code"] == code].geometry.iloc[0]
    known = frames.ptce[frames.ptce["placement"].isin(("coordonnées", "commune"))]
    points = shapely.points(known["lon"].to_numpy(float), known["lat"].to_numpy(float))
    import geopandas as gpd

    projected = gpd.GeoSeries(points, crs=4326).to_crs(2154)
    return dict(
        zip(
            known.index,
            shapely.distance(shape, projected.to_numpy()) / 1000,
            strict=True,
        )
    )


# -- the guide ----------------------------------------------------------------------


def test_role_of_each_level_is_the_guides():
    entries = section("niveaux").entries
    for niveau, titre in TITRES.items():
        role = role_du_niveau(niveau)
        assert role.titre == titre
        assert role in entries  # the guide's own entry, not a copy
        assert role.source.partie == "Quels rôles pour les collectivités ?"
    with pytest.raises(ValueError):
        role_du_niveau("canton")


def test_format_km():
    assert format_km(12.44) == "12,4\u00a0km"
    assert format_km(135.6) == "136\u00a0km"
    assert format_km(1234.5) == "1\u202f234\u00a0km"
    assert format_km(0.01) == "moins de 0,1\u00a0km"
    assert format_km(None) == ""
    assert format_km(float("nan")) == ""
    for value in (0.01, 0.4, 12.44, 99.96, 135.6, 1234.5):
        assert KM.match(format_km(value)), format_km(value)


def test_neighbours_share_a_border(built_cache, ref):
    deps = level_shapes("departement")
    assert neighbours(deps, "44") == ("35", "49", "56", "85")
    assert neighbours(level_shapes("region"), "52") == ("24", "28", "53", "75")
    assert neighbours(level_shapes("region"), "04") == ()  # La Réunion
    assert neighbours(deps, "00") == ()
    assert NANTES_METROPOLE in neighbours(level_shapes("epci"), PAYS_D_ANCENIS)
    communes = neighbours(level_shapes("commune"), "44003")
    assert "44003" not in communes and len(communes) >= 3
    assert all(code in ref.communes for code in communes)


# -- acceptance: an EPCI without PTCE ----------------------------------------------


def test_epci_without_ptce_gets_role_peers_and_nearest(demo, ref):
    code = _epci_without_ptce(demo, ref)
    q = que_faire(demo, "epci", code, ref)
    assert q.nom == ref.epci[code].nom
    assert q.ptce == () and q.ptce_total == 0
    # The guide: the intercommunalités' role, with its source.
    assert q.role is role_du_niveau("epci")
    assert q.role.texte.startswith("Les intercommunalités")
    assert q.role.source.document.startswith("RTES / CRESS Pays de la Loire")

    # Ways most used by EPCI, counted from the data.
    epci = demo.soutiens[demo.soutiens["niveau"] == "epci"]
    counts = epci.groupby("type").size().to_dict()
    assert {p.type: p.soutiens for p in q.pratiques} == counts
    ways = [p.soutiens for p in q.pratiques if p.type != "autre"]
    assert ways == sorted(ways, reverse=True)
    assert "autre" not in [p.type for p in q.pratiques[:-1]]  # not a way: last
    for p in q.pratiques:
        part = epci[epci["type"] == p.type]
        assert p.libelle == libelle(p.type)
        assert p.collectivites == part["code"].nunique()
        assert p.ptce == part["ptce_id"].nunique()
    assert q.soutiens_niveau == len(epci)
    assert set(q.jamais) == {libelle(t) for t in TYPES_SOUTIEN[:7]} - {
        libelle(t) for t in counts
    }

    # What the other EPCI do, type by type, with their PTCE.
    others = epci[epci["code"] != code]
    assert q.pairs, "the demo has supports of EPCI"
    assert {g.type for g in q.pairs} == set(others["type"])
    for group in q.pairs:
        part = others[others["type"] == group.type]
        assert group.soutiens == len(part)
        assert group.libelle == libelle(group.type)
        assert len(group.pairs) + group.autres == part["code"].nunique()
        for pair in group.pairs:
            theirs = part[part["code"] == pair.code]
            assert pair.nom == ref.epci[pair.code].nom
            assert {pid for pid, _ in pair.ptce} <= set(theirs["ptce_id"])
            assert pair.ptce_total == theirs["ptce_id"].nunique()

    # The nearest PTCE of known position, from the EPCI's border.
    assert q.contours
    near = q.plus_proche
    assert near is not None
    expected = _lambert_km(demo, "epci", code)
    best = min(expected.values())
    assert expected[near.id] == pytest.approx(best, abs=0.5)
    assert near.distance_km == pytest.approx(expected[near.id], rel=0.02, abs=0.3)
    assert near.distance_km > 0
    assert KM.match(near.distance), near.distance
    assert near.nom == demo.ptce.loc[near.id, "nom"]
    assert near.lieu == demo.ptce.loc[near.id, "lieu"]
    # PTCE of its département(s) placed at the chef-lieu may lie in it.
    deps = {ref.communes[m].departement for m in ref.epci[code].membres}
    approx = demo.ptce[
        demo.ptce["departement"].isin(deps) & (demo.ptce["placement"] == "département")
    ]
    assert q.sans_position_total == len(approx)
    assert {p.id for p in q.sans_position} <= set(approx.index)
    assert len(q.sans_position) == min(len(approx), LISTE_MAX)
    # Its neighbours: EPCI sharing a border.
    assert [v.code for v in q.voisins] != []
    assert {v.code for v in q.voisins} == set(neighbours(level_shapes("epci"), code))


def test_every_level_on_the_demo(demo, ref):
    for niveau, code in (("commune", "44109"), ("departement", "44"), ("region", "52"),
                         ("region", "53")):  # fmt: skip
        q = que_faire(demo, niveau, code, ref)
        assert q.role.titre == TITRES[niveau]
        present = demo.ptce.index[ptce_mask(demo.ptce, niveau, code)]
        assert q.ptce_total == len(present)
        assert len(q.ptce) == min(len(present), LISTE_MAX)
        assert {p.id for p in q.ptce} <= set(present)
        names = [p.nom for p in q.ptce]
        assert names == fr.sorted_fr(names)
        # The first in French order of all the territory's PTCE.
        assert names == fr.sorted_fr(demo.ptce.loc[present, "nom"])[:LISTE_MAX]
        assert {v.code for v in q.voisins} == set(
            neighbours(level_shapes(niveau), code)
        )
        level = demo.soutiens[demo.soutiens["niveau"] == niveau]
        assert sum(p.soutiens for p in q.pratiques) == len(level)
        if len(present):
            assert q.plus_proche is None and q.sans_position == ()
        else:
            assert q.plus_proche is not None and KM.match(q.plus_proche.distance)
        inside = ptce_mask(demo.ptce, niveau, code)
        for voisin in q.voisins:
            theirs = ptce_mask(demo.ptce, niveau, voisin.code) & ~inside
            assert voisin.ptce_total == theirs.sum()
            assert {p.id for p in voisin.ptce} <= set(demo.ptce.index[theirs])
            assert len(voisin.ptce) == min(voisin.ptce_total, LISTE_MAX)
            measured = [p.distance_km for p in voisin.ptce if p.distance_km is not None]
            assert measured == sorted(measured)


def test_unknown_territory(demo, ref):
    with pytest.raises(ValueError):
        que_faire(demo, "epci", "000000000", ref)
    with pytest.raises(ValueError):
        que_faire(demo, "canton", "4401", ref)


def test_without_boundary_cache(demo, ref, tmp_path, monkeypatch):
    monkeypatch.setenv("PTCE_CACHE_DIR", str(tmp_path / "vide"))
    assert level_shapes("epci") is None
    code = _epci_without_ptce(demo, ref)
    q = que_faire(demo, "epci", code, ref)
    assert not q.contours
    assert q.voisins == () and q.plus_proche is None
    assert q.role is role_du_niveau("epci") and q.pairs  # the rest is there


# -- deterministic records: order, limits, the peers' région ------------------------


def _ptce(id_, commune, soutiens=(), departement=None, region=None, territoire=()):
    return Ptce(
        id=id_,
        nom=f"PTCE {id_}",
        commune=commune,
        departement=departement,
        region=region,
        territoire=territoire,
        soutiens=tuple(soutiens),
    )


@pytest.fixture(scope="module")
def hand_made(ref, built_cache):
    """PTCE supported by EPCI of Pays de la Loire and one of Occitanie."""

    def epci_of(commune: str) -> str:
        return ref.communes[commune].epci

    records = [
        # Six PTCE in Nantes, all supported by Nantes Métropole.
        *(
            _ptce(f"nantes-{i}", "44109", [Soutien("epci", NANTES_METROPOLE,
                                                   "investissement")],
                  "44", "52")
            for i in range(1, 7)
        ),
        # One PTCE in each of six other EPCI of the région.
        *(
            _ptce(f"pdl-{c}", c, [Soutien("epci", epci_of(c), "investissement")],
                  c[:2], "52")
            for c in ("44003", "49007", "72181", "85191", "53130", "44184")
        ),
        # Two in Auch, supported by its EPCI (Occitanie): more PTCE, other région.
        *(
            _ptce(f"auch-{i}", "32013", [Soutien("epci", epci_of("32013"),
                                                 "investissement")],
                  "32", "76")
            for i in (1, 2, 3)
        ),
        # Seat unknown, acting on the CC du Pays d'Ancenis.
        _ptce("ancenis-territoire", None, (), "44", "52", territoire=(PAYS_D_ANCENIS,)),
    ]  # fmt: skip
    return build_frames(records, commune_points(), ref)


def _neighbour_without_ptce(frames, ref) -> str:
    shapes = level_shapes("epci")
    for code in neighbours(shapes, NANTES_METROPOLE):
        if (
            region_of("epci", code, ref) == "52"
            and not ptce_mask(frames.ptce, "epci", code).any()
        ):
            return code
    raise AssertionError("no neighbour of Nantes Métropole without PTCE")


def test_peers_same_region_first_then_most_ptce(hand_made, ref):
    code = _neighbour_without_ptce(hand_made, ref)
    q = que_faire(hand_made, "epci", code, ref)
    (group,) = q.pairs
    assert group.type == "investissement" and group.soutiens == 15
    assert len(group.pairs) == PAIRS_MAX
    assert group.autres == 8 - PAIRS_MAX  # Nantes, six others, Grand Auch
    assert all(p.meme_region for p in group.pairs)  # Auch's three PTCE: later
    first = group.pairs[0]
    assert first.code == NANTES_METROPOLE and first.ptce_total == 6
    assert len(first.ptce) == PTCE_MAX
    names = [nom for _, nom in first.ptce]
    assert names == fr.sorted_fr(names)
    rest = [p.nom for p in group.pairs[1:]]
    assert rest == fr.sorted_fr(rest)
    assert q.jamais == tuple(
        libelle(t) for t in TYPES_SOUTIEN[:7] if t != "investissement"
    )

    # The territory of the fiche is not its own peer; it counts in the level.
    ancenis = que_faire(hand_made, "epci", PAYS_D_ANCENIS, ref)
    assert PAYS_D_ANCENIS not in {p.code for g in ancenis.pairs for p in g.pairs}
    assert ancenis.pratiques[0].collectivites == 8


def test_neighbours_ptce_and_nearest(hand_made, ref):
    code = _neighbour_without_ptce(hand_made, ref)
    q = que_faire(hand_made, "epci", code, ref)
    nantes = next(v for v in q.voisins if v.code == NANTES_METROPOLE)
    assert {p.id for p in nantes.ptce} == {f"nantes-{i}" for i in range(1, 7)}
    assert q.voisins[0].ptce  # neighbours with PTCE first
    # The six PTCE of Nantes share one point: one distance, then French order.
    distances = {p.distance_km for p in nantes.ptce}
    assert len(distances) == 1
    assert [p.nom for p in nantes.ptce] == fr.sorted_fr(p.nom for p in nantes.ptce)
    assert q.plus_proche is not None
    # The nearest of all, wherever it is (a neighbour's or beyond).
    everything = [p.distance_km for v in q.voisins for p in v.ptce]
    assert q.plus_proche.distance_km <= min(everything)
    expected = _lambert_km(hand_made, "epci", code)
    assert expected[q.plus_proche.id] == pytest.approx(min(expected.values()), abs=0.5)
    assert q.plus_proche.distance_km == pytest.approx(
        expected[q.plus_proche.id], rel=0.02, abs=0.3
    )


def test_commune_through_its_epci_and_unplaced_ptce(hand_made, ref):
    # A territory of action naming the EPCI covers its communes.
    q = que_faire(hand_made, "commune", "44003", ref)
    assert {p.id for p in q.ptce} == {"pdl-44003", "ancenis-territoire"}
    assert q.plus_proche is None
    # Elsewhere in Loire-Atlantique, the PTCE without seat may be there.
    communes_44 = [
        c
        for c, commune in sorted(ref.communes.items())
        if commune.departement == "44"
        and commune.epci
        not in (PAYS_D_ANCENIS, NANTES_METROPOLE, ref.communes["44184"].epci)
    ]
    other = que_faire(hand_made, "commune", communes_44[0], ref)
    assert other.ptce == ()
    assert [p.id for p in other.sans_position] == ["ancenis-territoire"]
    assert other.plus_proche is not None and other.plus_proche.distance_km > 0
    assert not np.isnan(other.plus_proche.distance_km)


def test_first_in_french_order_matches_a_full_sort():
    from lib.analysis.accompagner import _first_positions

    names = pd.Series(
        [
            "Œuvre",
            "oeuvre",
            "Élan",
            "elan",
            "Elan",
            "cote",
            "côte",
            "Côte",
            "Zèbre",
            "aéro",
            "Ærø",
            "Ancenis",
            "ancenis",
            "Bœuf",
            "boeuf",
        ]
    )
    rng = np.random.default_rng(4)
    for _ in range(30):
        keys = [rng.integers(0, 3, len(names)), rng.integers(0, 2, len(names))]
        expected = sorted(
            range(len(names)),
            key=lambda i: (keys[0][i], keys[1][i], fr.sort_key(names[i])),
        )
        for n in (1, 3, 5, len(names)):
            assert _first_positions(keys, names, n) == expected[:n]
    by_name = sorted(range(len(names)), key=lambda i: fr.sort_key(names[i]))
    assert _first_positions([], names, 4) == by_name[:4]


def test_nearest_is_the_nearest_of_all(built_cache, ref):
    # Many PTCE at commune points: the measured nearest equals a full scan.
    from lib.analysis.accompagner import _Mesure

    points = commune_points()
    communes = [c for c in sorted(points) if c[:2] in ("44", "49", "85", "56")][::7]
    frames = build_frames([_ptce(f"p{c}", c) for c in communes], points, ref)
    shapes = level_shapes("epci")
    for code in (PAYS_D_ANCENIS, NANTES_METROPOLE, "200000438"):
        mesure = _Mesure(frames.ptce, shapes[code])
        nearest = mesure.nearest(np.ones(len(frames.ptce), dtype=bool), 3)
        full = _Mesure(frames.ptce, shapes[code])
        full._measure(np.arange(len(frames.ptce)))
        best = np.sort(full.km)[:3]
        assert np.sort(nearest[~np.isnan(nearest)])[:3] == pytest.approx(best)
        assert (full.km == 0).any()  # PTCE inside the EPCI: zero
