"""Altair charts of the statistics page, one function per table of lib.analysis.stats.

Every chart has a French title, a subtitle giving what is counted (the unit)
and a source line, French axis titles and tooltips, and colours from the
Okabe–Ito palette, which stays readable with the common colour-vision
deficiencies. Data are embedded in the specification (Altair's inline
datasets, never a URL), so the charts render offline.

Numbers shown to users are written by :mod:`lib.fr`: in text columns for
tooltips, and through Vega's ``config.locale`` (:func:`with_locale`) for the
formats of axes and legends; counts have whole-number ticks only.
"""

# size: one Altair chart per table of lib.analysis.stats (ten charts) and the
# title, axis, colour and locale helpers they share; 22 functions.

from __future__ import annotations

import itertools
import math
import textwrap

import altair as alt
import pandas as pd

from lib import fr
from lib.analysis import stats
from lib.analysis.territoires import MESURES, format_amount
from lib.domain.model import NIVEAU_LABELS, NIVEAUX, ROLES_MEMBRE, TYPES_SOUTIEN
from lib.domain.soutiens import code_type
from lib.domain.soutiens import definition as definition_type
from lib.domain.soutiens import libelle as libelle_type
from lib.rendering import palette

#: Default source line, shown under every title.
SOURCE = "Source : base Atlas des PTCE (données de démonstration : faits sourcés)"

#: Okabe & Ito (2008) colour-blind-safe palette (black last).
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",
)
#: Colour of the bars of known values, and of the "non renseigné" ones.
BAR = OKABE_ITO[0]
UNKNOWN = "#999999"
#: Colour of each member role.
ROLE_COLOURS = dict(zip(ROLES_MEMBRE, OKABE_ITO[1:], strict=False))

#: Departements shown at most (all are in the table and its CSV).
MAX_DEPARTEMENTS = 30

#: Longest subtitle line, in characters (fits a chart half the page wide).
SUBTITLE_WIDTH = 72

_KEEP = "\x00"  # stands for a space where no line break may occur
_NBSP = "\u202f"  # narrow no-break space, the French thousands separator
#: Vega expression writing an axis value the French way (``12 000``).
_FR_AXIS = f"replace(format(datum.value, ',.0f'), regexp(',', 'g'), '{_NBSP}')"
#: Fit the width of the page column only: the height is that of the plotting
#: area, with the (several lines of) title and the axes added around it. With
#: Streamlit's default, "fit", a long subtitle would squash the plot.
_AUTOSIZE = alt.AutoSizeParams(type="fit-x", contains="padding")
_LABEL_LIMIT = 320  # pixels: long filière and support-type names


def fr_number(value: float | int | None, decimals: int = 0) -> str:
    """Write a number the French way (see :func:`lib.fr.number`).

    Parameters
    ----------
    value : float or int or None
        The number; None or NaN gives an empty string (an empty cell).
    decimals : int, optional
        Digits after the decimal comma.

    Returns
    -------
    str
        E.g. ``fr_number(1234567.5, 1)`` → ``"1 234 567,5"`` (narrow no-break
        spaces).
    """
    return fr.number(value, decimals, missing="")


def _euros(value: float | None) -> str:
    """Write an amount in euros, or "inconnu" when it is missing."""
    return fr.euros(value, missing="inconnu")


def _percent(value: float | None) -> str:
    """Write a share given in percent (12.5) with a decimal comma: « 12,5 % »."""
    if value is None or fr.is_missing(value):
        return ""
    return fr.percent(float(value) / 100, 1, missing="")


def _plural(n: int, singular: str, plural: str) -> str:
    """Choose the singular (0 or 1, as in French) or the plural form."""
    return fr.plural(n, singular, plural)


def with_locale(chart: alt.TopLevelMixin) -> dict:
    """Return the Vega-Lite specification of a chart, numbers written in French.

    Vega's ``config.locale`` makes every ``format`` (axes, legends, tooltips)
    group thousands by a narrow no-break space and use a decimal comma.

    Parameters
    ----------
    chart : altair chart

    Returns
    -------
    dict
        The specification (not validated against the schema: the tests do).
    """
    spec = chart.to_dict(validate=False)
    spec.setdefault("config", {})["locale"] = fr.VEGA_LOCALE
    return spec


def count_values(high: float, most: int = 6) -> list[int]:
    """Return whole-number ticks from 0 to at least ``high``, at most ``most``.

    For colour legends and axes of counts: Vega's own ticks of a small
    domain are 0, 0.5, 1… which read « 0, 1, 1, 2, 2 » once rounded.

    Parameters
    ----------
    high : float
        The largest count shown.
    most : int, optional
        Most ticks.

    Returns
    -------
    list of int
        E.g. ``count_values(2)`` → ``[0, 1, 2]``, ``count_values(40)`` →
        ``[0, 10, 20, 30, 40]``.
    """
    top = max(math.ceil(high), 1)
    step = 1
    for factor in itertools.cycle((2, 2.5, 2)):
        if top // step + 1 <= most:
            break
        step = int(step * factor)
    last = -(-top // step) * step
    return list(range(0, last + 1, step))


def _title(text: str, *lines: str, source: str) -> alt.Title:
    """Build a title with the unit lines and the source as subtitle.

    Lines are wrapped at :data:`SUBTITLE_WIDTH` characters: Vega cuts a
    subtitle line wider than the chart instead of wrapping it.
    """
    wrapped = [
        part.replace(_KEEP, " ")
        for line in (*lines, source)
        if line
        for part in textwrap.wrap(
            # No break before a French ":" or ";".
            line.replace(" :", f"{_KEEP}:").replace(" ;", f"{_KEEP};"),
            SUBTITLE_WIDTH,
            break_on_hyphens=False,
        )
    ]
    return alt.Title(text, subtitle=wrapped, anchor="start")


def _count_axis(title: str) -> alt.Axis:
    """Build an axis of counts (whole numbers, French thousands)."""
    return alt.Axis(title=title, tickMinStep=1, labelExpr=_FR_AXIS, format=",d")


def _known_colour(labels: pd.Series, missing: str) -> tuple[pd.Series, alt.Color]:
    """Colour "non renseigné" bars grey and the others blue (no legend)."""
    flag = labels.eq(missing).map({True: "non", False: "oui"})
    colour = alt.Color(
        "Renseigné:N",
        scale=alt.Scale(domain=["oui", "non"], range=[BAR, UNKNOWN]),
        legend=None,
    )
    return flag, colour


def _bars(
    data: pd.DataFrame,
    label: str,
    label_title: str,
    count: str,
    count_title: str,
    missing: str,
    title: alt.Title,
    tooltip: list,
) -> alt.Chart:
    """Draw horizontal bars, in the row order of ``data``."""
    flag, colour = _known_colour(data[label], missing)
    data = data.assign(Renseigné=flag)
    return (
        alt.Chart(data, title=title)
        .mark_bar()
        .encode(
            x=alt.X(f"{count}:Q", axis=_count_axis(count_title)),
            y=alt.Y(
                f"{label}:N",
                sort=list(data[label]),
                axis=alt.Axis(title=label_title, labelLimit=_LABEL_LIMIT),
            ),
            color=colour,
            tooltip=tooltip,
        )
        .properties(height=alt.Step(24), autosize=_AUTOSIZE)
    )


def _shares(table: pd.DataFrame) -> pd.DataFrame:
    """Add the French text of the share column, for tooltips."""
    return table.assign(**{"Part (texte)": table[stats.PART].map(_percent)})


def par_filiere(table: pd.DataFrame, source: str = SOURCE) -> alt.Chart:
    """Chart the PTCE per filière (table of :func:`lib.analysis.stats.par_filiere`).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``Filière``, ``PTCE``, ``Part des PTCE (%)``.
    source : str, optional
        The source line.

    Returns
    -------
    altair.Chart
        Horizontal bars by decreasing count; filières with no PTCE are left
        out, "non renseignée" is grey and last.
    """
    data = _shares(table[table[stats.PTCE] > 0])
    title = _title(
        "PTCE par filière",
        "Nombre de PTCE. Un PTCE rattaché à plusieurs filières compte dans "
        "chacune : le total peut dépasser le nombre de PTCE.",
        source=source,
    )
    return _bars(
        data,
        "Filière",
        "Filière",
        stats.PTCE,
        "Nombre de PTCE",
        stats.NON_RENSEIGNEE,
        title,
        [
            alt.Tooltip("Filière:N"),
            alt.Tooltip(f"{stats.PTCE}:Q", title="PTCE", format=",d"),
            alt.Tooltip("Part (texte):N", title="Part des PTCE"),
        ],
    )


def par_stade(table: pd.DataFrame, source: str = SOURCE) -> alt.Chart:
    """Chart the PTCE per stage of development (:func:`lib.analysis.stats.par_stade`).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``Stade``, ``PTCE``, ``Part des PTCE (%)``.
    source : str, optional
        The source line.

    Returns
    -------
    altair.Chart
        Horizontal bars in the order of the stages (from gestation to
        consolidation), "non renseigné" grey and last when it counts any PTCE.
    """
    keep = (table["Stade"] != stats.NON_RENSEIGNE) | (table[stats.PTCE] > 0)
    data = _shares(table[keep])
    title = _title("PTCE par stade de développement", "Nombre de PTCE.", source=source)
    return _bars(
        data,
        "Stade",
        "Stade",
        stats.PTCE,
        "Nombre de PTCE",
        stats.NON_RENSEIGNE,
        title,
        [
            alt.Tooltip("Stade:N"),
            alt.Tooltip(f"{stats.PTCE}:Q", title="PTCE", format=",d"),
            alt.Tooltip("Part (texte):N", title="Part des PTCE"),
        ],
    )


def par_departement(
    table: pd.DataFrame, source: str = SOURCE, limit: int = MAX_DEPARTEMENTS
) -> alt.Chart:
    """Chart the PTCE per département (:func:`lib.analysis.stats.par_departement`).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``Code``, ``Département``, ``PTCE``, ``Part des PTCE (%)``.
    source : str, optional
        The source line.
    limit : int, optional
        Most départements drawn (the first ones by count; the subtitle says
        so and the table keeps them all).

    Returns
    -------
    altair.Chart
        Horizontal bars by decreasing count, "non renseigné" grey and last.
    """
    known = table[table["Code"] != ""]
    unknown = table[table["Code"] == ""]
    lines = ["Nombre de PTCE, selon le département de leur siège."]
    if len(known) > limit:
        lines.append(
            f"Les {limit} départements qui en comptent le plus, sur {len(known)} "
            "(tous figurent dans les données à télécharger)."
        )
        known = known.head(limit)
    data = _shares(pd.concat([known, unknown], ignore_index=True))
    data["Libellé"] = [
        nom if not code else f"{code} — {nom}"
        for code, nom in zip(data["Code"], data["Département"], strict=True)
    ]
    return _bars(
        data,
        "Libellé",
        "Département",
        stats.PTCE,
        "Nombre de PTCE",
        stats.NON_RENSEIGNE,
        _title("PTCE par département", *lines, source=source),
        [
            alt.Tooltip("Libellé:N", title="Département"),
            alt.Tooltip(f"{stats.PTCE}:Q", title="PTCE", format=",d"),
            alt.Tooltip("Part (texte):N", title="Part des PTCE"),
        ],
    )


# size: one declarative Altair spec (data, two axes, seven tooltips,
# cells and labels layers), read top to bottom like the chart it draws.
def soutiens_type_niveau(table: pd.DataFrame, source: str = SOURCE) -> alt.LayerChart:
    """Chart the supports per kind × level as a heatmap.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`lib.analysis.stats.soutiens_type_niveau`: columns ``Type de soutien``,
        ``Niveau``, ``Soutiens``, ``PTCE soutenus``, ``Soutiens au montant connu``,
        ``Soutiens au montant inconnu``, ``Montant connu (€)``.
    source : str, optional
        The source line.

    Returns
    -------
    altair.LayerChart
        One cell per kind (rows, vocabulary order) and level (columns, from
        région to commune), shaded by the number of supports (sequential
        blues) and labelled with it; known amounts in the tooltip.
    """
    data = table.assign(
        **{
            "Montant (texte)": table[stats.MONTANT].map(_euros),
            "Niveau": pd.Series(table["Niveau"], dtype="object"),
            # Each kind's definition from the guide (lib.domain.soutiens).
            "Définition": [
                definition_type(code_type(t) or "") or fr.MISSING
                for t in table["Type de soutien"]
            ],
        }
    )
    high = max(int(data[stats.SOUTIENS].max()) if len(data) else 0, 1)
    ticks = count_values(high)
    data["Texte clair"] = (data[stats.SOUTIENS] > high / 2).map(
        {True: "oui", False: "non"}
    )
    levels = [NIVEAU_LABELS[n] for n in NIVEAUX]
    levels += [n for n in dict.fromkeys(data["Niveau"]) if n not in levels]
    kinds = list(dict.fromkeys(data["Type de soutien"]))
    title = _title(
        "Soutiens des collectivités par type et par niveau",
        "Nombre de soutiens (une collectivité apportant un type de soutien "
        "à un PTCE) ; montants connus en infobulle.",
        source=source,
    )
    base = alt.Chart(data).encode(
        x=alt.X(
            "Niveau:N",
            sort=levels,
            scale=alt.Scale(domain=levels),
            axis=alt.Axis(
                title="Niveau de la collectivité", labelAngle=0, orient="top"
            ),
        ),
        y=alt.Y(
            "Type de soutien:N",
            sort=kinds,
            axis=alt.Axis(title="Type de soutien", labelLimit=_LABEL_LIMIT),
        ),
        tooltip=[
            alt.Tooltip("Type de soutien:N"),
            alt.Tooltip("Définition:N"),
            alt.Tooltip("Niveau:N", title="Niveau"),
            alt.Tooltip(f"{stats.SOUTIENS}:Q", title="Soutiens", format=",d"),
            alt.Tooltip("PTCE soutenus:Q", format=",d"),
            alt.Tooltip("Montant (texte):N", title="Montant connu"),
            alt.Tooltip(f"{stats.INCONNUS}:Q", format=",d"),
        ],
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color(
            f"{stats.SOUTIENS}:Q",
            scale=alt.Scale(scheme="blues", domain=[0, ticks[-1]]),
            legend=alt.Legend(title="Soutiens", format=",d", values=ticks),
        )
    )
    labels = base.mark_text(fontSize=13).encode(
        text=alt.Text(f"{stats.SOUTIENS}:Q", format=",d"),
        color=alt.Color(
            "Texte clair:N",
            scale=alt.Scale(domain=["oui", "non"], range=["white", "black"]),
            legend=None,
        ),
    )
    return (
        alt.layer(cells, labels)
        .resolve_scale(color="independent")
        .properties(title=title, height=alt.Step(34), autosize=_AUTOSIZE)
    )


def _years_only(table: pd.DataFrame, column: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a per-year table into the known years and the unknown row(s)."""
    unknown = table[column] == stats.NON_RENSEIGNEE
    return table[~unknown], table[unknown]


def creations_par_annee(table: pd.DataFrame, source: str = SOURCE) -> alt.Chart:
    """Chart the PTCE created per year (:func:`lib.analysis.stats.creations_par_annee`).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``Année``, ``PTCE créés``.
    source : str, optional
        The source line.

    Returns
    -------
    altair.Chart
        Vertical bars, one per year from the first to the last known; the
        PTCE whose creation year is unknown are not drawn but counted in the
        subtitle.
    """
    data, unknown = _years_only(table, "Année")
    missing = int(unknown["PTCE créés"].sum())
    lines = ["Nombre de PTCE créés chaque année."]
    if missing:
        lines.append(
            f"{fr.integer(missing)} PTCE "
            + _plural(
                missing,
                "dont l'année de création est inconnue n'est pas représenté.",
                "dont l'année de création est inconnue ne sont pas représentés.",
            )
        )
    return (
        alt.Chart(
            data, title=_title("Créations de PTCE par année", *lines, source=source)
        )
        .mark_bar(color=BAR)
        .encode(
            x=alt.X(
                "Année:O",
                sort=list(data["Année"]),
                axis=alt.Axis(title="Année de création", labelAngle=-45),
            ),
            y=alt.Y("PTCE créés:Q", axis=_count_axis("PTCE créés")),
            tooltip=[
                alt.Tooltip("Année:N", title="Année"),
                alt.Tooltip("PTCE créés:Q", format=",d"),
            ],
        )
        .properties(height=280, autosize=_AUTOSIZE)
    )


def montants_par_annee(table: pd.DataFrame, source: str = SOURCE) -> alt.Chart:
    """Chart the known support amounts per starting year.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`lib.analysis.stats.montants_par_annee`: columns ``Année de début``,
        ``Soutiens``, ``Soutiens au montant connu``,
        ``Soutiens au montant inconnu``, ``Montant connu (€)``.
    source : str, optional
        The source line.

    Returns
    -------
    altair.Chart
        Vertical bars of the sum of known amounts per year (no bar where no
        amount is known: unknown amounts are never drawn as 0); the number of
        supports with an unknown amount is in the tooltip and the subtitle.
    """
    column = "Année de début"
    data, unknown = _years_only(table, column)
    inconnus = int(table[stats.INCONNUS].sum())
    total = int(table[stats.SOUTIENS].sum())
    sans_annee = int(unknown[stats.SOUTIENS].sum())
    lines = ["Somme des montants connus, en euros, par année de début du soutien."]
    if inconnus:
        lines.append(
            f"{fr.integer(inconnus)} "
            + _plural(inconnus, "soutien", "soutiens")
            + f" sur {fr.integer(total)} "
            + _plural(
                inconnus,
                "a un montant inconnu, non compté (ni comme 0).",
                "ont un montant inconnu, non comptés (ni comme 0).",
            )
        )
    if sans_annee:
        lines.append(
            f"{fr.integer(sans_annee)} "
            + _plural(
                sans_annee,
                "soutien sans année de début n'est pas représenté.",
                "soutiens sans année de début ne sont pas représentés.",
            )
        )
    data = data.assign(**{"Montant (texte)": data[stats.MONTANT].map(_euros)})
    return (
        alt.Chart(
            data, title=_title("Montants des soutiens par année", *lines, source=source)
        )
        .mark_bar(color=OKABE_ITO[2])
        .encode(
            x=alt.X(
                f"{column}:O",
                sort=list(data[column]),
                axis=alt.Axis(title="Année de début du soutien", labelAngle=-45),
            ),
            y=alt.Y(
                f"{stats.MONTANT}:Q",
                axis=alt.Axis(title="Montant connu (€)", labelExpr=_FR_AXIS),
            ),
            tooltip=[
                alt.Tooltip(f"{column}:N", title="Année de début"),
                alt.Tooltip("Montant (texte):N", title="Montant connu"),
                alt.Tooltip(f"{stats.SOUTIENS}:Q", title="Soutiens", format=",d"),
                alt.Tooltip(f"{stats.CONNUS}:Q", format=",d"),
                alt.Tooltip(f"{stats.INCONNUS}:Q", format=",d"),
            ],
        )
        .properties(height=280, autosize=_AUTOSIZE)
    )


def montants_absents(table: pd.DataFrame) -> str | None:
    """Say why there is no chart of amounts, when no amount is known.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`lib.analysis.stats.montants_par_annee`.

    Returns
    -------
    str or None
        A French sentence when no support of the table has a known amount
        (an empty axis would say less), else None.
    """
    if int(table[stats.CONNUS].sum()) > 0:
        return None
    total = int(table[stats.SOUTIENS].sum())
    if not total:
        return "Aucun soutien de collectivité n'est enregistré pour ces PTCE."
    return (
        f"Aucun montant n'est connu pour les {fr.count(total, 'soutien')} de ces "
        "PTCE : il n'y a pas de montants à représenter par année."
        if total > 1
        else "Le seul soutien de ces PTCE n'a pas de montant connu : il n'y a "
        "pas de montants à représenter par année."
    )


def composition_membres(table: pd.DataFrame, source: str = SOURCE) -> alt.Chart:
    """Chart the listed members by category and role (stacked bars).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`lib.analysis.stats.composition_membres`: columns ``Catégorie``,
        ``Rôle``, ``Membres``, ``PTCE concernés``.
    source : str, optional
        The source line.

    Returns
    -------
    altair.Chart
        One horizontal bar per category with members, by decreasing total,
        split by role (porteur, membre, partenaire; colour legend).
    """
    totals = table.groupby("Catégorie", sort=False)["Membres"].sum()
    order = [
        c
        for c in totals[totals > 0].sort_values(ascending=False, kind="stable").index
        if c != stats.NON_RENSEIGNEE
    ]
    if totals.get(stats.NON_RENSEIGNEE, 0) > 0:
        order.append(stats.NON_RENSEIGNEE)
    data = table[table["Catégorie"].isin(order) & (table["Membres"] > 0)]
    roles = list(dict.fromkeys(table["Rôle"]))
    data = data.assign(Ordre=data["Rôle"].map({r: i for i, r in enumerate(roles)}))
    colours = [ROLE_COLOURS.get(r, UNKNOWN) for r in roles]
    return (
        alt.Chart(
            data,
            title=_title(
                "Composition des PTCE : membres par catégorie et par rôle",
                "Nombre de membres nommés dans les fiches (un PTCE peut déclarer "
                "davantage de membres).",
                source=source,
            ),
        )
        .mark_bar()
        .encode(
            x=alt.X("Membres:Q", stack="zero", axis=_count_axis("Nombre de membres")),
            y=alt.Y(
                "Catégorie:N",
                sort=order,
                axis=alt.Axis(title="Catégorie de membre", labelLimit=_LABEL_LIMIT),
            ),
            color=alt.Color(
                "Rôle:N",
                sort=roles,
                scale=alt.Scale(domain=roles, range=colours),
                legend=alt.Legend(title="Rôle", orient="bottom"),
            ),
            order=alt.Order("Ordre:Q"),
            tooltip=[
                alt.Tooltip("Catégorie:N"),
                alt.Tooltip("Rôle:N"),
                alt.Tooltip("Membres:Q", format=",d"),
                alt.Tooltip("PTCE concernés:Q", format=",d"),
            ],
        )
        .properties(height=alt.Step(24), autosize=_AUTOSIZE)
    )


def timeline_chart(timeline: pd.DataFrame) -> alt.Chart:
    """Draw the supports' periods as horizontal bars (one year = one unit).

    Parameters
    ----------
    timeline : pandas.DataFrame
        Output of :func:`timeline_frame`.

    Returns
    -------
    altair.Chart
        Bars from the start year to the end of the end year, coloured by the
        collectivité's level; supports with an unknown end are paler.
    """
    data = timeline.assign(
        fin_barre=timeline["fin"] + 1,
        # Text from lib.fr: Vega would write « 1,234 » or « null ».
        montant_texte=timeline["montant"].map(fr.euros),
    )
    lo = int(data["debut"].min()) if len(data) else 2014
    hi = int(data["fin_barre"].max()) if len(data) else 2026
    return (
        alt.Chart(data, title="Chronologie des soutiens")
        .mark_bar(cornerRadius=2)
        .encode(
            x=alt.X(
                "debut:Q",
                title="Année",
                scale=alt.Scale(domain=[lo, hi]),
                axis=alt.Axis(format="d", tickMinStep=1),
            ),
            x2="fin_barre:Q",
            y=alt.Y("ligne:N", title=None, sort=None, axis=alt.Axis(labelLimit=320)),
            color=alt.Color(
                "niveau:N",
                title="Niveau",
                scale=alt.Scale(
                    domain=[NIVEAU_LABELS[n] for n in NIVEAU_LABELS],
                    # The inks of the map's support lines (lib.rendering.palette).
                    range=[palette.LEVEL_COLORS[n] for n in NIVEAU_LABELS],
                ),
            ),
            opacity=alt.condition(
                alt.datum.incertain, alt.value(0.45), alt.value(0.95)
            ),
            tooltip=[
                alt.Tooltip("collectivite:N", title="Collectivité"),
                alt.Tooltip("type:N", title="Type de soutien"),
                alt.Tooltip("periode:N", title="Période"),
                alt.Tooltip("montant_texte:N", title="Montant"),
            ],
        )
        # A height per row: a fixed total height would be shared with the
        # title and axis by Streamlit and crush the bars.
        .properties(height=alt.Step(28))
    )


# size: one declarative Altair spec (data, axes, a scale per measure, six
# tooltips, cells and labels layers); its parts only make sense together.
def heatmap_chart(matrix: pd.DataFrame, mesure: str = "nombre") -> alt.LayerChart:
    """Draw the level × kind-of-support matrix as an annotated heatmap.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Output of :func:`matrice`.
    mesure : {"nombre", "montant"}
        Count of supports, or sum of the known amounts.

    Returns
    -------
    altair.LayerChart
        Cells coloured by the measure (empty cells in light grey) with the
        value written in each non-empty cell; French title and axes.
    """
    column = {"nombre": "Soutiens", "montant": "Montant (€)"}[mesure]
    data = matrix.assign(
        valeur=matrix[column].astype(float),
        definition=[
            definition_type(code_type(t) or t) for t in matrix["Type de soutien"]
        ],
        texte=(
            matrix[column].map(lambda v: fr.integer(v) if v else "")
            if mesure == "nombre"
            else matrix[column].map(format_amount)
        ),
        # Tooltip text from lib.fr: no « 0 » for an amount nobody knows.
        montant_texte=[
            fr.euros(v) if n else "aucun montant connu"
            for v, n in zip(
                matrix["Montant (€)"], matrix["Montants connus"], strict=True
            )
        ],
    )
    top = float(data["valeur"].max()) if len(data) else 0.0
    data["fonce"] = data["valeur"] > top * 0.55
    # Kinds of support down the side, written flat: slanted labels under
    # the cells were cut at the chart's edge.
    y = alt.Y(
        "Type de soutien:N",
        sort=[libelle_type(t) for t in TYPES_SOUTIEN],
        title="Type de soutien",
        # The guide's wording is long: room for it (full text in the tooltip).
        axis=alt.Axis(labelLimit=460),
    )
    x = alt.X(
        "Niveau:N",
        sort=[NIVEAU_LABELS[n] for n in NIVEAUX],
        title="Collectivité",
        axis=alt.Axis(labelAngle=0, orient="top"),
    )
    if mesure == "nombre":
        # Whole numbers only: Vega's ticks of 0–2 are 0, 0.5, 1…
        ticks = count_values(top)
        scale = alt.Scale(scheme="blues", domain=[0, ticks[-1]])
        legend = alt.Legend(title=MESURES[mesure], format=",d", values=ticks)
    else:
        scale = alt.Scale(scheme="blues", domainMin=0, nice=True)
        legend = alt.Legend(title="Montants connus (€)", format=",.0f", tickCount=4)
    title = (
        "Soutiens par niveau de collectivité et type (nombre)"
        if mesure == "nombre"
        else "Soutiens par niveau de collectivité et type (montants connus, €)"
    )
    base = alt.Chart(data, title=title)
    cells = base.mark_rect(stroke="#ffffff", strokeWidth=1).encode(
        x=x,
        y=y,
        color=alt.condition(
            alt.datum.valeur > 0,
            alt.Color("valeur:Q", scale=scale, legend=legend),
            alt.value("#f1f1ef"),
        ),
        tooltip=[
            alt.Tooltip("Niveau:N"),
            alt.Tooltip("Type de soutien:N"),
            alt.Tooltip("definition:N", title="Définition (guide RTES/CRESS)"),
            alt.Tooltip("Soutiens:Q", title="Nombre de soutiens", format=",d"),
            alt.Tooltip("montant_texte:N", title="Montants connus"),
            alt.Tooltip(
                "Montants connus:Q", title="Soutiens au montant connu", format=",d"
            ),
        ],
    )
    labels = base.mark_text(fontSize=12).encode(
        x=x,
        y=y,
        text="texte:N",
        color=alt.condition(
            alt.datum.fonce, alt.value("#ffffff"), alt.value("#1f1f1f")
        ),
    )
    # A height per row (not a total): Streamlit fits a fixed total height
    # including title and axes, which would crush the cells.
    return (cells + labels).properties(height=alt.Step(36))
