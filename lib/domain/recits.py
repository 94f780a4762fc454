"""Storylines (*récits*) of the presentation mode: ordered views of the atlas.

A récit is a list of *vues*: a title, a short text and what to show — a map
with its filters and layers, the sourced national figures, the matrix of
supports, or the ways a collectivité can support a PTCE. The default récit is
built only from sourced facts (the demo records and the figures of the fact
sheet); presenters save their own récits in the database, and each vue has a
link (``presentation?recit=…&vue=…``) that reopens it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

from lib.domain.model import LAYERS, TYPES_SOUTIEN, Fait, fold, slugify
from lib.domain.model import MAILLES as CARTE_MAILLES
from lib.domain.selection import Filters
from lib.domain.soutiens import TYPES as SUPPORT_TYPES
from lib.fr import MISSING, date_time, integer

#: What a vue shows besides its title and text.
GENRES = {
    "carte": "Carte",
    "chiffres": "Chiffres sourcés",
    "matrice": "Qui soutient qui, et comment",
    "soutenir": "Comment soutenir un PTCE",
}
#: The Carte's grids and layers (a vue draws what the Carte draws).
MAILLES = tuple(CARTE_MAILLES)
COUCHES = tuple(LAYERS)
DEFAULT_ID = "defaut"
#: Source of the seed document the default récit quotes.
SEED_SOURCE = "RTES / CRESS Pays de la Loire, Points de RepèrESS n°10, mars 2025"


@dataclass(frozen=True)
class Vue:
    """One view of a récit.

    Attributes
    ----------
    titre, texte : str
        Shown in large type; plain text (escaped when drawn).
    genre : str
        One of :data:`GENRES`.
    filtres : dict
        URL parameters of the explorer's filters (see
        :meth:`lib.domain.selection.Filters.to_params`); ``{}`` is the default
        selection (Pays de la Loire).
    maille, indicateur : str
        Choropleth grid and indicator (see :mod:`lib.analysis.choropleth`).
    couches : tuple of str
        Map layers, from :data:`COUCHES`.
    surligner : tuple of str
        PTCE ids drawn highlighted.
    sujets : tuple of str
        For ``chiffres``: subjects of the sourced figures shown (prefix
        match, accents ignored); empty for all.
    source : str
        Source line of the text.
    """

    titre: str
    texte: str = ""
    genre: str = "carte"
    filtres: dict = field(default_factory=dict)
    maille: str = "departement"
    indicateur: str = "nombre"
    couches: tuple[str, ...] = ("ptce", "choro")
    surligner: tuple[str, ...] = ()
    sujets: tuple[str, ...] = ()
    source: str = ""

    def filters(self) -> Filters:
        """Return the explorer filters of this vue."""
        return Filters.from_params(self.filtres)

    def with_view_of(self, other: Vue) -> Vue:
        """Return this vue with the filters, grid, indicator and layers of ``other``.

        Parameters
        ----------
        other : Vue

        Returns
        -------
        Vue
            Title, text, content kind and highlighted PTCE unchanged.
        """
        return replace(
            self,
            filtres=other.filtres,
            maille=other.maille,
            indicateur=other.indicateur,
            couches=other.couches,
        )

    def to_dict(self) -> dict:
        """Plain data (JSON) of the vue."""
        data = asdict(self)
        for key in ("couches", "surligner", "sujets"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> Vue:
        """Read a vue from :meth:`to_dict` data, dropping unknown values.

        Parameters
        ----------
        data : mapping
            As written by :meth:`to_dict`.

        Returns
        -------
        Vue
        """
        genre = data["genre"] if data.get("genre") in GENRES else "carte"
        maille = data["maille"] if data.get("maille") in MAILLES else "departement"
        filtres = {
            str(k): v if isinstance(v, str) else [str(x) for x in v]
            for k, v in dict(data.get("filtres") or {}).items()
        }
        return cls(
            titre=str(data.get("titre") or "Sans titre"),
            texte=str(data.get("texte") or ""),
            genre=genre,
            filtres=filtres,
            maille=maille,
            indicateur=str(data.get("indicateur") or "nombre"),
            couches=tuple(c for c in data.get("couches") or () if c in COUCHES),
            surligner=tuple(str(x) for x in data.get("surligner") or ()),
            sujets=tuple(str(x) for x in data.get("sujets") or ()),
            source=str(data.get("source") or ""),
        )


@dataclass(frozen=True)
class Recit:
    """An ordered storyline of vues, stored in the database.

    Attributes
    ----------
    id : str
        Slug used in links.
    titre : str
    vues : tuple of Vue
    version : int
        Version read from the database (0: never saved), for the optimistic
        concurrency check of :func:`save`.
    """

    id: str
    titre: str
    vues: tuple[Vue, ...]
    version: int = 0

    def moved(self, index: int, offset: int) -> Recit:
        """Return the récit with vue ``index`` moved by ``offset`` places."""
        vues = list(self.vues)
        target = min(max(index + offset, 0), len(vues) - 1)
        vues.insert(target, vues.pop(index))
        return replace(self, vues=tuple(vues))

    def without(self, index: int) -> Recit:
        """Return the récit without vue ``index``."""
        return replace(self, vues=self.vues[:index] + self.vues[index + 1 :])

    def with_vue(self, vue: Vue, index: int | None = None) -> Recit:
        """Return the récit with ``vue`` replacing vue ``index`` (None: added)."""
        if index is None:
            return replace(self, vues=(*self.vues, vue))
        vues = (*self.vues[:index], vue, *self.vues[index + 1 :])
        return replace(self, vues=vues)


def vue_link(recit_id: str, index: int) -> str:
    """Return the relative link that reopens vue ``index`` (0-based) of a récit.

    Parameters
    ----------
    recit_id : str
        The récit's id.
    index : int
        Position of the vue, from 0; the link counts from 1.

    Returns
    -------
    str
        ``./presentation?recit=<id>&vue=<n>``.
    """
    return f"./presentation?recit={recit_id}&vue={index + 1}"


# -- default récit --------------------------------------------------------------

_EXPERIENCES = (
    (
        "le-moulin-creatif",
        "85",
        "Créer des activités et des emplois non délocalisables",
        "Le Moulin Créatif (85) soutient le développement des filières locales "
        "artistiques et culturelles par l'accompagnement des porteurs de projets, "
        "de leurs coopérations, et la co-organisation d'évènements.",
    ),
    (
        "fibres-49",
        "49",
        "Faciliter le changement d'échelle",
        "FIBRES 49, porté par dix structures de l'ESS, met en place une solution de "
        "gestion globale des déchets des TPE/PME (collecte de proximité à des "
        "coûts réduits).",
    ),
    (
        "ptce-du-pays-du-mans",
        "72",
        "Structurer une ingénierie de développement",
        "Suite à l'analyse des besoins du territoire de l'intercommunalité du Mans, "
        "le PTCE du Pays du Mans (72) a permis la structuration d'une ingénierie "
        "complète de collecte, de gestion et de valorisation des déchets des "
        "entreprises. Le Mans Métropole avait sollicité le réseau local de l'ESS "
        "(CEAS 72) pour analyser les besoins du territoire.",
    ),
    (
        "ptce-lab-sport",
        "44",
        "Renforcer la lisibilité des acteurs",
        "La création du PTCE Lab Sport (44) a facilité le parcours des personnes "
        "ayant un besoin en activité physique adaptée, par la coopération entre "
        "structures du médico-social et associations sportives. Le Conseil "
        "départemental de Loire-Atlantique le soutient par une subvention de "
        "fonctionnement.",
    ),
    (
        "les-grandlieu-zarts",
        "44",
        "Encourager la participation citoyenne",
        "Le PTCE Les Grandlieu'Zarts (44) s'est ouvert à la participation citoyenne "
        "en investissant un lieu, le Grand Lieu du Conte, qui facilite la "
        "mobilisation des habitant·es dans les projets du PTCE.",
    ),
    (
        "cultivons-les-cailloux",
        "44",
        "Une commune qui soutient un PTCE",
        "La mairie d'Ancenis-Saint-Géréon (44), soucieuse de la redynamisation de "
        "son centre-bourg, soutient le PTCE Cultivons les Cailloux dans l'achat "
        "d'un local en centre-ville et dans l'organisation de ses activités grand "
        "public.",
    ),
)

#: The seven ways a collectivité can support a PTCE, in the seed's wording
#: ("Comment soutenir et s'appuyer sur un PTCE ?", defined in lib.domain.soutiens).
WAYS_TO_SUPPORT = tuple(
    t.libelle[:1].upper() + t.libelle[1:] for t in SUPPORT_TYPES if t.code != "autre"
)


# size: the default récit's own text, one Vue literal per slide in the
# order shown; split, the story would no longer read top to bottom.
def default_recit(known_ids: Iterable[str] = ()) -> Recit:
    """Return the default récit, built only from sourced facts.

    National figures (whose sources disagree), the Pays de la Loire map, one
    vue per experience the seed document names, the roles of the
    collectivités (level × kind of support) and the ways to support a PTCE.

    Parameters
    ----------
    known_ids : iterable of str
        Ids of the PTCE in the database; experiences whose PTCE is missing
        are left out (their vue would show nothing).

    Returns
    -------
    Recit
    """
    known = set(known_ids)
    vues = [
        Vue(
            "Les PTCE en France : des chiffres à lire avec leurs sources",
            "Depuis 2021, l'État soutient les PTCE par un appel à manifestation "
            "d'intérêt permanent. Les chiffres publiés ne concordent pas : "
            "chacun est montré avec sa source.",
            genre="chiffres",
            filtres={"region": "france"},
            # The figures whose sources disagree, and the census: a table
            # read from the back of a room (all the figures: page Repères).
            sujets=(
                "PTCE recensés",
                "AMI PTCE émergents — lauréats",
                "AMI PTCE émergents — PTCE financés",
            ),
        ),
        Vue(
            "Les PTCE en Pays de la Loire",
            "Les PTCE recensés dans l'atlas, dans la commune de leur siège ou, "
            "siège inconnu, au chef-lieu de leur département (cercle pointillé), "
            "et leur nombre par département.",
            filtres={},
            couches=("ptce", "choro"),
            source=SEED_SOURCE,
        ),
    ]
    for ptce_id, dep, titre, texte in _EXPERIENCES:
        if known and ptce_id not in known:
            continue
        vues.append(
            Vue(
                f"Expérience : {titre}",
                texte,
                filtres={"dep": [dep]},
                couches=("ptce", "soutiens"),
                surligner=(ptce_id,),
                source=SEED_SOURCE,
            )
        )
    vues += [
        Vue(
            "Le rôle de chaque niveau de collectivité",
            "Tous les niveaux de collectivités sont concernés par les PTCE, à "
            "chaque étape : gestation, émergence, développement, consolidation. "
            "La Région Pays de la Loire finance la fonction d'animation et de "
            "coordination des PTCE.",
            genre="matrice",
            filtres={},
            source=SEED_SOURCE,
        ),
        Vue(
            "Les dispositifs régionaux de soutien",
            "Certaines régions ont des dispositifs spécifiques de soutien aux PTCE "
            "ou aux dynamiques collectives.",
            genre="chiffres",
            filtres={"region": "france"},
            sujets=("dispositifs régionaux",),
        ),
        Vue(
            "Comment une collectivité peut soutenir un PTCE",
            "De l'appui financier à l'ingénierie de projet, de nombreux services "
            "et élu·es peuvent être mobilisés.",
            genre="soutenir",
            filtres={},
            source=SEED_SOURCE,
        ),
    ]
    return Recit(DEFAULT_ID, "Les PTCE et les collectivités", tuple(vues))


def figures_of(faits: Sequence[Fait], sujets: Sequence[str]) -> list[Fait]:
    """Return the sourced figures whose subject starts with one of ``sujets``.

    Parameters
    ----------
    faits : sequence of Fait
        All the figures (see :meth:`lib.store.ptce.Store.faits`).
    sujets : sequence of str
        Subject prefixes (accents and case ignored); empty for all.

    Returns
    -------
    list of Fait
        In the order of ``sujets``, then of ``faits``.
    """
    if not sujets:
        return list(faits)
    chosen = []
    for sujet in sujets:
        prefix = fold(sujet)
        chosen += [f for f in faits if fold(f.sujet).startswith(prefix)]
    return list(dict.fromkeys(chosen))


def divergences(faits: Sequence[Fait]) -> list[str]:
    """Return the notes saying that sources disagree, each once.

    Parameters
    ----------
    faits : sequence of Fait

    Returns
    -------
    list of str
    """
    return list(dict.fromkeys(f.note for f in faits if f.note))


def figure_rows(faits: Sequence[Fait]) -> list[dict]:
    """Return the figures as table rows (French headers, values formatted).

    Parameters
    ----------
    faits : sequence of Fait

    Returns
    -------
    list of dict
        ``Chiffre``, ``Valeur``, ``Année``, ``Source`` and ``Lien`` (the
        source's URL when it is an http(s) address, else "").
    """
    rows = []
    for f in faits:
        if f.valeur is None:
            value = "—"
        else:
            value = f"{integer(f.valeur)} {f.unite or ''}".strip()
        url = f.source.url or ""
        rows.append(
            {
                "Chiffre": f.libelle,
                "Valeur": value,
                "Année": "" if f.annee is None else str(f.annee),
                "Source": f.source.libelle,
                "Lien": url if url.startswith(("http://", "https://")) else "",
            }
        )
    return rows


def support_counts(soutiens) -> dict[str, int]:
    """Return the number of supports per kind, in the vocabulary's order.

    Parameters
    ----------
    soutiens : pandas.DataFrame
        :attr:`lib.domain.selection.Frames.soutiens` (column ``type``).

    Returns
    -------
    dict
        ``{kind: count}`` for every kind of :data:`lib.domain.model.TYPES_SOUTIEN`.
    """
    counts = soutiens["type"].value_counts() if len(soutiens) else {}
    return {kind: int(counts.get(kind, 0)) for kind in TYPES_SOUTIEN}


# -- storage ---------------------------------------------------------------------


def new_id(titre: str, taken: Iterable[str]) -> str:
    """Return a free slug for a récit titled ``titre``.

    Parameters
    ----------
    titre : str
    taken : iterable of str
        Ids already used.

    Returns
    -------
    str
    """
    base = slugify(titre)[:60] or "recit"
    base = re.sub(r"[^a-z0-9-]", "", base) or "recit"
    taken = set(taken) | {DEFAULT_ID}
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def history_rows(entries: Sequence[Mapping]) -> list[dict]:
    """Return the rows of a récit's history table, in French, newest first.

    Parameters
    ----------
    entries : sequence of dict
        As returned by :func:`recit_history`.

    Returns
    -------
    list of dict
        ``Version``, ``Action``, ``Le``, ``Par``, ``Titre``, ``Vues``.
    """
    return [
        {
            "Version": e["version"],
            "Action": e["action"],
            "Le": date_time(e["le"]),
            "Par": e["par"],
            "Titre": e["titre"] or MISSING,
            "Vues": MISSING if e["vues"] is None else str(e["vues"]),
        }
        for e in reversed(entries)
    ]
