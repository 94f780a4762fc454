"""Statistics of a selection of PTCE, as tidy tables with French column names.

Each function takes the :class:`~lib.domain.selection.Frames` of a selection (usually
already filtered) and returns a small table ready to be shown, charted by
:mod:`lib.rendering.charts` and exported with :func:`to_csv`. Conventions:

* counts are integers, even for an empty selection (0 PTCE gives zeros or an
  empty table, never an error);
* a missing value is counted in a "non renseigné(e)" row, never dropped
  silently;
* an unknown amount is never taken as 0: amounts are sums of the *known*
  amounts, the number of supports with an unknown amount is given beside
  them, and a total with no known amount at all is empty (``<NA>``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import pandas as pd

from lib import fr
from lib.domain.model import (
    CATEGORIES_MEMBRE,
    FILIERES,
    NIVEAU_LABELS,
    NIVEAUX,
    ROLES_MEMBRE,
    STADES,
    TYPES_SOUTIEN,
)
from lib.domain.selection import Frames
from lib.domain.soutiens import libelle as libelle_type
from lib.io.exporter import neutralise

#: Label of a missing value (feminine nouns: filière, année, catégorie).
NON_RENSEIGNEE = "non renseignée"
#: Label of a missing value (masculine nouns: stade, département, rôle).
NON_RENSEIGNE = "non renseigné"

# Column names shared by several tables (and by lib.rendering.charts).
PTCE = "PTCE"
PART = "Part des PTCE (%)"
SOUTIENS = "Soutiens"
CONNUS = "Soutiens au montant connu"
INCONNUS = "Soutiens au montant inconnu"
MONTANT = "Montant connu (€)"


def _blank(value: object) -> bool:
    """Tell whether a cell holds no value (None, NaN, empty text)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    if isinstance(value, str):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _share(counts: pd.Series, total: int) -> pd.Series:
    """Return percentages of ``total`` to 0.1, empty when ``total`` is 0."""
    if not total:
        return pd.Series(pd.NA, index=counts.index, dtype="Float64")
    return (counts * 100 / total).round(1).astype("Float64")


def _ordered(
    observed: Iterable[object], vocabulary: Iterable[str], missing: str
) -> list[str]:
    """List vocabulary labels, then unexpected ones (sorted), then ``missing``."""
    known = list(vocabulary)
    extra = fr.sorted_fr(
        {str(v) for v in observed if not _blank(v)} - {*known, missing}
    )
    return [*known, *extra, missing]


def _counts(values: Iterable[object], order: list[str], missing: str) -> list[int]:
    """Count ``values`` per label of ``order`` (blanks under ``missing``)."""
    counted = pd.Series(
        [missing if _blank(v) else str(v) for v in values], dtype="object"
    ).value_counts()
    return [int(counted.get(label, 0)) for label in order]


def par_filiere(frames: Frames) -> pd.DataFrame:
    """Count the PTCE of each filière.

    A PTCE with several filières counts once in each of them, so the counts
    may add up to more than the number of PTCE (and the shares to more than
    100 %). A PTCE with no filière counts in the "non renseignée" row.

    Parameters
    ----------
    frames : Frames
        The selection.

    Returns
    -------
    pandas.DataFrame
        Columns ``Filière``, ``PTCE``, ``Part des PTCE (%)``: one row per
        filière of :data:`lib.domain.model.FILIERES` (zeros included), then any
        label outside the vocabulary, then "non renseignée"; sorted by
        decreasing count, ties in vocabulary order, "non renseignée" last.
    """
    ptce = frames.ptce
    per_ptce = [
        tuple(v) if isinstance(v, tuple | list) else () for v in ptce["filieres"]
    ]
    labels = [label for values in per_ptce for label in (values or (NON_RENSEIGNEE,))]
    order = _ordered(labels, FILIERES, NON_RENSEIGNEE)
    table = pd.DataFrame(
        {"Filière": order, PTCE: _counts(labels, order, NON_RENSEIGNEE)}
    )
    table[PART] = _share(table[PTCE], len(ptce))
    return _sort_counts(table, PTCE, "Filière", NON_RENSEIGNEE)


def _sort_counts(
    table: pd.DataFrame, count: str, label: str, missing: str
) -> pd.DataFrame:
    """Sort by decreasing ``count`` (stable), the ``missing`` row last."""
    known = table[table[label] != missing]
    known = known.sort_values(count, ascending=False, kind="stable")
    return pd.concat([known, table[table[label] == missing]], ignore_index=True)


def par_stade(frames: Frames) -> pd.DataFrame:
    """Count the PTCE at each stage of development.

    Parameters
    ----------
    frames : Frames
        The selection.

    Returns
    -------
    pandas.DataFrame
        Columns ``Stade``, ``PTCE``, ``Part des PTCE (%)``: one row per stage
        in the order of :data:`lib.domain.model.STADES` (zeros included), then any
        label outside the vocabulary, then "non renseigné". The counts add up
        to the number of PTCE.
    """
    values = list(frames.ptce["stade"])
    order = _ordered(values, STADES, NON_RENSEIGNE)
    table = pd.DataFrame({"Stade": order, PTCE: _counts(values, order, NON_RENSEIGNE)})
    table[PART] = _share(table[PTCE], len(values))
    return table


def par_departement(frames: Frames) -> pd.DataFrame:
    """Count the PTCE of each département (of their seat).

    Parameters
    ----------
    frames : Frames
        The selection.

    Returns
    -------
    pandas.DataFrame
        Columns ``Code``, ``Département``, ``PTCE``, ``Part des PTCE (%)``:
        one row per département holding at least one PTCE, by decreasing
        count then code; the PTCE whose département is unknown come last, in
        a row with an empty code and the name "non renseigné". The counts add
        up to the number of PTCE.
    """
    ptce = frames.ptce
    names: dict[str, str] = {}
    codes = []
    for code, nom in zip(ptce["departement"], ptce["departement_nom"], strict=True):
        if _blank(code):
            codes.append("")
            continue
        code = str(code)
        codes.append(code)
        names[code] = code if _blank(nom) else str(nom)
    counted = pd.Series(codes, dtype="object").value_counts()
    known = sorted(
        (c for c in counted.index if c), key=lambda c: (-int(counted[c]), c.zfill(3))
    )
    rows = [{"Code": c, "Département": names[c], PTCE: int(counted[c])} for c in known]
    if "" in counted.index:
        rows.append({"Code": "", "Département": NON_RENSEIGNE, PTCE: int(counted[""])})
    table = pd.DataFrame(rows, columns=["Code", "Département", PTCE])
    table[PTCE] = table[PTCE].astype("int64")
    table[PART] = _share(table[PTCE], len(ptce))
    return table


def _amounts(soutiens: pd.DataFrame) -> pd.Series:
    """Return the amounts of the supports as floats, NaN when unknown."""
    return pd.to_numeric(soutiens["montant"], errors="coerce").astype("float64")


def soutiens_type_niveau(frames: Frames) -> pd.DataFrame:
    """Count the supports and sum their known amounts per kind and level.

    A support is one collectivité helping one PTCE in one way; a collectivité
    giving two kinds of help counts once in each.

    Parameters
    ----------
    frames : Frames
        The selection (its ``soutiens`` are every support of the selected
        PTCE).

    Returns
    -------
    pandas.DataFrame
        Columns ``Type de soutien``, ``Niveau`` (French label: région,
        département, EPCI, commune), ``Soutiens``, ``PTCE soutenus``,
        ``Soutiens au montant connu``, ``Soutiens au montant inconnu``,
        ``Montant connu (€)``. Every combination of
        :data:`lib.domain.model.TYPES_SOUTIEN` × :data:`lib.domain.model.NIVEAUX` is
        present,
        in vocabulary order, even with no support. ``Montant connu (€)`` is the
        sum of the known amounts, empty (``<NA>``) when no amount is known.
    """
    soutiens = frames.soutiens
    data = pd.DataFrame(
        {
            "type": soutiens["type"].astype("object"),
            "niveau": soutiens["niveau"].astype("object"),
            "ptce_id": soutiens["ptce_id"].astype("object"),
            "montant": _amounts(soutiens),
        }
    )
    types = _ordered(data["type"], TYPES_SOUTIEN, NON_RENSEIGNE)
    niveaux = _ordered(data["niveau"], NIVEAUX, NON_RENSEIGNE)
    data["type"] = [NON_RENSEIGNE if _blank(v) else str(v) for v in data["type"]]
    data["niveau"] = [NON_RENSEIGNE if _blank(v) else str(v) for v in data["niveau"]]
    # The "non renseigné" rows only when they hold something: the vocabulary
    # is checked on input, so they are normally absent.
    if not (data["type"] == NON_RENSEIGNE).any():
        types.remove(NON_RENSEIGNE)
    if not (data["niveau"] == NON_RENSEIGNE).any():
        niveaux.remove(NON_RENSEIGNE)
    index = pd.MultiIndex.from_product([types, niveaux], names=["type", "niveau"])
    table = _support_totals(data, ["type", "niveau"]).reindex(index)
    table = _fill_counts(table).reset_index()
    # The guide's wording of each type (lib.domain.soutiens), not its stored code.
    table.insert(0, "Type de soutien", [libelle_type(t) for t in table.pop("type")])
    table.insert(1, "Niveau", [NIVEAU_LABELS.get(n, n) for n in table.pop("niveau")])
    return table[
        ["Type de soutien", "Niveau", SOUTIENS, "PTCE soutenus", CONNUS, INCONNUS,
         MONTANT]
    ]  # fmt: skip


def _support_totals(data: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Group supports: counts, distinct PTCE, known and unknown amounts."""
    known = data["montant"].notna()
    grouped = data.assign(_connu=known.astype("int64")).groupby(keys, sort=False)
    return pd.DataFrame(
        {
            SOUTIENS: grouped.size(),
            "PTCE soutenus": grouped["ptce_id"].nunique(),
            CONNUS: grouped["_connu"].sum(),
            MONTANT: grouped["montant"].sum(min_count=1),
        }
    )


def _fill_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Put zeros in missing groups, count unknowns, empty totals if none known."""
    for column in (SOUTIENS, "PTCE soutenus", CONNUS):
        table[column] = table[column].fillna(0).astype("int64")
    table[INCONNUS] = table[SOUTIENS] - table[CONNUS]
    table[MONTANT] = table[MONTANT].astype("Float64")
    table.loc[table[CONNUS] == 0, MONTANT] = pd.NA
    return table


def _years(values: pd.Series) -> pd.Series:
    """Return years as nullable integers (unknown or not a number: ``<NA>``)."""
    return pd.to_numeric(values, errors="coerce").round().astype("Int64")


def _year_labels(years: pd.Series) -> list[str]:
    """List every year from the first to the last known one, as text."""
    known = years.dropna()
    if known.empty:
        return []
    return [str(y) for y in range(int(known.min()), int(known.max()) + 1)]


def creations_par_annee(frames: Frames) -> pd.DataFrame:
    """Count the PTCE created each year.

    Parameters
    ----------
    frames : Frames
        The selection.

    Returns
    -------
    pandas.DataFrame
        Columns ``Année`` (text) and ``PTCE créés``: every year from the
        first to the last known creation year (years with none included, as
        0), then a "non renseignée" row when some creation years are unknown.
        The counts add up to the number of PTCE.
    """
    years = _years(frames.ptce["annee_creation"])
    labels = _year_labels(years)
    counted = years.dropna().astype(str).value_counts()
    rows = [{"Année": y, "PTCE créés": int(counted.get(y, 0))} for y in labels]
    unknown = int(years.isna().sum())
    if unknown:
        rows.append({"Année": NON_RENSEIGNEE, "PTCE créés": unknown})
    table = pd.DataFrame(rows, columns=["Année", "PTCE créés"])
    table["PTCE créés"] = table["PTCE créés"].astype("int64")
    return table


def montants_par_annee(frames: Frames) -> pd.DataFrame:
    """Sum the known amounts of the supports per starting year.

    Unknown amounts are counted apart and never added as 0: a year whose
    supports all have an unknown amount has an empty total, not 0 €.

    Parameters
    ----------
    frames : Frames
        The selection.

    Returns
    -------
    pandas.DataFrame
        Columns ``Année de début`` (text), ``Soutiens``,
        ``Soutiens au montant connu``, ``Soutiens au montant inconnu``,
        ``Montant connu (€)``: every year from the first to the last known
        starting year, then a "non renseignée" row for the supports whose
        starting year is unknown (when there are some).
    """
    soutiens = frames.soutiens
    years = _years(soutiens["annee_debut"])
    labels = _year_labels(years)
    data = pd.DataFrame(
        {
            "annee": [NON_RENSEIGNEE if pd.isna(y) else str(y) for y in years],
            "ptce_id": soutiens["ptce_id"].astype("object").to_numpy(),
            "montant": _amounts(soutiens).to_numpy(),
        }
    )
    if (data["annee"] == NON_RENSEIGNEE).any():
        labels.append(NON_RENSEIGNEE)
    index = pd.Index(labels, name="annee", dtype="object")
    table = _fill_counts(_support_totals(data, ["annee"]).reindex(index))
    table = table.reset_index().rename(columns={"annee": "Année de début"})
    return table[["Année de début", SOUTIENS, CONNUS, INCONNUS, MONTANT]]


def composition_membres(frames: Frames) -> pd.DataFrame:
    """Count the listed members of the PTCE by category and role.

    Only the members named in the PTCE records are counted; the number of
    members a PTCE declares (``nb_membres``) may be larger.

    Parameters
    ----------
    frames : Frames
        The selection.

    Returns
    -------
    pandas.DataFrame
        Columns ``Catégorie``, ``Rôle``, ``Membres``, ``PTCE concernés``:
        every combination of :data:`lib.domain.model.CATEGORIES_MEMBRE` (then
        "non renseignée") × :data:`lib.domain.model.ROLES_MEMBRE`, zeros included
        ("non renseigné" roles only when some exist), in vocabulary order.
    """
    membres = frames.membres
    data = pd.DataFrame(
        {
            "categorie": [
                NON_RENSEIGNEE if _blank(v) else str(v) for v in membres["categorie"]
            ],
            "role": [NON_RENSEIGNE if _blank(v) else str(v) for v in membres["role"]],
            "ptce_id": membres["ptce_id"].astype("object").to_numpy(),
        }
    )
    categories = _ordered(data["categorie"], CATEGORIES_MEMBRE, NON_RENSEIGNEE)
    roles = _ordered(data["role"], ROLES_MEMBRE, NON_RENSEIGNE)
    if not (data["role"] == NON_RENSEIGNE).any():
        roles.remove(NON_RENSEIGNE)
    grouped = data.groupby(["categorie", "role"], sort=False)
    index = pd.MultiIndex.from_product([categories, roles], names=["categorie", "role"])
    table = pd.DataFrame(
        {"Membres": grouped.size(), "PTCE concernés": grouped["ptce_id"].nunique()}
    ).reindex(index)
    table = table.fillna(0).astype("int64").reset_index()
    table = table.rename(columns={"categorie": "Catégorie", "role": "Rôle"})
    return table[["Catégorie", "Rôle", "Membres", "PTCE concernés"]]


def source_line(frames: Frames) -> str:
    """Return the "Source : …" line of the charts of a selection.

    Parameters
    ----------
    frames : Frames
        The selection; its ``origine`` column tells where the records come
        from (entered by users, demonstration, synthetic).

    Returns
    -------
    str
        E.g. "Source : base Atlas des PTCE (données de démonstration : faits
        sourcés)" for demo records only.
    """
    labels = {
        "saisie": "fiches saisies par les utilisateurs",
        "démonstration": "données de démonstration : faits sourcés",
        "synthétique": "données synthétiques de test",
    }
    present = set(frames.ptce["origine"].dropna())
    parts = [text for origine, text in labels.items() if origine in present]
    parts += fr.sorted_fr(str(o) for o in present - set(labels))
    if not parts:
        return "Source : base Atlas des PTCE"
    return f"Source : base Atlas des PTCE ({' ; '.join(parts)})"


def to_csv(table: pd.DataFrame) -> bytes:
    """Write a statistics table as CSV for French spreadsheets.

    UTF-8 with a byte order mark, ``;`` separators, CRLF line ends, decimal
    commas (a ``12.5`` would open as a date), empty cells for missing values,
    and text cells that a spreadsheet would run as a formula neutralised
    with :func:`lib.io.exporter.neutralise`.

    Parameters
    ----------
    table : pandas.DataFrame
        A table of this module (its index is not written).

    Returns
    -------
    bytes
        The file content.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow([neutralise(str(c)) for c in table.columns])
    for row in table.itertuples(index=False, name=None):
        writer.writerow([_cell(v) for v in row])
    return "\ufeff".encode() + buf.getvalue().encode("utf-8")


def _cell(value: object) -> str:
    """Format one CSV cell: numbers with a decimal comma, text neutralised."""
    if _blank(value):
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # A CSV cell for a spreadsheet: decimal comma, every digit, no
        # grouping space (lib.fr's grouping would make it text).
        return repr(float(value)).replace(".", ",")
    if hasattr(value, "item"):  # numpy scalar
        return _cell(value.item())
    return neutralise(str(value))
