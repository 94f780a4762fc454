"""Import of PTCE from spreadsheets: read, validate row by row, preview, apply.

Accepted files: CSV (``;`` or ``,``; UTF-8 with or without BOM, or
Windows-1252, detected), XLSX (sheets ``PTCE``, ``Membres``, ``Soutiens``)
and GeoJSON points. Every problem is reported with its file, sheet, line,
column, value and a French explanation; a file with any error applies
nothing. A valid import is previewed (created / updated / unchanged) and
applied in one transaction; importing the same content again changes
nothing.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from geo.lookup import search
from geo.reference import Reference, load_reference, normalise_code
from lib.columns import LIST_SEP, SHEETS, guess_sheet, match_columns
from lib.model import (
    CATEGORIES_MEMBRE,
    FILIERES,
    FORMES_JURIDIQUES,
    NIVEAUX,
    ORIGINES,
    ROLES_MEMBRE,
    STADES,
    TYPES_AMI,
    TYPES_SOUTIEN,
    Ami,
    Membre,
    Problem,
    Ptce,
    Source,
    Soutien,
    fold,
    match_label,
    slugify,
)
from lib.store import Store

#: Largest file accepted (bytes), and most data rows per file.
MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
#: Largest uncompressed content of an XLSX archive (zip bombs are refused).
MAX_XLSX_UNCOMPRESSED = 200 * 1024 * 1024
#: A leading apostrophe protects a cell starting with these from spreadsheets;
#: exports add it, imports remove it (see lib.exporter).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ImportRejected(ValueError):
    """The file cannot be read at all (size, format); French message."""


@dataclass
class Table:
    """Rows of one sheet, as text, with their line numbers in the file."""

    sheet: str
    source: str
    headers: list[str]
    rows: list[tuple[int, list[str]]]


@dataclass
class Plan:
    """What an import would do: records by status, and every problem.

    Attributes
    ----------
    created, updated, unchanged : list of Ptce
        Aggregates as they would be stored.
    problems : list of Problem
        Validation errors; when not empty nothing may be applied.
    warnings : list of str
        Things worth knowing that do not block (ignored columns…).
    """

    created: list[Ptce] = field(default_factory=list)
    updated: list[Ptce] = field(default_factory=list)
    unchanged: list[Ptce] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the import can be applied."""
        return not self.problems

    def summary(self) -> dict:
        """JSON summary ``{"created", "updated", "unchanged", "errors"}``."""
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "errors": [p.as_dict() for p in self.problems],
        }


# --------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """Decode CSV bytes: UTF-8 (with or without BOM), else Windows-1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (";", ",", "\t")}
    return max(counts, key=counts.get) if any(counts.values()) else ";"


def read_csv(data: bytes, name: str = "fichier.csv", sheet: str | None = None) -> Table:
    """Read a CSV file into a :class:`Table` (sheet guessed from headers)."""
    text = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        headers = next(reader)
    except StopIteration:
        raise ImportRejected(f"« {name} » est vide.") from None
    except csv.Error as exc:
        raise ImportRejected(f"« {name} » n'est pas un CSV lisible : {exc}") from None
    rows = []
    line = reader.line_num + 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((line, cells))
            line = reader.line_num + 1
            if len(rows) > MAX_ROWS:
                raise ImportRejected(
                    f"« {name} » dépasse {MAX_ROWS:,} lignes : découpez-le.".replace(
                        ",", " "
                    )
                )
    except csv.Error as exc:
        raise ImportRejected(
            f"« {name} », ligne {line} : CSV illisible ({exc})."
        ) from None
    return Table(sheet or guess_sheet(headers), name, headers, rows)


def read_xlsx(data: bytes, name: str = "fichier.xlsx") -> list[Table]:
    """Read the PTCE, Membres and Soutiens sheets of a workbook."""
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(i.file_size for i in archive.infolist())
    except zipfile.BadZipFile:
        raise ImportRejected(f"« {name} » n'est pas un fichier XLSX valide.") from None
    if total > MAX_XLSX_UNCOMPRESSED:
        raise ImportRejected(
            f"« {name} » décompressé dépasse "
            f"{MAX_XLSX_UNCOMPRESSED // 2**20} Mo : refusé."
        )
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on corrupt files
        raise ImportRejected(f"« {name} » n'est pas lisible : {exc}") from None
    tables = []
    wanted = {fold(s): s for s in SHEETS}
    for ws in book.worksheets:
        sheet = wanted.get(fold(ws.title))
        if sheet is None:
            continue
        rows_iter = ws.iter_rows(values_only=True)
        headers = [cell_text(c) for c in next(rows_iter, ())]
        rows = []
        for line, cells in enumerate(rows_iter, start=2):
            texts = [cell_text(c) for c in cells]
            if any(t.strip() for t in texts):
                rows.append((line, texts))
            if len(rows) > MAX_ROWS:
                raise ImportRejected(
                    f"« {name} », feuille {ws.title} : trop de lignes."
                )
        tables.append(Table(sheet, name, headers, rows))
    book.close()
    if not tables:
        raise ImportRejected(
            f"« {name} » n'a aucune feuille PTCE, Membres ou Soutiens."
        )
    return tables


def cell_text(value) -> str:
    """Return a spreadsheet cell as text (``3.0`` → ``"3"``, None → ``""``).

    Parameters
    ----------
    value : object

    Returns
    -------
    str
    """
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_geojson(data: bytes, name: str = "fichier.geojson") -> list[Table]:
    """Read GeoJSON points: properties are PTCE columns, geometry the position.

    Properties ``membres`` and ``soutiens`` (lists of objects, as exported)
    become rows of the Membres and Soutiens sheets.
    """
    try:
        doc = json.loads(decode(data))
        features = doc["features"]
    except (ValueError, KeyError, TypeError):
        raise ImportRejected(
            f"« {name} » n'est pas une FeatureCollection GeoJSON."
        ) from None
    if len(features) > MAX_ROWS:
        raise ImportRejected(f"« {name} » : trop d'entités.")
    ptce_rows, membre_rows, soutien_rows = [], [], []
    names = [c.name for c in SHEETS["PTCE"]]
    for i, feature in enumerate(features, start=1):
        props = dict((feature or {}).get("properties") or {})
        geometry = (feature or {}).get("geometry") or {}
        if (
            geometry.get("type") == "Point"
            and len(geometry.get("coordinates", [])) >= 2
        ):
            lon, lat = geometry["coordinates"][:2]
            props.setdefault("longitude", lon)
            props.setdefault("latitude", lat)
        for key, target, sheet in (
            ("membres", membre_rows, "Membres"),
            ("soutiens", soutien_rows, "Soutiens"),
        ):
            for child in props.pop(key, None) or []:
                child = dict(child, identifiant_ptce=props.get("identifiant", ""))
                target.append(
                    (i, [cell_text(child.get(c.name)) for c in SHEETS[sheet]])
                )
        ptce_rows.append((i, [cell_text(props.get(n)) for n in names]))
    tables = [Table("PTCE", name, names, ptce_rows)]
    if membre_rows:
        tables.append(
            Table("Membres", name, [c.name for c in SHEETS["Membres"]], membre_rows)
        )
    if soutien_rows:
        tables.append(
            Table("Soutiens", name, [c.name for c in SHEETS["Soutiens"]], soutien_rows)
        )
    return tables


def read_file(data: bytes, name: str) -> list[Table]:
    """Read any accepted file by its extension (or content).

    Raises
    ------
    ImportRejected
        When the file is too large, empty or of an unknown format.
    """
    if len(data) > MAX_BYTES:
        raise ImportRejected(
            f"« {name} » pèse {len(data) / 2**20:.1f} Mo : la limite est "
            f"{MAX_BYTES // 2**20} Mo."
        )
    suffix = Path(name).suffix.lower()
    if suffix == ".xlsx" or data[:2] == b"PK":
        return read_xlsx(data, name)
    if suffix in (".geojson", ".json"):
        return read_geojson(data, name)
    if suffix in (".csv", ".txt", ""):
        return [read_csv(data, name)]
    raise ImportRejected(
        f"Format non reconnu pour « {name} » : CSV, XLSX ou GeoJSON attendu."
    )


# --------------------------------------------------------------------------
# Validation of values
# --------------------------------------------------------------------------


class _RowErrors:
    def __init__(self, table: Table, line: int, problems: list[Problem]):
        self.table, self.line, self.problems = table, line, problems
        self.failed = False

    def add(self, column: str, value, message: str) -> None:
        self.failed = True
        self.problems.append(
            Problem(
                message=message,
                colonne=column,
                valeur=None if value is None else str(value)[:200],
                ligne=self.line,
                feuille=f"{self.table.source} / {self.table.sheet}",
            )
        )


def unprotect(text: str) -> str:
    """Remove the apostrophe an export put before a formula-like cell."""
    if text.startswith("'") and text[1:2] and text[1] in FORMULA_PREFIXES:
        return text[1:]
    return text


def _text(value: str) -> str | None:
    value = unprotect(value.strip()) if value else ""
    return value or None


def _int(err: _RowErrors, column: str, value: str, lo: int, hi: int) -> int | None:
    text = _text(value)
    if text is None:
        return None
    cleaned = text.replace("\u202f", "").replace("\xa0", "").replace(" ", "")
    try:
        number = float(cleaned.replace(",", "."))
    except ValueError:
        err.add(column, value, "nombre entier attendu")
        return None
    if not number.is_integer() or not lo <= number <= hi:
        err.add(column, value, f"nombre entier entre {lo} et {hi} attendu")
        return None
    return int(number)


def _float(
    err: _RowErrors, column: str, value: str, lo: float, hi: float
) -> float | None:
    text = _text(value)
    if text is None:
        return None
    cleaned = re.sub(r"[\s\u202f\xa0€]", "", text)
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        number = float(cleaned)
    except ValueError:
        err.add(column, value, "nombre attendu")
        return None
    if not lo <= number <= hi or number != number:
        err.add(column, value, f"nombre entre {lo:g} et {hi:g} attendu")
        return None
    return number


def _bool(err: _RowErrors, column: str, value: str) -> bool | None:
    text = _text(value)
    if text is None:
        return None
    key = fold(text)
    if key in ("oui", "o", "vrai", "true", "1", "x", "yes"):
        return True
    if key in ("non", "n", "faux", "false", "0", "no"):
        return False
    err.add(column, value, "oui ou non attendu")
    return None


def _label(err, column: str, value: str, vocabulary: tuple[str, ...]) -> str | None:
    text = _text(value)
    if text is None:
        return None
    label = match_label(text, vocabulary)
    if label is None:
        err.add(
            column,
            value,
            "valeur inconnue ; valeurs possibles : " + ", ".join(vocabulary),
        )
    return label


def _split(value: str) -> list[str]:
    text = _text(value) or ""
    return [part.strip() for part in text.split(LIST_SEP.strip()) if part.strip()]


_SOURCE = re.compile(r"^(?P<label>.*?)\s*<(?P<url>[^<>\s]+)>$")
_AMI = re.compile(r"^(?P<annee>\d{4})\s*[:\-–]?\s*(?P<type>.+)$")


def _sources(err, column: str, value: str) -> tuple[Source, ...]:
    sources = []
    for part in _split(value):
        m = _SOURCE.match(part)
        if m:
            label, url = m["label"].strip(), m["url"]
            if not re.match(r"^https?://", url):
                err.add(
                    column,
                    part,
                    "l'adresse d'une source doit commencer par http:// ou https://",
                )
                continue
            sources.append(Source(label or url, url))
        else:
            sources.append(Source(part, None))
    return tuple(sources)


def _url(err, column: str, value: str) -> str | None:
    text = _text(value)
    if text is not None and not re.match(r"^https?://\S+$", text):
        err.add(column, value, "adresse web attendue (http:// ou https://…)")
        return None
    return text


# --------------------------------------------------------------------------
# Places
# --------------------------------------------------------------------------


class _Places:
    """Resolves the places named in a file through the COG reference."""

    def __init__(self, ref: Reference):
        self.ref = ref
        self.dep_by_name = {fold(d.nom): d.code for d in ref.departements.values()}
        self.reg_by_name = {fold(r.nom): r.code for r in ref.regions.values()}
        self.epci_by_name: dict[str, list[str]] = {}
        for e in ref.epci.values():
            self.epci_by_name.setdefault(fold(e.nom), []).append(e.code)

    def departement(self, text: str) -> str | None:
        code = normalise_code(text)
        code = code.zfill(2) if code.isdigit() and len(code) < 2 else code
        if code in self.ref.departements:
            return code
        return self.dep_by_name.get(fold(text))

    def region(self, text: str) -> str | None:
        code = text.strip()
        if code in self.ref.regions:
            return code
        return self.reg_by_name.get(fold(text))

    def epci(self, text: str) -> tuple[str | None, str | None]:
        code = re.sub(r"\s", "", text)
        if code in self.ref.epci:
            return code, None
        found = self.epci_by_name.get(fold(text), [])
        if len(found) == 1:
            return found[0], None
        if found:
            return None, "plusieurs EPCI portent ce nom : indiquez le SIREN"
        return None, "EPCI inconnu (SIREN à 9 chiffres ou nom exact attendu)"

    def commune(
        self, text: str, departement: str | None = None, postal: str | None = None
    ) -> tuple[str | None, str | None]:
        if re.fullmatch(r"\s*\d[0-9ABab]\d{2,3}\s*", text):
            code = self.ref.current_code(text)
            return (code, None) if code else (None, "code commune inconnu du COG 2026")
        matches = search(
            text, departement=departement, postal_code=postal, ref=self.ref
        )
        exact = [m for m in matches if m.via == "nom"] or matches
        if len(exact) == 1:
            return exact[0].code, None
        if not exact:
            return (
                None,
                "commune introuvable (vérifiez le nom, le département ou le "
                "code postal)",
            )
        return None, (
            f"{len(exact)} communes portent ce nom : précisez le département ou le "
            "code postal, ou donnez le code INSEE"
        )


# --------------------------------------------------------------------------
# Rows to aggregates
# --------------------------------------------------------------------------


def _cells(table: Table) -> tuple[dict[int, str], list[str]]:
    matched, unknown = match_columns(table.headers, table.sheet)
    return matched, unknown


def _as_dict(matched: dict[int, str], cells: list[str]) -> dict[str, str]:
    values = {}
    for i, name in matched.items():
        values[name] = cells[i] if i < len(cells) else ""
    return values


def _ptce_from_row(
    err: _RowErrors, row: dict[str, str], places: _Places
) -> Ptce | None:
    nom = _text(row.get("nom", ""))
    if nom is None:
        err.add("nom", row.get("nom"), "le nom du PTCE est obligatoire")
    departement = region = commune = None
    dep_text = _text(row.get("departement", ""))
    if dep_text:
        departement = places.departement(dep_text)
        if departement is None:
            err.add(
                "departement", dep_text, "département inconnu (code ou nom attendu)"
            )
    reg_text = _text(row.get("region", ""))
    if reg_text:
        region = places.region(reg_text)
        if region is None:
            err.add("region", reg_text, "région inconnue (code ou nom attendu)")
    commune_text = _text(row.get("commune", ""))
    if commune_text:
        commune, why = places.commune(
            commune_text, departement, _text(row.get("code_postal", ""))
        )
        if why:
            err.add("commune", commune_text, why)
    if commune:
        info = places.ref.communes[commune]
        if departement and departement != info.departement:
            err.add(
                "departement",
                dep_text,
                f"incohérent avec la commune {info.nom} ({info.departement})",
            )
        departement = info.departement
    if departement:
        dep_region = places.ref.departements[departement].region
        if region and region != dep_region:
            err.add("region", reg_text, "incohérente avec le département")
        region = dep_region
    territoire = []
    for item in _split(row.get("territoire", "")):
        if re.fullmatch(r"\d[0-9ABab]\d{2,3}", item):
            code, why = places.commune(item)
        else:
            code, why = places.epci(item)
        if why:
            err.add("territoire", item, why)
        elif code not in territoire:
            territoire.append(code)
    filieres = []
    for item in _split(row.get("filieres", "")):
        label = match_label(item, FILIERES)
        if label is None:
            err.add(
                "filieres",
                item,
                "filière inconnue ; utilisez une filière de la liste ou « autre » : "
                + ", ".join(FILIERES),
            )
        elif label not in filieres:
            filieres.append(label)
    ami = []
    for item in _split(row.get("ami", "")):
        m = _AMI.match(item)
        label = match_label(m["type"], TYPES_AMI) if m else None
        if not m or label is None or not 2000 <= int(m["annee"]) <= 2100:
            err.add(
                "ami",
                item,
                "forme attendue : « 2021 : financé » ou « 2023 : lauréat phase 1 »",
            )
        else:
            ami.append(Ami(int(m["annee"]), label))
    latitude = _float(err, "latitude", row.get("latitude", ""), -90, 90)
    longitude = _float(err, "longitude", row.get("longitude", ""), -180, 180)
    if (latitude is None) != (longitude is None):
        err.add("latitude", row.get("latitude"), "latitude et longitude vont ensemble")
    origine = _label(err, "origine", row.get("origine", ""), ORIGINES) or "saisie"
    record = Ptce(
        id=_text(row.get("identifiant", "")) or "",
        nom=nom or "",
        description=_text(row.get("description", "")),
        commune=commune,
        departement=departement,
        region=region,
        territoire=tuple(territoire),
        filieres=tuple(filieres),
        stade=_label(err, "stade", row.get("stade", ""), STADES),
        forme_juridique=_label(
            err, "forme_juridique", row.get("forme_juridique", ""), FORMES_JURIDIQUES
        ),
        annee_creation=_int(
            err, "annee_creation", row.get("annee_creation", ""), 1900, 2100
        ),
        nb_membres=_int(err, "nb_membres", row.get("nb_membres", ""), 0, 100_000),
        emplois=_int(err, "emplois", row.get("emplois", ""), 0, 1_000_000),
        charte_signee=_bool(err, "charte_signee", row.get("charte_signee", "")),
        site_web=_url(err, "site_web", row.get("site_web", "")),
        latitude=latitude,
        longitude=longitude,
        ami=tuple(ami),
        sources=_sources(err, "sources", row.get("sources", "")),
        origine=origine,
    )
    return None if err.failed else record


def _membre_from_row(err: _RowErrors, row: dict[str, str]) -> Membre | None:
    nom = _text(row.get("nom", ""))
    if nom is None:
        err.add("nom", row.get("nom"), "le nom de la structure est obligatoire")
    categorie = _label(err, "categorie", row.get("categorie", ""), CATEGORIES_MEMBRE)
    role = _label(err, "role", row.get("role", ""), ROLES_MEMBRE) or "membre"
    return None if err.failed else Membre(nom, categorie, role)


_NIVEAU_ALIASES = {
    "region": "region",
    "departement": "departement",
    "epci": "epci",
    "intercommunalite": "epci",
    "commune": "commune",
    "mairie": "commune",
}


def _soutien_from_row(
    err: _RowErrors, row: dict[str, str], places: _Places
) -> Soutien | None:
    niveau_text = _text(row.get("niveau", ""))
    niveau = _NIVEAU_ALIASES.get(fold(niveau_text or ""))
    if niveau is None:
        err.add("niveau", niveau_text, "niveau attendu : " + ", ".join(NIVEAUX))
    text = _text(row.get("collectivite", ""))
    code = None
    if text is None:
        err.add("collectivite", text, "code ou nom de la collectivité obligatoire")
    elif niveau == "region":
        code = places.region(text)
        if code is None:
            err.add("collectivite", text, "région inconnue")
    elif niveau == "departement":
        code = places.departement(text)
        if code is None:
            err.add("collectivite", text, "département inconnu")
    elif niveau == "epci":
        code, why = places.epci(text)
        if why:
            err.add("collectivite", text, why)
    elif niveau == "commune":
        code, why = places.commune(text)
        if why:
            err.add("collectivite", text, why)
    type_ = _label(err, "type_soutien", row.get("type_soutien", ""), TYPES_SOUTIEN)
    if type_ is None and not _text(row.get("type_soutien", "")):
        err.add("type_soutien", "", "type de soutien obligatoire")
    debut = _int(err, "annee_debut", row.get("annee_debut", ""), 1900, 2100)
    fin = _int(err, "annee_fin", row.get("annee_fin", ""), 1900, 2100)
    if debut and fin and fin < debut:
        err.add("annee_fin", row.get("annee_fin"), "antérieure à l'année de début")
    montant = _float(err, "montant", row.get("montant", ""), 0, 1e12)
    label = _text(row.get("source", ""))
    url = _url(err, "source_url", row.get("source_url", ""))
    source = Source(label or url, url) if (label or url) else None
    result = Soutien(
        niveau=niveau or "",
        code=code or "",
        type=type_ or "",
        dispositif=_text(row.get("dispositif", "")),
        montant=montant,
        annee_debut=debut,
        annee_fin=fin,
        phase=_label(err, "phase", row.get("phase", ""), STADES),
        source=source,
        note=_text(row.get("note", "")),
    )
    return None if err.failed else result


# --------------------------------------------------------------------------
# Planning and applying
# --------------------------------------------------------------------------


def _missing_columns(
    table: Table, matched: dict[int, str], problems: list[Problem]
) -> bool:
    missing = [
        c.name
        for c in SHEETS[table.sheet]
        if c.required and c.name not in matched.values()
    ]
    for name in missing:
        problems.append(
            Problem(
                message="colonne obligatoire absente",
                colonne=name,
                ligne=1,
                feuille=f"{table.source} / {table.sheet}",
            )
        )
    return bool(missing)


def plan_import(
    tables: Iterable[Table], store: Store, ref: Reference | None = None
) -> Plan:
    """Validate tables and compare them with the store, without writing.

    Parameters
    ----------
    tables : iterable of Table
        As returned by :func:`read_file` (several files may be combined).
    store : Store
        Where existing PTCE are looked up.
    ref : Reference, optional
        The COG reference.

    Returns
    -------
    Plan
        Records by status and every problem found.
    """
    ref = ref or load_reference()
    places = _Places(ref)
    plan = Plan()
    tables = list(tables)
    new_rows: list[tuple[_RowErrors, Ptce]] = []
    membres: dict[str, list[Membre]] = {}
    soutiens: dict[str, list[Soutien]] = {}
    child_lines: dict[str, list[tuple[_RowErrors, str]]] = {}
    has_sheet = {t.sheet for t in tables}
    for table in tables:
        matched, unknown = _cells(table)
        if unknown:
            plan.warnings.append(
                f"{table.source} / {table.sheet} : colonnes ignorées : "
                + ", ".join(unknown)
            )
        if _missing_columns(table, matched, plan.problems):
            continue
        for line, cells in table.rows:
            row = _as_dict(matched, cells)
            err = _RowErrors(table, line, plan.problems)
            if table.sheet == "PTCE":
                record = _ptce_from_row(err, row, places)
                if record is not None:
                    new_rows.append((err, record))
                continue
            pid = _text(row.get("identifiant_ptce", ""))
            if pid is None:
                err.add("identifiant_ptce", "", "identifiant du PTCE obligatoire")
            if table.sheet == "Membres":
                item = _membre_from_row(err, row)
                target = membres
            else:
                item = _soutien_from_row(err, row, places)
                target = soutiens
            if item is not None and pid:
                target.setdefault(pid, []).append(item)
                child_lines.setdefault(pid, []).append((err, table.sheet))

    existing = {p.id: p for p in store.load()}
    by_name = {}
    for p in existing.values():
        by_name.setdefault((fold(p.nom), p.departement), p.id)
    seen: dict[str, int] = {}
    records: dict[str, Ptce] = {}
    used = set(existing)
    for err, record in new_rows:
        pid = record.id or by_name.get((fold(record.nom), record.departement))
        if not pid:
            pid = base = slugify(record.nom)
            n = 2
            while pid in used or pid in records:
                pid, n = f"{base}-{n}", n + 1
        if pid in seen:
            err.add(
                "identifiant", pid, f"identifiant en double (déjà ligne {seen[pid]})"
            )
            continue
        seen[pid] = err.line
        used.add(pid)
        records[pid] = replace(record, id=pid)

    for pid, lines in child_lines.items():
        if pid not in records and pid not in existing:
            for err, _sheet in lines:
                err.add(
                    "identifiant_ptce",
                    pid,
                    "aucun PTCE avec cet identifiant (ni dans le fichier, ni en base)",
                )
    if plan.problems:
        return plan

    for pid in sorted(set(records) | set(membres) | set(soutiens)):
        stored = existing.get(pid)
        base = records.get(pid) or stored
        record = replace(
            base,
            membres=(
                tuple(membres.get(pid, ()))
                if "Membres" in has_sheet
                else (stored.membres if stored else ())
            ),
            soutiens=(
                tuple(soutiens.get(pid, ()))
                if "Soutiens" in has_sheet
                else (stored.soutiens if stored else ())
            ),
            version=stored.version if stored else 0,
        )
        if stored is None:
            plan.created.append(record)
        elif stored.content() == record.content():
            plan.unchanged.append(stored)
        else:
            plan.updated.append(record)
    return plan


def apply_plan(plan: Plan, store: Store, who: str) -> None:
    """Write a valid plan in one transaction (all or nothing).

    Raises
    ------
    ValueError
        When the plan has problems.
    lib.store.ConflictError
        When a PTCE changed since the plan was made (nothing is written).
    """
    if not plan.ok:
        raise ValueError("import refusé : le fichier contient des erreurs")
    with store.engine.begin() as conn:
        store.create_many(plan.created, who, conn=conn)
        for record in plan.updated:
            store.save(record, who, expected_version=record.version, conn=conn)


def import_files(
    files: Iterable[tuple[str, bytes]],
    store: Store,
    who: str,
    dry_run: bool = False,
) -> Plan:
    """Read, validate and (unless ``dry_run``) apply files in one go.

    Parameters
    ----------
    files : iterable of (name, bytes)
        The uploaded or given files.
    store : Store
        The database.
    who : str
        Recorded in the history.
    dry_run : bool
        Only report what would happen.

    Returns
    -------
    Plan
        The report; when it has problems nothing was written.
    """
    tables: list[Table] = []
    plan = Plan()
    for name, data in files:
        try:
            tables.extend(read_file(data, name))
        except ImportRejected as exc:
            plan.problems.append(Problem(message=str(exc), feuille=name))
    if plan.problems:
        return plan
    plan = plan_import(tables, store)
    if plan.ok and not dry_run:
        apply_plan(plan, store, who)
    return plan
