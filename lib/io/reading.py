"""Reading import files at a bounded cost, with a French answer to every bad file.

The importer (:mod:`lib.io.importer`) gets its tables from here. Every file an
editor gives is hostile until read: its format is decided by its extension
first (a ``.csv`` that is a ZIP archive is refused, not read as XLSX), its
text must be in one known encoding (a file mixing UTF-8 and Windows-1252 is
refused rather than turned into « PÃ´le »), and what may cost more than its
size suggests is checked before it is parsed:

- XLSX: the archive's declared sizes (whole and per part, compression
  ratio), and every XML part is scanned for a ``<!DOCTYPE``/``<!ENTITY``
  (external entities, « billion laughs ») or a non UTF-8 encoding before any
  XML parser sees it; sheets are read row by row without trusting their
  declared dimension; a formula without a computed value is reported;
- CSV: a quote left open, a quote in the wrong place, cells beyond the
  header, a cell swallowing whole lines;
- GeoJSON: nesting, types (a number where features are expected, a string
  for properties, coordinates as text…), non-finite numbers.

:func:`read_bounded` reads an XLSX file, or any file of more than
:attr:`Limits.in_process` bytes, in a separate process with a time limit and
a memory limit: a file that would still be too costly is killed and refused,
and never keeps the server busy once refused.
"""

# size: one bounded reader per format (CSV, XLSX, GeoJSON) and the child process
# that runs them under time and memory limits, sharing Limits and Table;
# each hostile case has its own check and French message. 37 functions.

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import subprocess
import sys
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lib.domain.errors import SaidInFrench
from lib.domain.model import Problem, fold
from lib.io.columns import SHEETS, guess_sheet

__all__ = [
    "DEFAULT_LIMITS",
    "ImportRejected",
    "Limits",
    "Table",
    "cell_text",
    "check_archive",
    "decode",
    "file_kind",
    "read_bounded",
    "read_csv",
    "read_file",
    "read_geojson",
    "read_xlsx",
]

_ROOT = Path(__file__).resolve().parents[2]
_MB = 2**20


class ImportRejected(SaidInFrench, ValueError):
    """The file cannot be read at all (size, format); French message."""


@dataclass(frozen=True)
class Limits:
    """What reading one file may cost.

    Attributes
    ----------
    max_bytes : int
        Largest file accepted.
    max_rows : int
        Most data rows per sheet.
    max_columns : int
        Most header cells (the format has about twenty columns).
    max_uncompressed : int
        Largest content of an XLSX archive once decompressed (all parts).
    max_ratio : int
        Largest compression ratio of an XLSX part of more than 1 Mo (real
        workbooks compress about ten times; a decompression bomb, hundreds).
    max_parts : int
        Most files inside an XLSX archive.
    max_row_elements : int
        Most rows of a sheet, empty ones included.
    timeout : float
        Seconds the reading process may take.
    memory : int
        Address space of the reading process (bytes).
    in_process : int
        CSV and GeoJSON files smaller than this are read in the calling
        process: their cost grows with their size only.
    """

    max_bytes: int = 20 * _MB
    max_rows: int = 100_000
    max_columns: int = 200
    max_uncompressed: int = 50 * _MB
    max_ratio: int = 100
    max_parts: int = 500
    max_row_elements: int = 200_000
    timeout: float = 60.0
    memory: int = 1536 * _MB
    in_process: int = _MB


DEFAULT_LIMITS = Limits()


@dataclass
class Table:
    """Rows of one sheet, as text, with their line numbers in the file.

    Attributes
    ----------
    sheet : str
        ``"PTCE"``, ``"Membres"`` or ``"Soutiens"``.
    source : str
        The file (or form) name.
    headers : list of str
        Header cells.
    rows : list of (int, list of str)
        Line number and cells of every non-empty row.
    problems : list of Problem
        Rows that could not be read (their line is not validated further).
    warnings : list of str
        What was noticed while reading and does not block.
    """

    sheet: str
    source: str
    headers: list[str]
    rows: list[tuple[int, list[str]]]
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        """Return ``"file / sheet"``, as problems name their place."""
        return f"{self.source} / {self.sheet}"

    def problem(
        self, line: int, message: str, column: str | None = None, value=None
    ) -> None:
        """Record a row that cannot be read."""
        self.problems.append(
            Problem(
                message=message,
                colonne=column,
                valeur=None if value is None else str(value)[:200],
                ligne=line,
                feuille=self.where,
            )
        )


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


def _count(numbers: list[int], limit: int = 5) -> str:
    shown = ", ".join(str(n) for n in numbers[:limit])
    more = len(numbers) - limit
    return shown + (f" et {more} autre(s)" if more > 0 else "")


def _mb(size: float) -> str:
    return f"{size / _MB:.1f}".replace(".", ",") + " Mo"


# --------------------------------------------------------------------------
# Text encodings
# --------------------------------------------------------------------------

_RESAVE = "enregistrez-le à nouveau en « CSV UTF-8 » depuis votre tableur"
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


def _bad_utf8_lines(data: bytes) -> tuple[list[int], list[int]]:
    """Return the lines that are UTF-8 with accents, and those not UTF-8."""
    utf8, other = [], []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            other.append(number)
        else:
            utf8.append(number)
    return utf8, other


_BINARY = re.compile("[\x00-\x08\x0e-\x1f]")


def _utf16_without_bom(data: bytes) -> str | None:
    # Text in UTF-16 has a NUL byte beside nearly every ASCII character: at
    # odd positions in little-endian, at even ones in big-endian.
    head = data[:4096]
    odd, even = head[1::2].count(0), head[0::2].count(0)
    half = len(head) // 2
    for zeros, encoding in ((odd, "utf-16-le"), (even, "utf-16-be")):
        if half and zeros >= 0.6 * half and len(data) % 2 == 0:
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                return None
            # Binary content may decode too: text has no control characters.
            return None if _BINARY.search(text) else text
    return None


def decode(data: bytes, name: str = "fichier") -> str:
    """Decode the bytes of a text file (CSV, GeoJSON) or refuse them.

    UTF-8 with or without BOM (a doubled BOM is removed), UTF-16 and UTF-32
    with BOM (UTF-16 also without), else Windows-1252. A file that mixes
    encodings is refused with the lines of each, never decoded into
    mojibake.

    Parameters
    ----------
    data : bytes
        The file.
    name : str
        Its name, for messages.

    Returns
    -------
    str

    Raises
    ------
    ImportRejected
        Mixed or unknown encoding, binary content.
    """
    for bom, encoding, label in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding).lstrip("\ufeff")
            except UnicodeDecodeError:
                raise ImportRejected(
                    f"« {name} » commence comme un texte {label} mais ne l'est pas "
                    f"jusqu'au bout : {_RESAVE}."
                ) from None
    has_bom = data.startswith(codecs.BOM_UTF8)
    while data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if b"\x00" in data:
        text = _utf16_without_bom(data)
        if text is None:
            raise ImportRejected(
                f"« {name} » contient des octets nuls : ce n'est pas un fichier "
                f"texte (CSV ou GeoJSON). S'il vient d'un tableur, {_RESAVE}."
            )
        return text.lstrip("\ufeff")
    try:
        return data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        pass
    utf8, other = _bad_utf8_lines(data)
    if has_bom:
        raise ImportRejected(
            f"« {name} » s'annonce en UTF-8 (marque BOM au début) mais les lignes "
            f"{_count(other)} n'y sont pas (Windows-1252 ?) : les accents seraient "
            f"mal lus. Corrigez ces lignes ou {_RESAVE}."
        )
    if utf8:
        raise ImportRejected(
            f"« {name} » mélange deux encodages de caractères : lignes "
            f"{_count(utf8)} en UTF-8, lignes {_count(other)} dans un autre "
            "(Windows-1252 ?). Les accents seraient mal lus (« PÃ´le » au lieu "
            f"de « Pôle ») : enregistrez tout le fichier dans un seul encodage, "
            "de préférence « CSV UTF-8 »."
        )
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportRejected(
            f"« {name} », ligne {line} : caractère inconnu en UTF-8 comme en "
            f"Windows-1252 (octet 0x{data[exc.start]:02X}) : {_RESAVE}."
        ) from None


# --------------------------------------------------------------------------
# Kinds of file
# --------------------------------------------------------------------------

_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 (.xls), Word…


def file_kind(data: bytes, name: str) -> str:
    """Tell how a file must be read: ``"csv"``, ``"xlsx"`` or ``"geojson"``.

    The extension decides; the content only confirms it (a ``.csv`` that is
    an archive is refused) or, without extension, guesses.

    Raises
    ------
    ImportRejected
        Unknown format, or content that contradicts the extension.
    """
    suffix = Path(name).suffix.lower()
    is_zip = data.startswith(_ZIP)
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix == ".xls" or (data.startswith(_OLE2) and suffix != ".ods"):
        raise ImportRejected(
            f"« {name} » est un classeur Excel ancien (.xls) : ouvrez-le dans "
            "votre tableur et enregistrez-le au format XLSX (ou CSV), puis "
            "importez ce fichier."
        )
    if suffix in (".ods", ".odt"):
        raise ImportRejected(
            f"« {name} » est un document OpenDocument : enregistrez-le au format "
            "XLSX (ou CSV) depuis votre tableur, puis importez ce fichier."
        )
    if suffix in (".csv", ".txt", ".tsv"):
        if is_zip:
            raise ImportRejected(
                f"« {name} » n'est pas un CSV (c'est une archive, peut-être un "
                "XLSX renommé) : redonnez-lui l'extension .xlsx, ou enregistrez-le "
                "en « CSV UTF-8 » depuis votre tableur."
            )
        return "csv"
    if suffix in (".geojson", ".json"):
        if is_zip:
            raise ImportRejected(
                f"« {name} » n'est pas un GeoJSON (c'est une archive) : "
                "décompressez-le ou donnez le fichier .geojson lui-même."
            )
        return "geojson"
    if suffix == "":
        if is_zip:
            return "xlsx"
        if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
            return "geojson"
        return "csv"
    raise ImportRejected(
        f"Format non reconnu pour « {name} » : CSV, XLSX ou GeoJSON attendu."
    )


# --------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (";", ",", "\t")}
    return max(counts, key=counts.__getitem__) if any(counts.values()) else ";"


def _width(headers: list[str]) -> int:
    """Return the number of columns: up to the last non-empty header."""
    width = len(headers)
    while width and not (headers[width - 1] or "").strip():
        width -= 1
    return width


def _csv_error(name: str, line: int, exc: csv.Error) -> ImportRejected:
    text = str(exc)
    if "unexpected end of data" in text:
        why = (
            "un guillemet (\") ouvert sur cette ligne n'est jamais fermé : toute la "
            "suite du fichier tomberait dans une seule cellule. Fermez-le, ou "
            'doublez-le ("") s\'il fait partie du texte'
        )
    elif "expected after" in text:
        why = (
            "guillemet mal placé : un texte entre guillemets doit être suivi du "
            "séparateur ; à l'intérieur d'un texte, doublez les guillemets (\"\")"
        )
    elif "field larger than field limit" in text:
        why = (
            f"une cellule dépasse {csv.field_size_limit():,} caractères (un "
            "guillemet jamais fermé ?)"
        ).replace(",", " ")
    else:
        why = "CSV illisible à partir de cette ligne"
    return ImportRejected(f"« {name} », ligne {line} : {why}.")


def _check_csv_row(
    table: Table, line: int, cells: list[str], width: int, delimiter: str
) -> bool:
    """Record what is wrong with a CSV row; return True when it is readable."""
    extra = [c for c in cells[width:] if c.strip()]
    if extra:
        sep = "tabulation" if delimiter == "\t" else f"« {delimiter} »"
        table.problem(
            line,
            f"{len(extra)} cellule(s) de trop : la ligne d'en-tête a {width} "
            f"colonne(s). Un texte contenant le séparateur {sep} doit être "
            "entre guillemets.",
            value=extra[0],
        )
        return False
    # A stray quote closed much later makes one cell out of whole lines:
    # lines inside a cell that hold as many separators as a row are rows.
    needed = max(2, width - 1)
    for cell in cells:
        if "\n" in cell and any(
            part.count(delimiter) >= needed for part in cell.split("\n")[1:]
        ):
            table.problem(
                line,
                "une cellule contient des lignes entières du fichier (avec leurs "
                "séparateurs) : un guillemet est sans doute mal fermé sur cette "
                'ligne. Fermez-le, ou doublez-le ("") s\'il fait partie du texte.',
                value=cell.split("\n", 1)[0],
            )
            return False
    return True


def read_csv(
    data: bytes,
    name: str = "fichier.csv",
    sheet: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Table:
    """Read a CSV file into a :class:`Table` (sheet guessed from headers).

    Parameters
    ----------
    data : bytes
        The file.
    name : str
        Its name, for messages.
    sheet : str, optional
        The sheet it holds (guessed from the headers by default).
    limits : Limits
        Rows and columns allowed.

    Returns
    -------
    Table

    Raises
    ------
    ImportRejected
        Empty, undecodable or malformed file.
    """
    text = decode(data, name)
    if not text.strip():
        raise ImportRejected(f"« {name} » est vide.")
    delimiter = _delimiter(text)
    # strict: a quote left open at the end of the file, or followed by
    # something else than a separator, is an error instead of silently
    # swallowing the rest of the file into one cell.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    line = 1
    try:
        headers = next(reader)
        if len(headers) > limits.max_columns:
            raise ImportRejected(
                f"« {name} » a {len(headers)} colonnes : {limits.max_columns} au "
                "plus sont lues. Vérifiez le séparateur et la ligne d'en-tête."
            )
        width = _width(headers)
        table = Table(sheet or guess_sheet(headers), name, headers[:width], [])
        line = reader.line_num + 1
        for cells in reader:
            if any(c.strip() for c in cells):
                if _check_csv_row(table, line, cells, width, delimiter):
                    table.rows.append((line, cells[:width]))
                if len(table.rows) + len(table.problems) > limits.max_rows:
                    raise ImportRejected(
                        f"« {name} » dépasse {limits.max_rows:,} lignes : "
                        "découpez-le.".replace(",", " ")
                    )
            line = reader.line_num + 1
    except StopIteration:
        raise ImportRejected(f"« {name} » est vide.") from None
    except csv.Error as exc:
        raise _csv_error(name, line, exc) from None
    return table


# --------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------

_DTD = (b"<!doctype", b"<!entity")
_XML_ENCODING = re.compile(rb"""encoding\s*=\s*["']([^"']*)["']""")
_CHUNK = _MB


def _scan_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> None:
    """Refuse a part that declares a DTD or an encoding other than UTF-8."""
    refused = ImportRejected(
        f"« {name} » contient une déclaration XML interdite (DOCTYPE ou ENTITY, "
        "possible attaque par entités externes) : refusé. Ouvrez-le dans votre "
        "tableur et enregistrez-le à nouveau au format XLSX."
    )
    tail = b""
    with archive.open(info) as part:
        first = True
        while chunk := part.read(_CHUNK):
            if first:
                first = False
                head = chunk[:200]
                if head.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")):
                    raise refused  # UTF-16 XML would hide a DOCTYPE from the scan
                match = _XML_ENCODING.search(head.split(b"?>", 1)[0])
                if match and match[1].lower() not in (
                    b"utf-8",
                    b"utf8",
                    b"us-ascii",
                    b"ascii",
                ):
                    raise refused
            window = (tail + chunk).lower()
            if any(marker in window for marker in _DTD):
                raise refused
            tail = window[-16:]


def check_archive(data: bytes, name: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Check an XLSX archive before any XML of it is parsed.

    The sizes declared by the archive bound what decompression yields
    (:mod:`zipfile` stops there), so they are checked first: the whole
    content, the compression ratio of each large part, the number of parts.
    Then every part is scanned for a DTD.

    Raises
    ------
    ImportRejected
        Not an archive, decompression bomb, DTD.
    """
    not_xlsx = ImportRejected(
        f"« {name} » n'est pas un fichier XLSX valide : ouvrez-le dans votre "
        "tableur et enregistrez-le au format XLSX."
    )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise not_xlsx from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_parts:
            raise ImportRejected(
                f"« {name} » contient {len(infos)} fichiers internes : ce n'est "
                "pas un classeur ordinaire, refusé."
            )
        total = sum(i.file_size for i in infos)
        if total > limits.max_uncompressed:
            raise ImportRejected(
                f"« {name} » occuperait {_mb(total)} une fois décompressé (limite "
                f"{_mb(limits.max_uncompressed)}) : refusé. Découpez le classeur "
                "ou importez-le en CSV."
            )
        for info in infos:
            if info.file_size > _MB and info.file_size > limits.max_ratio * max(
                info.compress_size, 1
            ):
                raise ImportRejected(
                    f"« {name} » est compressé de façon anormale (une partie "
                    f"grossit {info.file_size // max(info.compress_size, 1)} fois "
                    "à la décompression : bombe de décompression ?) : refusé. "
                    "Enregistrez-le à nouveau depuis votre tableur."
                )
        try:
            for info in infos:
                if not info.is_dir():
                    _scan_part(archive, info, name)
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError):
            raise not_xlsx from None
        except RuntimeError:  # an encrypted part
            raise ImportRejected(
                f"« {name} » est protégé par un mot de passe : enregistrez-en une "
                "copie sans mot de passe, puis importez-la."
            ) from None


#: Stands for a formula cell without a computed value (read with data_only).
_NO_VALUE = object()
_FORMULA_WITHOUT_VALUE = (
    "formule sans valeur calculée : enregistrez le fichier dans un tableur "
    "(qui calcule les formules) ou remplacez la formule par sa valeur"
)


def _sheet_parser():
    # openpyxl's own row parser (3.1, pinned), used directly: it yields the
    # rows present in the XML and nothing else, whereas a read-only
    # worksheet pads every row up to the declared dimension (a 5 Ko file
    # declaring A1:XFD1048576 would cost forty minutes).
    from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

    class Parser(WorkSheetParser):
        def parse_cell(self, element):
            cell = super().parse_cell(element)
            if cell["value"] is None and element.find(FORMULA_TAG) is not None:
                # A text formula may compute "" (<v></v>, type str); a
                # number formula without <v> text was never computed.
                value = element.find(VALUE_TAG)
                if value is None or element.get("t", "n") == "n":
                    cell["value"] = _NO_VALUE
            return cell

    return Parser


def _read_sheet(book, ws, sheet: str, name: str, limits: Limits) -> Table:
    table = Table(sheet, name, [], [])
    with ws._get_source() as source:
        parser = _sheet_parser()(
            source,
            ws._shared_strings,
            data_only=True,
            epoch=book.epoch,
            date_formats=book._date_formats,
            timedelta_formats=book._timedelta_formats,
        )
        _read_rows(parser, table, f"« {name} », feuille {ws.title}", limits)
    return table


def _read_rows(parser, table: Table, where: str, limits: Limits) -> None:
    width = 0
    elements = 0
    for line, cells in parser.parse():
        elements += 1
        if elements > limits.max_row_elements:
            raise ImportRejected(
                f"{where} : plus de {limits.max_row_elements:,} lignes (vides "
                "comprises) : découpez-la.".replace(",", " ")
            )
        filled = [
            c for c in cells if c["value"] is not None and cell_text(c["value"]) != ""
        ]
        if not filled:
            continue
        if not width:  # the first row with a value holds the headers
            width = max(c["column"] for c in filled)
            if width > limits.max_columns:
                raise ImportRejected(
                    f"{where} : la ligne d'en-tête a {width} colonnes, "
                    f"{limits.max_columns} au plus sont lues."
                )
            table.headers = [""] * width
            for c in filled:
                if c["value"] is _NO_VALUE:
                    table.problem(line, _FORMULA_WITHOUT_VALUE)
                else:
                    table.headers[c["column"] - 1] = cell_text(c["value"])
            continue
        texts = [""] * width
        extra = []
        formulas = []
        for c in filled:
            column = c["column"]
            if column > width:
                extra.append(c["value"])
            elif c["value"] is _NO_VALUE:
                formulas.append(column)
            else:
                texts[column - 1] = cell_text(c["value"])
        if extra:
            table.problem(
                line,
                f"{len(extra)} cellule(s) de trop, à droite de la dernière colonne "
                f"de l'en-tête ({width} colonnes) : ajoutez un en-tête à ces "
                "cellules ou effacez-les.",
                value=cell_text(extra[0]) if extra[0] is not _NO_VALUE else None,
            )
        for column in formulas:
            table.problem(
                line, _FORMULA_WITHOUT_VALUE, column=table.headers[column - 1] or None
            )
        if not extra and not formulas:
            table.rows.append((line, texts))
        if len(table.rows) + len(table.problems) > limits.max_rows:
            raise ImportRejected(
                f"{where} : plus de {limits.max_rows:,} lignes : découpez-la.".replace(
                    ",", " "
                )
            )


def read_xlsx(
    data: bytes, name: str = "fichier.xlsx", limits: Limits = DEFAULT_LIMITS
) -> list[Table]:
    """Read the PTCE, Membres and Soutiens sheets of a workbook.

    Parameters
    ----------
    data : bytes
        The workbook.
    name : str
        Its name, for messages.
    limits : Limits
        Sizes allowed (checked before parsing, see :func:`check_archive`).

    Returns
    -------
    list of Table

    Raises
    ------
    ImportRejected
        Not a workbook, bomb, DTD, no known sheet, too many rows.
    """
    if data.startswith(_OLE2):
        raise ImportRejected(
            f"« {name} » est protégé par un mot de passe, ou au format Excel "
            "ancien : enregistrez-en une copie sans mot de passe au format XLSX."
        )
    check_archive(data, name, limits)
    import openpyxl

    damaged = ImportRejected(
        f"« {name} » n'est pas un classeur XLSX lisible (fichier endommagé ?) : "
        "ouvrez-le dans votre tableur et enregistrez-le à nouveau au format XLSX."
    )
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except MemoryError:
        raise
    except Exception:  # openpyxl raises many kinds on damaged files
        raise damaged from None
    tables = []
    wanted = {fold(s): s for s in SHEETS}
    try:
        for ws in book.worksheets:
            sheet = wanted.get(fold(ws.title))
            if sheet is not None and hasattr(ws, "_get_source"):
                tables.append(_read_sheet(book, ws, sheet, name, limits))
    except (ImportRejected, MemoryError):
        raise
    except Exception:  # a damaged sheet (bad shared string index, XML…)
        raise damaged from None
    finally:
        book.close()
    if not tables:
        raise ImportRejected(
            f"« {name} » n'a aucune feuille PTCE, Membres ou Soutiens."
        )
    return tables


# --------------------------------------------------------------------------
# GeoJSON
# --------------------------------------------------------------------------

_SCALARS = (str, int, float, bool, type(None))


def _no_constant(value: str):
    raise ValueError(value)


def _scalar_problem(value) -> str | None:
    if not isinstance(value, _SCALARS):
        return "texte ou nombre attendu (pas une liste ni un objet)"
    if isinstance(value, float) and not math.isfinite(value):
        return "nombre non fini"
    return None


def _point(geometry) -> tuple[tuple[float, float] | None, str | None]:
    """Return the (lon, lat) of a GeoJSON geometry, or why it is refused."""
    if geometry is None:
        return None, None
    if not isinstance(geometry, dict):
        return None, "la géométrie doit être un objet GeoJSON (ou null)"
    kind = geometry.get("type")
    if kind != "Point":
        shown = kind if isinstance(kind, str) else "?"
        return None, (
            f"géométrie « {shown[:40]} » non acceptée : un PTCE est un point "
            '(« "type": "Point" » et ses coordonnées [longitude, latitude])'
        )
    coordinates = geometry.get("coordinates")
    if (
        not isinstance(coordinates, list)
        or not 2 <= len(coordinates) <= 3
        or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in coordinates
        )
        or not all(math.isfinite(x) for x in coordinates)
    ):
        return None, (
            "coordonnées du point attendues comme [longitude, latitude], deux nombres"
        )
    return (float(coordinates[0]), float(coordinates[1])), None


def _features(data: bytes, name: str, limits: Limits) -> list:
    """Return the features of a GeoJSON FeatureCollection, or refuse the file."""
    not_geojson = (
        f"« {name} » n'est pas une FeatureCollection GeoJSON (un objet "
        '{"type": "FeatureCollection", "features": [...]} attendu)'
    )
    text = decode(data, name)
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ImportRejected(
            f"« {name} » est imbriqué trop profondément pour être un GeoJSON de "
            "PTCE : refusé."
        ) from None
    except ValueError:
        raise ImportRejected(
            f"{not_geojson} : ce n'est pas un JSON valide (ou il contient NaN, "
            "Infinity, ou un nombre démesuré)."
        ) from None
    if not isinstance(doc, dict) or "features" not in doc:
        raise ImportRejected(f"{not_geojson}.")
    features = doc["features"]
    if not isinstance(features, list):
        raise ImportRejected(f"{not_geojson} : « features » doit être une liste.")
    if len(features) > limits.max_rows:
        raise ImportRejected(
            f"« {name} » : plus de {limits.max_rows:,} entités : découpez-le.".replace(
                ",", " "
            )
        )
    return features


def _feature_children(
    ptce: Table, i: int, props: dict, names: list[str], child_names: dict
) -> dict[str, list[dict]] | None:
    """Take the ``membres`` and ``soutiens`` out of ``props``; None when refused.

    Every problem of feature ``i`` (a list that is not one of objects, a value
    that is not text or a number) is reported on ``ptce``.
    """
    bad = False
    kids: dict[str, list[dict]] = {}
    for key, sheet in (("membres", "Membres"), ("soutiens", "Soutiens")):
        items = props.pop(key, None) or []
        if not isinstance(items, list) or not all(
            isinstance(item, dict) for item in items
        ):
            ptce.problem(i, "liste d'objets attendue", column=key)
            bad = True
            continue
        kids[sheet] = items
    for key in names:
        why = _scalar_problem(props.get(key))
        if why:
            ptce.problem(i, why, column=key, value=None)
            bad = True
    for sheet, items in kids.items():
        for item in items:
            for key in child_names[sheet]:
                why = _scalar_problem(item.get(key))
                if why:
                    ptce.problem(i, f"{sheet.lower()} : {why}", column=key)
                    bad = True
    return None if bad else kids


def read_geojson(
    data: bytes, name: str = "fichier.geojson", limits: Limits = DEFAULT_LIMITS
) -> list[Table]:
    """Read GeoJSON points: properties are PTCE columns, geometry the position.

    Properties ``membres`` and ``soutiens`` (lists of objects, as exported)
    become rows of the Membres and Soutiens sheets. The line of a problem is
    the number of the feature (from 1).

    Parameters
    ----------
    data : bytes
    name : str
    limits : Limits

    Returns
    -------
    list of Table

    Raises
    ------
    ImportRejected
        Not JSON, not a FeatureCollection, too deep, too many features.
    """
    features = _features(data, name, limits)
    names = [c.name for c in SHEETS["PTCE"]]
    child_names = {s: [c.name for c in SHEETS[s]] for s in ("Membres", "Soutiens")}
    ptce = Table("PTCE", name, names, [])
    children = {s: Table(s, name, child_names[s], []) for s in child_names}
    for i, feature in enumerate(features, start=1):
        if not isinstance(feature, dict):
            ptce.problem(i, "l'entité n'est pas un objet GeoJSON (Feature)")
            continue
        props = feature.get("properties")
        if props is None:
            props = {}
        if not isinstance(props, dict):
            ptce.problem(i, "« properties » doit être un objet", column="properties")
            continue
        props = dict(props)
        point, why = _point(feature.get("geometry"))
        if why:
            ptce.problem(i, why, column="geometry")
            continue
        if point is not None:
            props.setdefault("longitude", point[0])
            props.setdefault("latitude", point[1])
        kids = _feature_children(ptce, i, props, names, child_names)
        if kids is None:
            continue
        ptce_id = cell_text(props.get("identifiant"))
        for sheet, items in kids.items():
            for item in items:
                item = dict(item, identifiant_ptce=ptce_id)
                children[sheet].rows.append(
                    (i, [cell_text(item.get(c)) for c in child_names[sheet]])
                )
        ptce.rows.append((i, [cell_text(props.get(n)) for n in names]))
    for problem in ptce.problems:  # lines of a GeoJSON are its features
        problem.message = f"entité n° {problem.ligne} : {problem.message}"
    return [ptce, *(t for t in children.values() if t.rows)]


# --------------------------------------------------------------------------
# Any file, in a bounded process when it may be costly
# --------------------------------------------------------------------------


def _too_large(data: bytes, name: str, limits: Limits) -> None:
    if len(data) > limits.max_bytes:
        raise ImportRejected(
            f"« {name} » pèse {_mb(len(data))} : la limite est "
            f"{limits.max_bytes // _MB} Mo."
        )


def read_file(data: bytes, name: str, limits: Limits = DEFAULT_LIMITS) -> list[Table]:
    """Read any accepted file, in this process (see :func:`read_bounded`).

    Parameters
    ----------
    data : bytes
    name : str
        The file name: its extension decides the format.
    limits : Limits

    Returns
    -------
    list of Table

    Raises
    ------
    ImportRejected
        When the file is too large, empty, of an unknown format or unreadable.
    """
    _too_large(data, name, limits)
    kind = file_kind(data, name)
    if kind == "xlsx":
        return read_xlsx(data, name, limits)
    if kind == "geojson":
        return read_geojson(data, name, limits)
    return [read_csv(data, name, limits=limits)]


def _table_json(table: Table) -> dict:
    return {
        "sheet": table.sheet,
        "source": table.source,
        "headers": table.headers,
        "rows": table.rows,
        "problems": [asdict(p) for p in table.problems],
        "warnings": table.warnings,
    }


def _table_from_json(doc: dict) -> Table:
    return Table(
        doc["sheet"],
        doc["source"],
        doc["headers"],
        [(line, cells) for line, cells in doc["rows"]],
        [Problem(**p) for p in doc["problems"]],
        doc["warnings"],
    )


def _limit_resources(limits: Limits) -> None:
    import resource

    for kind, soft in (
        (resource.RLIMIT_AS, limits.memory),
        # A backstop should the parent die before killing us.
        (resource.RLIMIT_CPU, int(limits.timeout) + 5),
    ):
        _, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(kind, (soft, hard))


def _serve() -> None:
    """Run in the reading process: header line and file on stdin, JSON out."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    header = json.loads(stdin.readline())
    limits = Limits(**header["limits"])
    name = header["name"]
    _limit_resources(limits)
    try:
        tables = read_file(stdin.read(), name, limits)
        # ASCII JSON: a lone surrogate (from a "\\ud800" in a GeoJSON) travels
        # escaped, and is cleaned by the importer as in the calling process.
        output = json.dumps({"tables": [_table_json(t) for t in tables]}).encode()
    except ImportRejected as exc:
        output = json.dumps({"rejected": str(exc)}).encode()
    except MemoryError:
        output = json.dumps({"rejected": _memory_message(name, limits)}).encode()
    except Exception:  # a reader failure must still end in a French refusal
        output = json.dumps({"rejected": _unreadable_message(name)}).encode()
    stdout.write(output)
    stdout.flush()


def _memory_message(name: str, limits: Limits) -> str:
    return (
        f"« {name} » demanderait plus de {limits.memory // _MB} Mo de mémoire à "
        "lire : refusé. Découpez-le en plusieurs fichiers."
    )


def _unreadable_message(name: str) -> str:
    return (
        f"« {name} » n'a pas pu être lu (fichier endommagé ?) : ouvrez-le dans "
        "votre tableur et enregistrez-le à nouveau."
    )


def _read_in_child(data: bytes, name: str, limits: Limits) -> list[Table]:
    # A new interpreter rather than multiprocessing: it is a direct child
    # (waited for, so its usage is accounted), inherits no thread, lock or
    # database connection of the server, and imports only this module.
    # Starting it costs about 0.3 s, hence only for XLSX and large files.
    code = (
        f"import sys; sys.path.insert(0, {str(_ROOT)!r}); "
        "from lib.io.reading import _serve; _serve()"
    )
    header = json.dumps({"name": name, "limits": asdict(limits)}).encode() + b"\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=_ROOT,
    )
    try:
        out, _ = proc.communicate(header + data, timeout=limits.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise ImportRejected(
            f"« {name} » est trop long à lire (plus de {limits.timeout:g} s) : "
            "refusé. Découpez-le en plusieurs fichiers, ou importez-le en CSV."
        ) from None
    try:
        result = json.loads(out)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        # Killed by its memory limit, or died: nothing readable came back.
        raise ImportRejected(_memory_message(name, limits))
    if "rejected" in result:
        raise ImportRejected(result["rejected"])
    return [_table_from_json(t) for t in result["tables"]]


def read_bounded(
    data: bytes, name: str, limits: Limits = DEFAULT_LIMITS
) -> list[Table]:
    """Read a file at a bounded cost: a separate process when it may be costly.

    An XLSX file (decompression, XML) or any file of at least
    ``limits.in_process`` bytes is read by a new Python process, limited to
    ``limits.timeout`` seconds and ``limits.memory`` bytes, and killed beyond
    them. Smaller CSV and GeoJSON files cost in proportion to their size and
    are read here, without the 0.3 s a process takes to start.

    Parameters
    ----------
    data : bytes
    name : str
    limits : Limits

    Returns
    -------
    list of Table

    Raises
    ------
    ImportRejected
        The file is refused; the message says why and what to do.
    """
    _too_large(data, name, limits)
    kind = file_kind(data, name)
    if (kind == "xlsx" and data.startswith(_ZIP)) or len(data) >= limits.in_process:
        return _read_in_child(data, name, limits)
    return read_file(data, name, limits)
