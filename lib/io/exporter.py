"""Export of PTCE selections: CSV, XLSX, GeoJSON, and import templates.

The files use the columns of :mod:`lib.io.columns`, so that an export imports
back to identical data. CSV cells that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) get a
leading apostrophe; XLSX cells are written as text, never as formulas.
An export never fails on the text it holds: characters a workbook cannot
contain (control characters) are left out of XLSX cells, and a lone
surrogate becomes « \ufffd » in every format.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence

from lib.domain.model import CHAMPS_DEDUITS, NIVEAU_LABELS, TYPES_SOUTIEN, Ptce, Source
from lib.domain.soutiens import SOURCE_TYPES, definition, libelle
from lib.io.columns import LIST_SEP, SHEETS
from lib.io.importer import FORMULA_PREFIXES

#: Example rows of the import template (real codes, clearly fictitious names).
TEMPLATE_EXAMPLE: dict[str, dict[str, object]] = {
    "PTCE": {
        "nom": "Exemple — PTCE à renommer",
        "commune": "44003",
        "filieres": "culture | économie circulaire et déchets",
        "stade": "émergence",
        "forme_juridique": "association",
        "annee_creation": "2021",
        "charte_signee": "oui",
        "ami": "2021 : lauréat phase 1",
        "sources": "Rapport d'activité <https://exemple.org/rapport>",
    },
    "Membres": {
        "identifiant_ptce": "exemple-ptce-a-renommer",
        "nom": "Association exemple",
        "categorie": "association",
        "role": "porteur",
    },
    "Soutiens": {
        "identifiant_ptce": "exemple-ptce-a-renommer",
        "niveau": "commune",
        "collectivite": "44003",
        "type_soutien": libelle("investissement"),
        "dispositif": "achat d'un local",
        "annee_debut": "2023",
    },
}


#: What an XLSX cell cannot hold: the control characters XML 1.0 forbids
#: (openpyxl's ILLEGAL_CHARACTERS_RE) and lone surrogates.
_NOT_IN_XLSX = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def xlsx_text(text: str) -> str:
    """Return text a workbook can hold: control characters removed.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        ``text`` without the characters XML 1.0 forbids (tab and line breaks
        are kept) and with lone surrogates replaced by « \ufffd ».
    """
    return _SURROGATE.sub("\ufffd", _NOT_IN_XLSX.sub("", text))


def _utf8(text: str) -> bytes:
    # A lone surrogate cannot be encoded: it becomes U+FFFD instead of
    # making the whole export fail.
    return _SURROGATE.sub("\ufffd", text).encode("utf-8")


def neutralise(text: str) -> str:
    """Protect a CSV cell that a spreadsheet would run as a formula.

    Parameters
    ----------
    text : str
        Cell text.

    Returns
    -------
    str
        The text, with a leading apostrophe when it starts with ``=``, ``+``,
        ``-``, ``@``, a tab or a carriage return.
    """
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _sources(sources: Iterable[Source]) -> str:
    return LIST_SEP.join(
        f"{s.libelle} <{s.url}>" if s.url else s.libelle for s in sources
    )


def _deductions(deductions: dict[str, str]) -> str:
    """« champ : raisonnement | … », fields by their French names."""
    return LIST_SEP.join(
        f"{CHAMPS_DEDUITS.get(champ, champ)} : {why}"
        for champ, why in deductions.items()
    )


#: Name of the XLSX sheet that explains the types of support.
TYPES_SHEET = "Types de soutien"


# size: one dict literal per sheet (PTCE, Membres, Soutiens) listing every
# exported column in sheet order: the contract the importer reads back.
def rows(records: Sequence[Ptce], sheet: str) -> list[dict[str, object]]:
    """Flatten aggregates into the rows of one sheet.

    Numbers stay numbers (``int``/``float``) and text stays text, so that each
    format can write them its own way.

    Parameters
    ----------
    records : sequence of Ptce
        The selection to export.
    sheet : str
        ``"PTCE"``, ``"Membres"`` or ``"Soutiens"``.

    Returns
    -------
    list of dict
        One dict per row, keyed by column name.
    """
    out: list[dict[str, object]] = []
    for p in records:
        if sheet == "PTCE":
            out.append(
                {
                    "identifiant": p.id,
                    "nom": p.nom,
                    "description": p.description,
                    "commune": p.commune,
                    "code_postal": None,
                    "departement": p.departement,
                    "region": p.region,
                    "territoire": LIST_SEP.join(p.territoire),
                    "filieres": LIST_SEP.join(p.filieres),
                    "stade": p.stade,
                    "forme_juridique": p.forme_juridique,
                    "annee_creation": p.annee_creation,
                    "nb_membres": p.nb_membres,
                    "emplois": p.emplois,
                    "charte_signee": (
                        None
                        if p.charte_signee is None
                        else ("oui" if p.charte_signee else "non")
                    ),
                    "ami": LIST_SEP.join(f"{a.annee} : {a.type}" for a in p.ami),
                    "site_web": p.site_web,
                    "latitude": p.latitude,
                    "longitude": p.longitude,
                    "sources": _sources(p.sources),
                    "origine": p.origine,
                    "deductions": _deductions(p.deductions),
                    "meme_pole_que": LIST_SEP.join(p.meme_pole_que),
                }
            )
        elif sheet == "Membres":
            out.extend(
                {
                    "identifiant_ptce": p.id,
                    "nom": m.nom,
                    "categorie": m.categorie,
                    "role": m.role,
                }
                for m in p.membres
            )
        else:
            out.extend(
                {
                    "identifiant_ptce": p.id,
                    "niveau": NIVEAU_LABELS[s.niveau],
                    "collectivite": s.code,
                    "type_soutien": libelle(s.type),
                    "dispositif": s.dispositif,
                    "montant": s.montant,
                    "annee_debut": s.annee_debut,
                    "annee_fin": s.annee_fin,
                    "phase": s.phase,
                    "source": s.source.libelle if s.source else None,
                    "source_url": s.source.url if s.source else None,
                    "note": s.note,
                    "deduit": s.deduit,
                }
                for s in p.soutiens
            )
    return out


def to_csv(records: Sequence[Ptce], sheet: str = "PTCE") -> bytes:
    """Export one sheet as CSV: UTF-8 with BOM, ``;``, formulas neutralised.

    Parameters
    ----------
    records : sequence of Ptce
        The selection.
    sheet : str
        ``"PTCE"``, ``"Membres"`` or ``"Soutiens"``.

    Returns
    -------
    bytes
        The file content (opens directly in French spreadsheets).
    """
    names = [c.name for c in SHEETS[sheet]]
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(names)
    for row in rows(records, sheet):
        writer.writerow(
            [
                neutralise(v) if isinstance(v, str) else _number(v)
                for v in (row.get(n) for n in names)
            ]
        )
    return "\ufeff".encode() + _utf8(buf.getvalue())


def to_xlsx(records: Sequence[Ptce], with_examples: bool = False) -> bytes:
    """Export the three sheets as one XLSX workbook (text cells, no formulas).

    Parameters
    ----------
    records : sequence of Ptce
        The selection.
    with_examples : bool
        Add one example row per sheet and a help row (import template).

    Returns
    -------
    bytes
        The workbook.
    """
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    book.remove(book.active)
    for sheet, columns in SHEETS.items():
        ws = book.create_sheet(sheet)
        names = [c.name for c in columns]
        ws.append(names)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        data = [TEMPLATE_EXAMPLE[sheet]] if with_examples else rows(records, sheet)
        for r, row in enumerate(data, start=2):
            for c, name in enumerate(names, start=1):
                value = row.get(name)
                if value is None or value == "":
                    continue
                cell = ws.cell(row=r, column=c)
                if isinstance(value, str):
                    # Explicit text type: "=…" stays text and never runs.
                    cell.value = xlsx_text(value)
                    cell.data_type = "s"
                else:
                    cell.value = value
        for c, column in enumerate(columns, start=1):
            ws.column_dimensions[openpyxl.utils.get_column_letter(c)].width = max(
                12, min(40, len(column.name) + 4)
            )
        if with_examples:
            help_sheet = (
                book["Aide"] if "Aide" in book.sheetnames else book.create_sheet("Aide")
            )
            help_sheet.append([])
            help_sheet.append([f"Feuille {sheet}"])
            help_sheet[help_sheet.max_row][0].font = Font(bold=True)
            for column in columns:
                mark = " (obligatoire)" if column.required else ""
                help_sheet.append([column.name + mark, column.aide])
    legend = book.create_sheet(TYPES_SHEET)
    legend.append(["type_soutien", "définition"])
    for cell in legend[1]:
        cell.font = Font(bold=True)
    for code in TYPES_SOUTIEN:
        legend.append([libelle(code), definition(code)])
    legend.append([])
    legend.append([f"Source : {SOURCE_TYPES}"])
    legend.column_dimensions["A"].width = 60
    legend.column_dimensions["B"].width = 100
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def to_geojson(
    records: Sequence[Ptce], points: dict[str, tuple[float, float]] | None = None
) -> bytes:
    """Export PTCE as GeoJSON points, members and supports nested.

    Parameters
    ----------
    records : sequence of Ptce
        The selection.
    points : dict, optional
        ``{commune code: (lon, lat)}`` for PTCE without coordinates of their
        own (their geometry is null when neither is known).

    Returns
    -------
    bytes
        A UTF-8 FeatureCollection.
    """
    features = []
    membres: dict[str, list[dict[str, object]]] = {p.id: [] for p in records}
    for row in rows(records, "Membres"):
        membres[str(row.pop("identifiant_ptce"))].append(row)
    soutiens: dict[str, list[dict[str, object]]] = {p.id: [] for p in records}
    for row in rows(records, "Soutiens"):
        soutiens[str(row.pop("identifiant_ptce"))].append(row)
    for p, props in zip(records, rows(records, "PTCE"), strict=True):
        if p.longitude is not None and p.latitude is not None:
            geometry = {"type": "Point", "coordinates": [p.longitude, p.latitude]}
            own = True
        elif points and p.commune in points:
            geometry = {"type": "Point", "coordinates": list(points[p.commune])}
            own = False
        else:
            geometry, own = None, False
        if not own:
            props = dict(props, latitude=None, longitude=None)
        props = {
            k: v
            for k, v in props.items()
            if v not in (None, "") or k in ("latitude", "longitude")
        }
        props["membres"] = membres[p.id]
        props["soutiens"] = soutiens[p.id]
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    doc = {"type": "FeatureCollection", "features": features}
    return _utf8(json.dumps(doc, ensure_ascii=False, indent=1))


def template_csv(sheet: str = "PTCE") -> bytes:
    """Return the CSV import template of a sheet: headers and one example row."""
    names = [c.name for c in SHEETS[sheet]]
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(names)
    writer.writerow([TEMPLATE_EXAMPLE[sheet].get(n, "") for n in names])
    return "\ufeff".encode() + buf.getvalue().encode("utf-8")


def template_xlsx() -> bytes:
    """Return the XLSX import template: three sheets with examples, and help."""
    return to_xlsx([], with_examples=True)
