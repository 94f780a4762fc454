"""The guide « Points de RepèrESS — Collectivités & PTCE » as structured data.

The atlas was built from a four-page guide written for collectivités by the
RTES and the CRESS Pays de la Loire (March 2025). This module holds what the
guide says — definition, origin, charte, reasons to support a PTCE, role of
each level of collectivité, ways to support, PTCE and SCIC, national policy,
resources — so that the « Repères » page can show it, each statement with
its source, and link the guide's examples to the PTCE and supports of the
data.

Only what the guide (or the stored, sourced figures, the *faits*) says is
written here. The guide is quoted where its exact words matter (the law, a
declaration, the seven ways to support); elsewhere the atlas says it in its
own words. The stored text of the guide carries no page numbers (one stray
« 2 » at most), so a statement is located by the guide's own section title.

The national timeline and the « Chiffres et sources » view are computed
from the faits (:meth:`lib.store.ptce.Store.faits`), never from a fixed list:
a fait added to the data appears there, and so does any stored
disagreement (faits whose ``note`` says that sources differ).
"""

# size: 350 lines are the guide's own text as data (SECTIONS) and 50 its national
# timeline (STEPS); the rest links that text to the data and the pages.

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from lib import fr
from lib.domain import soutiens as types_soutien
from lib.domain.model import NIVEAU_LABELS, TYPES_SOUTIEN, Fait, fold

__all__ = [
    "GUIDE",
    "REGIONS_DE_FRANCE",
    "SECTIONS",
    "STEPS",
    "Desaccord",
    "Entry",
    "Etape",
    "Ref",
    "Section",
    "Step",
    "bare_url",
    "carte_url",
    "data_line",
    "desaccords",
    "fait_groups",
    "fait_value",
    "fiche_url",
    "section",
    "source_text",
    "soutien_url",
    "support_rows",
    "territoire_url",
    "timeline",
]

#: The guide itself, as it names itself on its cover.
GUIDE = (
    "RTES / CRESS Pays de la Loire, Points de RepèrESS n°10 "
    "« Collectivités & PTCE », mars 2025"
)


@dataclass(frozen=True)
class Ref:
    """Where a statement comes from.

    Attributes
    ----------
    document : str
        The document (the guide, a web page, a law).
    partie : str or None
        The part of the document: the guide's section title.
    url : str or None
        An http(s) address, when the statement comes from a web page.
    """

    document: str
    partie: str | None = None
    url: str | None = None


def _guide(partie: str) -> Ref:
    return Ref(GUIDE, partie)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


_QUOI = _guide("PTCE, de quoi parle-t-on ?")
_POURQUOI = _guide("Pourquoi soutenir et travailler avec un PTCE ?")
_CHARTE = _guide("La charte des PTCE")
_ROLES = _guide("Quels rôles pour les collectivités ?")
_POLITIQUE = _guide("Relance de la politique nationale de PTCE depuis 2021")
_COMMENT = _guide("Comment soutenir et s'appuyer sur un PTCE ?")
_SCIC = _guide("PTCE et SCIC")
_PLUS_LOIN = _guide("Pour aller plus loin")
_ACCOMPAGNENT = _guide(
    "Pour aller plus loin » et « Le RTEs et la CRESS vous accompagnent"
)
_INTRO = _guide("introduction (page de couverture)")


@dataclass(frozen=True)
class Entry:
    """One statement of the guide, with its source.

    Attributes
    ----------
    titre : str
        A short title (a reason, a level, a way to support…).
    texte : str
        The statement, in the atlas's words, or the guide's when ``citation``.
    source : Ref
    citation : bool
        True when ``texte`` quotes the guide (or the text it quotes) word for
        word: shown as a quotation.
    exemple : str or None
        The guide's example, in the atlas's words.
    ptce : tuple of str
        Identifiers of the PTCE the example names, as in the demo data.
    soutien : tuple of (str, str) or None
        ``(niveau, code)`` of the collectivité of the example, to find its
        supports in the data.
    type_soutien : str or None
        For a way to support: the model's support type it corresponds to.
    url : str or None
        For a resource: its address, as the guide gives it.
    """

    titre: str
    texte: str
    source: Ref
    citation: bool = False
    exemple: str | None = None
    ptce: tuple[str, ...] = ()
    soutien: tuple[str, str] | None = None
    type_soutien: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Section:
    """A section of the guide: a title, an introduction and its statements.

    Attributes
    ----------
    key : str
        Stable identifier (tests, anchors).
    titre : str
        The title shown on the page.
    intro : tuple of Entry
        Statements about the whole section.
    entries : tuple of Entry
        The items (reasons, levels, ways to support, resources…).
    """

    key: str
    titre: str
    intro: tuple[Entry, ...] = ()
    entries: tuple[Entry, ...] = field(default=())


_ARTICLE_9 = (
    "Les pôles territoriaux de coopération économique sont constitués par le "
    "regroupement sur un même territoire d'entreprises de l'économie sociale et "
    "solidaire, au sens de l'article 1er de la présente loi, qui s'associent à des "
    "entreprises, en lien avec des collectivités territoriales et leurs "
    "groupements, des centres de recherche, des établissements d'enseignement "
    "supérieur et de recherche, des organismes de formation ou toute autre "
    "personne physique ou morale pour mettre en œuvre une stratégie commune et "
    "continue de mutualisation, de coopération ou de partenariat au service de "
    "projets économiques et sociaux innovants, socialement ou technologiquement, "
    "et porteurs d'un développement local durable."
)

_LAW = Ref(
    "Loi n° 2014-856 du 31 juillet 2014 relative à l'économie sociale et "
    "solidaire, article 9, citée par le guide",
    "PTCE, de quoi parle-t-on ?",
)

SECTIONS: tuple[Section, ...] = (
    Section(
        "definition",
        "Définition",
        intro=(
            Entry("Article 9 de la loi sur l'ESS", _ARTICLE_9, _LAW, citation=True),
            Entry(
                "Une reconnaissance dans la loi",
                "Les PTCE ont été définis par la loi sur l'ESS de 2014 ; depuis 2021, "
                "une politique nationale de soutien aux PTCE est relancée, avec un "
                "appel à manifestation d'intérêt permanent.",
                _INTRO,
            ),
        ),
    ),
    Section(
        "decomposition",
        "P, T, C, E : les quatre mots du sigle",
        entries=(
            Entry(
                "Pôle",
                "Des structures de l'ESS (associations, coopératives, entreprises…) "
                "regroupées avec d'autres entreprises, en lien avec des collectivités, "
                "des centres de recherche, des établissements d'enseignement.",
                _QUOI,
            ),
            Entry(
                "Territorial",
                "Un ancrage de proximité, aux périmètres variables (bassin de vie, "
                "intercommunalité), qui répond à un besoin du territoire, le rend "
                "plus attractif et le considère comme un capital de richesses "
                "matérielles et immatérielles.",
                _QUOI,
            ),
            Entry(
                "Coopération",
                "Une organisation à plusieurs parties prenantes : moyens et "
                "compétences mutualisés, activités économiques portées ensemble, "
                "cloisons levées entre collectivités, entreprises classiques et "
                "acteurs de l'ESS, dans une stratégie commune et continue.",
                _QUOI,
            ),
            Entry(
                "Économique",
                "Des acteurs mêlés et des ressources hybrides (marchandes, non "
                "marchandes, non monétaires), au service de projets économiques et "
                "sociaux innovants, dans tous les secteurs, porteurs d'un "
                "développement local durable.",
                _QUOI,
            ),
        ),
    ),
    Section(
        "origine",
        "Origine du terme",
        intro=(
            Entry(
                "2009, une recherche-action",
                "Le terme naît en 2009 pour rendre visibles des coopérations qui "
                "existaient déjà, souvent méconnues et sans reconnaissance "
                "officielle. Il vient d'une recherche-action associant le Labo de "
                "l'ESS, les CRESS, le COORACE, le Mouvement pour une économie "
                "solidaire (MES), le RTES, une vingtaine d'acteurs qui se "
                "reconnaissaient dans cette approche et des chercheurs.",
                _QUOI,
            ),
        ),
    ),
    Section(
        "charte",
        "La charte des PTCE",
        intro=(
            Entry(
                "2014, actualisée en juillet 2021",
                "La charte des PTCE, écrite en 2014 et actualisée en juillet 2021, "
                "est le point de référence commun des PTCE, unis dans leur "
                "diversité pour un développement économique durable et solidaire "
                "des territoires. Une collectivité peut inciter les acteurs de son "
                "territoire à la signer. Le texte de la charte est sur le site du "
                "Labo de l'ESS.",
                _CHARTE,
                url="https://www.lelabo-ess.org/ptce",
            ),
        ),
    ),
    Section(
        "raisons",
        "Pourquoi soutenir un PTCE : six raisons",
        entries=(
            Entry(
                "Créer des activités et des emplois non délocalisables",
                "Contribuer à créer sur le territoire des activités et des emplois "
                "qui ne se délocalisent pas, voire à relocaliser des activités.",
                _POURQUOI,
                exemple="Le Moulin Créatif (Vendée) soutient les filières locales "
                "artistiques et culturelles : accompagnement des porteurs de "
                "projets et de leurs coopérations, évènements organisés ensemble.",
                ptce=("le-moulin-creatif",),
            ),
            Entry(
                "Faciliter le changement d'échelle",
                "Lever les cloisons entre acteurs de l'ESS et autres acteurs "
                "économiques pour changer d'échelle.",
                _POURQUOI,
                exemple="FIBRES 49, porté par dix structures de l'ESS, propose aux "
                "TPE et PME une gestion globale de leurs déchets (collecte de "
                "proximité à coût réduit).",
                ptce=("fibres-49",),
            ),
            Entry(
                "Structurer une ingénierie de développement",
                "Structurer une fonction d'ingénierie de développement et des "
                "fonctions stratégiques de structuration et de prospective.",
                _POURQUOI,
                exemple="Après une analyse des besoins de l'intercommunalité du "
                "Mans, le PTCE du Pays du Mans (Sarthe) a structuré une ingénierie "
                "complète de collecte, de gestion et de valorisation des déchets "
                "des entreprises.",
                ptce=("ptce-du-pays-du-mans",),
            ),
            Entry(
                "Rendre les acteurs lisibles",
                "Renforcer la lisibilité des acteurs du territoire.",
                _POURQUOI,
                exemple="Le PTCE Lab Sport (Loire-Atlantique) facilite le parcours "
                "des personnes qui ont besoin d'activité physique adaptée : les "
                "structures médico-sociales et les associations sportives se "
                "connaissent et coopèrent.",
                ptce=("ptce-lab-sport",),
            ),
            Entry(
                "Encourager la participation citoyenne",
                "Ouvrir les projets du territoire à la participation des habitantes "
                "et des habitants.",
                _POURQUOI,
                exemple="Les Grandlieu'Zarts (Loire-Atlantique) se sont ouverts à "
                "la participation citoyenne en investissant un lieu, le Grand Lieu "
                "du Conte, qui mobilise les habitant·es dans les projets du PTCE.",
                ptce=("les-grandlieu-zarts",),
            ),
            Entry(
                "Contribuer à une dynamique nationale",
                "Prendre part à la dynamique d'un réseau national de PTCE.",
                _POURQUOI,
            ),
        ),
    ),
    Section(
        "niveaux",
        "Le rôle de chaque niveau de collectivité",
        intro=(
            Entry(
                "Tous les niveaux sont concernés",
                "Parce qu'un PTCE touche à plusieurs domaines, tous les niveaux de "
                "collectivités sont concernés. Ils peuvent intervenir à chaque "
                "étape d'un PTCE — gestation, émergence, développement, "
                "consolidation — selon ses activités et leurs compétences.",
                _ROLES,
            ),
            Entry(
                "L'animation, difficile à financer dans la durée",
                "Animer la coopération est l'une des fonctions essentielles d'un "
                "PTCE : c'est elle qui crée les synergies et fait naître les "
                "projets. Elle reste pourtant difficile à financer dans la durée.",
                _ROLES,
            ),
        ),
        entries=(
            Entry(
                "Régions",
                "Les régions inscrivent le soutien aux PTCE dans leur politique de "
                "développement économique. Certaines ont un dispositif financier "
                "propre aux PTCE ; la plupart soutiennent les dynamiques "
                "collectives en citant les PTCE : AMI Initiatives Territoriales "
                "(Grand Est), Accélérateur de coopérations territoriales "
                "économiques, ACTE (Hauts-de-France), soutien aux groupements de "
                "coopération et de mutualisation (Occitanie), soutien à "
                "l'animation des processus de coopération territoriale "
                "(Nouvelle-Aquitaine). Inscrire les PTCE dans les schémas "
                "régionaux — SRDEII, SRADDET, programmes opérationnels régionaux "
                "(POR) des fonds européens — aide les autres niveaux de "
                "collectivités à s'engager.",
                _ROLES,
                exemple="La Région Pays de la Loire a un dispositif dédié aux PTCE : "
                "elle finance la fonction d'animation et de coordination des "
                "parties prenantes pendant la gestation, l'émergence, le "
                "développement et la consolidation du PTCE.",
                soutien=("region", "52"),
            ),
            Entry(
                "Départements",
                "Les départements interviennent par leurs politiques de solidarité "
                "et d'insertion, et par leurs compétences de solidarité "
                "territoriale et d'appui aux territoires.",
                _ROLES,
                exemple="Le Conseil départemental de Loire-Atlantique reconnaît les "
                "PTCE dans ses politiques sectorielles : au titre de sa politique "
                "sportive, il verse une subvention de fonctionnement au PTCE Lab "
                "Sport.",
                ptce=("ptce-lab-sport",),
                soutien=("departement", "44"),
            ),
            Entry(
                "Intercommunalités",
                "Les intercommunalités sont des partenaires importants, par leur "
                "politique de développement économique et d'attractivité ou par "
                "leurs politiques thématiques (tourisme, politique de la ville, "
                "numérique, collecte et gestion des déchets…).",
                _ROLES,
                exemple="Le Mans Métropole a demandé au réseau local de l'ESS "
                "(CEAS 72) d'analyser les besoins et les potentiels du territoire, "
                "notamment en économie circulaire : la dynamique collective qui "
                "en est née a créé le PTCE du Pays du Mans.",
                ptce=("ptce-du-pays-du-mans",),
                soutien=("epci", "247200132"),
            ),
            Entry(
                "Communes",
                "Les communes sont des partenaires de proximité : elles mettent en "
                "réseau et mobilisent les élu·es.",
                _ROLES,
                exemple="Pour redynamiser son centre-bourg, la mairie "
                "d'Ancenis-Saint-Géréon (Loire-Atlantique) aide le PTCE Cultivons "
                "les Cailloux à acheter un local en centre-ville et à organiser ses "
                "activités grand public.",
                ptce=("cultivons-les-cailloux",),
                soutien=("commune", "44003"),
            ),
        ),
    ),
    Section(
        "soutiens",
        "Sept façons de soutenir un PTCE",
        intro=(
            Entry(
                "De l'appui financier à l'ingénierie",
                "Une collectivité peut soutenir les PTCE de son territoire de "
                "plusieurs façons, en mobilisant de nombreux services et élu·es "
                "(développement économique et territorial, vie associative, "
                "redynamisation des territoires, transition écologique…).",
                _COMMENT,
            ),
        ),
        # The guide's own words (quoted); the label and the definition are
        # the atlas's, defined once in lib.domain.soutiens for every place a type
        # appears (filters, legends, exports). The quotes follow the types'
        # order, which is the guide's.
        entries=tuple(
            Entry(
                _capital(types_soutien.libelle(code)),
                texte,
                _COMMENT,
                citation=True,
                exemple=types_soutien.definition(code),
                type_soutien=code,
            )
            for code, texte in zip(
                TYPES_SOUTIEN[:7],
                (
                    "Aider au repérage, à la mise en lien entre acteurs et à la "
                    "compréhension du territoire et de ses orientations",
                    "Aider au fonctionnement, avec des financements dédiés par "
                    "exemple à l'animation des pôles et inscrits dans le temps "
                    "(convention pluriannuelle d'objectifs par exemple)",
                    "Aider à l'investissement, que ce soit pour du matériel "
                    "mutualisé, des locaux,…",
                    "Apporter du conseil et de l'ingénierie, accompagner le PTCE "
                    "sur les volets technique et administratif (la réciproque "
                    "pouvant aussi être vraie…)",
                    "Faciliter l'accès au foncier (repérage d'opportunité "
                    "foncière, portage de l'investissement immobilier, mise à "
                    "disposition de locaux ou terrains,…)",
                    "Faire appel aux biens et services proposés par le PTCE (dans "
                    "le cadre de DSP, de marchés publics,..), ou au savoir-faire "
                    "et à l'ingénierie des PTCE en matière de coopération",
                    "Être acteur du PTCE et coopérer avec les acteurs du "
                    "territoire (contribution à la gouvernance et au "
                    "développement de ses activités)",
                ),
                strict=True,
            )
        ),
    ),
    Section(
        "scic",
        "PTCE et SCIC",
        intro=(
            Entry(
                "La seule forme qui associe toutes les parties prenantes au capital",
                "Plusieurs PTCE ont pris la forme d'une société coopérative "
                "d'intérêt collectif (SCIC) : c'est la seule forme d'entreprise qui "
                "permet d'associer à son capital toutes les parties prenantes du "
                "PTCE — structures de l'ESS, entreprises lucratives, citoyens, "
                "collectivités locales.",
                _SCIC,
            ),
            Entry(
                "Pour en savoir plus",
                "Le guide renvoie au Points de RepèrESS du RTES n°3, « Les SCIC et "
                "les collectivités ».",
                _SCIC,
            ),
        ),
    ),
    Section("politique", "La politique nationale des PTCE"),
    Section(
        "ressources",
        "Ressources et contacts",
        entries=(
            Entry(
                "info-ptce",
                "Le site du dispositif national des PTCE.",
                _PLUS_LOIN,
                url="https://www.info-ptce.fr",
            ),
            Entry(
                "Les CRESS",
                "Les chambres régionales de l'ESS sont les principales portes "
                "d'entrée sur le territoire ; en Pays de la Loire, la CRESS et les "
                "réseaux départementaux de l'ESS accompagnent les PTCE et appuient "
                "les collectivités dans leurs plans d'action pour l'ESS et les PTCE.",
                _ACCOMPAGNENT,
                url="https://www.cress-pdl.org/les-missions/developper/les-ptce-ligeriens/",
            ),
            Entry(
                "Le Labo de l'ESS",
                "Le site du Labo de l'ESS, avec la charte des PTCE.",
                _PLUS_LOIN,
                url="https://www.lelabo-ess.org/ptce",
            ),
            Entry(
                "Le RTES",
                "L'entrée PTCE du site du Réseau des collectivités territoriales "
                "pour une économie solidaire, qui réunit près de 200 collectivités : "
                "mise en relation, partage d'expériences, formation des élu·es et "
                "des technicien·nes, plaidoyer.",
                _ACCOMPAGNENT,
                url="https://www.rtes.fr/les-ptce",
            ),
            Entry(
                "L'étude du RTES de 2016",
                "« Les rôles des collectivités locales dans les dynamiques de "
                "PTCE », étude du RTES, 2016.",
                _PLUS_LOIN,
                url="https://www.rtes.fr/les-roles-des-collectivites-ptce",
            ),
        ),
    ),
)

#: Quoted by the guide in « Quels rôles pour les collectivités ? ».
REGIONS_DE_FRANCE = Entry(
    "Régions de France, janvier 2021",
    "C'est pourquoi nous appelons de nos vœux et soutenons sans réserve la volonté "
    "de relance d'une politique nationale de soutien aux PTCE. Cette politique "
    "nationale est décisive pour améliorer la reconnaissance des PTCE par les "
    "acteurs publics et par les acteurs de l'économie classique. Elle doit "
    "notamment permettre d'impulser une dynamique nationale d'animation des PTCE, "
    "en lien avec les dynamiques régionales.",
    Ref(
        "Déclaration de Régions de France, janvier 2021, citée par le guide",
        "Quels rôles pour les collectivités ?",
    ),
    citation=True,
)


def section(key: str) -> Section:
    """Return the section of the guide whose key is ``key``.

    Parameters
    ----------
    key : str
        One of the keys of :data:`SECTIONS`.

    Returns
    -------
    Section
    """
    for s in SECTIONS:
        if s.key == key:
            return s
    raise KeyError(key)


def source_text(ref: Ref) -> str:
    """Return « Source : … » for a reference, in Markdown (link when a URL).

    Parameters
    ----------
    ref : Ref

    Returns
    -------
    str
    """
    where = ref.document
    if ref.partie:
        where += f", rubrique « {ref.partie} »"
    if ref.url:
        where += f" — [{bare_url(ref.url, host_only=True)}]({ref.url})"
    return f"Source : {where}"


def bare_url(url: str, host_only: bool = False) -> str:
    """Return an address as a person reads it: no scheme, no www, no final slash.

    Parameters
    ----------
    url : str
    host_only : bool
        Keep only the site's name (« chorum.fr »): long paths of the sources
        would fill the captions.
    """
    bare = url.split("://", 1)[-1].removeprefix("www.").rstrip("/")
    return bare.split("/", 1)[0] if host_only else bare


# -- links to the data ---------------------------------------------------------------


def fiche_url(ptce_id: str) -> str:
    """Return the Annuaire link of a PTCE's fiche."""
    return "./annuaire?ptce=" + quote(ptce_id, safe="")


def carte_url(nom: str, region: str | None) -> str:
    """Return a link to the map showing one PTCE, found by its name.

    Parameters
    ----------
    nom : str
        The PTCE's name (the map's text search).
    region : str or None
        Its région's code, so that the map frames that région; France
        entière when unknown.
    """
    return "./carte?" + urlencode(
        {"region": region or "france", "q": nom}, quote_via=quote
    )


def data_line(key: str, ptce) -> str:
    """Return what the data holds about a section of the guide, in Markdown.

    Parameters
    ----------
    key : str
        ``"charte"`` (signatures recorded) or ``"scic"`` (PTCE in SCIC form);
        any other key has no line.
    ptce : pandas.DataFrame
        The PTCE frame (``lib.domain.selection.Frames.ptce``): ``charte_signee``,
        ``forme_juridique``.

    Returns
    -------
    str
        Empty when the section has nothing to count.
    """
    total = fr.integer(len(ptce))
    if key == "charte":
        known = sum(not fr.is_missing(v) for v in ptce["charte_signee"])
        signed = sum(v is True or v == 1 for v in ptce["charte_signee"])
        return (
            f"*Dans les données* — la signature de la charte est renseignée pour "
            f"{fr.count(known, 'PTCE', 'PTCE')} sur {total} "
            f"({fr.count(signed, 'signataire')})."
        )
    if key == "scic":
        n = sum(v == "SCIC" for v in ptce["forme_juridique"])
        url = "./annuaire?" + urlencode(
            {"region": "france", "forme": "SCIC"}, quote_via=quote
        )
        return (
            f"*Dans les données* — {fr.count(n, 'PTCE', 'PTCE')} sur {total} "
            f"{fr.plural(n, 'a', 'ont')} la forme SCIC"
            + (f" ([les voir dans l'annuaire]({url}))" if n else "")
            + "."
        )
    return ""


def soutien_url(type_soutien: str) -> str:
    """Return the Collectivités page filtered on one kind of support, France entière."""
    return "./collectivites?" + urlencode(
        {"region": "france", "soutien": type_soutien}, quote_via=quote
    )


def territoire_url(niveau: str, code: str) -> str | None:
    """Return the fiche territoire of a collectivité (None: unknown level).

    The Collectivités page has a fiche for every level: région,
    département, EPCI and commune.
    """
    if niveau not in ("region", "departement", "epci", "commune"):
        return None
    return f"./collectivites?territoire={niveau}:{quote(code, safe='')}"


def support_rows(
    soutiens: Iterable[Mapping], niveau: str, code: str, ptce_id: str | None = None
) -> list[dict]:
    """Return the supports of the data given by one collectivité.

    Parameters
    ----------
    soutiens : iterable of mapping
        Support rows (``lib.domain.selection.Frames.soutiens`` as records): ``ptce_id``,
        ``ptce_nom``, ``niveau``, ``code``, ``collectivite``, ``type``,
        ``note``, ``source``, ``source_url`` and, when known, ``deduit``.
    niveau, code : str
        The collectivité.
    ptce_id : str, optional
        Keep only the supports of this PTCE, listed first when given; the
        others follow.

    Returns
    -------
    list of dict
        ``ptce_id``, ``ptce_nom``, ``collectivite``, ``type`` (its label),
        ``note``, ``deduit`` (the reasoning when the support is inferred,
        else "") and ``source`` (a :class:`Ref`), the example's PTCE first.
    """
    rows = []
    for s in soutiens:
        if s["niveau"] != niveau or str(s["code"]) != code:
            continue
        url = s.get("source_url")
        rows.append(
            {
                "ptce_id": s["ptce_id"],
                "ptce_nom": s["ptce_nom"],
                "collectivite": fr.text(s.get("collectivite"), NIVEAU_LABELS[niveau]),
                "type": types_soutien.libelle(fr.text(s.get("type"))),
                "note": "" if fr.is_missing(s.get("note")) else s["note"],
                # Inferred rather than read in its source: said, with why.
                "deduit": "" if fr.is_missing(s.get("deduit")) else s["deduit"],
                "source": Ref(
                    fr.text(s.get("source")),
                    url=None if fr.is_missing(url) else url,
                ),
            }
        )
    rows.sort(key=lambda r: (r["ptce_id"] != ptce_id, fr.sort_key(r["ptce_nom"])))
    return rows


# -- faits: values, disagreements, timeline ------------------------------------------


def fait_value(fait: Fait) -> str:
    """Return a fait's value in French (« 1 500 000 € », « 107 PTCE »), or "".

    Parameters
    ----------
    fait : Fait

    Returns
    -------
    str
        Empty when the fait is a statement without a number.
    """
    if fr.is_missing(fait.valeur):
        return ""
    if fait.unite == "€":
        return fr.euros(fait.valeur)
    return f"{fr.integer(fait.valeur)} {fait.unite or ''}".strip()


@dataclass(frozen=True)
class Desaccord:
    """Figures that should agree and do not, with the stored explanation.

    Attributes
    ----------
    sujet : str
    note : str
        What the sources say differently (the faits' ``note``).
    faits : tuple of Fait
        Each side, in the data's order.
    """

    sujet: str
    note: str
    faits: tuple[Fait, ...]


def desaccords(faits: Sequence[Fait]) -> list[Desaccord]:
    """Return every stored disagreement, grouped by subject and note.

    Parameters
    ----------
    faits : sequence of Fait

    Returns
    -------
    list of Desaccord
        One per distinct ``(sujet, note)``, in the data's order; the faits
        carrying that note are the sides.
    """
    groups: dict[tuple[str, str], list[Fait]] = {}
    for f in faits:
        if f.note is not None and not fr.is_missing(f.note) and f.note.strip():
            groups.setdefault((f.sujet, f.note), []).append(f)
    return [Desaccord(s, n, tuple(fs)) for (s, n), fs in groups.items()]


def fait_groups(faits: Sequence[Fait]) -> list[tuple[str, list[Fait]]]:
    """Return the faits grouped by subject, subjects in French order.

    Parameters
    ----------
    faits : sequence of Fait

    Returns
    -------
    list of (str, list of Fait)
        Subject (first letter capitalised), then its faits by year (undated
        last), in the data's order otherwise.
    """
    groups: dict[str, list[Fait]] = {}
    for f in faits:
        groups.setdefault(f.sujet, []).append(f)
    out = []
    for sujet in fr.sorted_fr(groups):
        ordered = sorted(groups[sujet], key=lambda f: (f.annee is None, f.annee or 0))
        out.append((sujet[:1].upper() + sujet[1:], ordered))
    return out


@dataclass(frozen=True)
class Step:
    """A step of the national policy, and how to find its faits.

    Attributes
    ----------
    annees : str
        The date as shown (« 2015 ou 2016 » when sources disagree).
    titre : str
    texte : str
        What happened, in the atlas's words.
    source : Ref
    sujets : tuple of str
        Subject prefixes of its faits (accents and case ignored).
    dates : tuple of int
        Years of its faits.
    sans_date : bool
        Also take the undated faits of these subjects (figures « depuis
        2021 », or the guide's « 2013 et 2016 »).
    """

    annees: str
    titre: str
    texte: str
    source: Ref
    sujets: tuple[str, ...]
    dates: tuple[int, ...]
    sans_date: bool = False


_CALLS = "Appels à projets PTCE de l'État"
_AMI = "AMI PTCE"

#: The national policy, from the guide; its figures come from the faits.
STEPS: tuple[Step, ...] = (
    Step(
        "2013",
        "Premier appel à projets de l'État",
        "L'État lance une première saison d'appels à projets pour les PTCE.",
        _POLITIQUE,
        (_CALLS,),
        (2013,),
    ),
    Step(
        "2015 ou 2016",
        "Second appel à projets de l'État",
        "Une seconde saison d'appels à projets suit ; les sources ne la datent "
        "pas de la même année.",
        _POLITIQUE,
        (_CALLS,),
        (2015, 2016),
        sans_date=True,
    ),
    Step(
        "2021",
        "Relance : l'AMI « PTCE émergents »",
        "L'État relance sa politique avec un appel à manifestation d'intérêt "
        "(AMI) « PTCE émergents ». Phase 1 : ses lauréats reçoivent un bouquet "
        "de services porté par l'État (accompagnement, conseils…) ; certains "
        "sont ensuite financés à hauteur de 100 000 € sur deux ans.",
        _POLITIQUE,
        (_AMI,),
        (2021,),
        sans_date=True,
    ),
    Step(
        "2023",
        "L'AMI est renouvelé",
        "L'AMI est renouvelé en 2023 ; il a vocation à être permanent.",
        _POLITIQUE,
        (_AMI, "PTCE recensés"),
        (2023,),
    ),
    Step(
        "2025",
        "Nouvelle session de l'AMI",
        "Une nouvelle session de l'AMI PTCE désigne ses lauréats.",
        Ref("COORACE — AMI PTCE 2025", url="http://www.coorace.org/node/16520"),
        (_AMI,),
        (2025,),
    ),
)


@dataclass(frozen=True)
class Etape:
    """A step of the timeline with its faits and disagreements.

    Attributes
    ----------
    step : Step
    faits : tuple of Fait
    desaccords : tuple of Desaccord
        The stored disagreements among its faits (all their sides, even those
        of another step, so that they are read side by side).
    """

    step: Step
    faits: tuple[Fait, ...]
    desaccords: tuple[Desaccord, ...]


def timeline(faits: Sequence[Fait]) -> list[Etape]:
    """Return the national policy's steps, each with the faits of the data.

    Parameters
    ----------
    faits : sequence of Fait
        All the stored faits.

    Returns
    -------
    list of Etape
        In the order of :data:`STEPS`; a fait belongs to the steps whose
        subject prefix and year it matches.
    """
    all_desaccords = desaccords(faits)
    out = []
    for step in STEPS:
        prefixes = [fold(s) for s in step.sujets]
        chosen = [
            f
            for f in faits
            if any(fold(f.sujet).startswith(p) for p in prefixes)
            and (f.annee in step.dates or (step.sans_date and f.annee is None))
        ]
        mine = tuple(d for d in all_desaccords if any(f in d.faits for f in chosen))
        out.append(Etape(step, tuple(chosen), mine))
    return out
