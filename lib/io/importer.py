"""Import of PTCE from spreadsheets: read, validate row by row, preview, apply.

Accepted files: CSV (``;`` or ``,``; UTF-8 with or without BOM, UTF-16 or
Windows-1252, detected), XLSX (sheets ``PTCE``, ``Membres``, ``Soutiens``)
and GeoJSON points; reading them, at a bounded cost, is :mod:`lib.io.reading`'s
part. Every problem is reported with its file, sheet, line, column, value and
a French explanation; a file with any error applies nothing. A valid import
is previewed (created / updated / unchanged) and applied in one transaction;
importing the same content again changes nothing. A row without identifiant
creates a PTCE: it never changes an existing one found by its name.
"""

# size: row-by-row validation of the three sheets against the COG reference
# (_Places), then the plan and its one-transaction apply; each French message
# is spelt out where its check is. 47 functions, the longest 61 lines.

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from geo.lookup import search
from geo.reference import Reference, load_reference, normalise_code
from lib.domain.model import (
    CATEGORIES_MEMBRE,
    CHAMPS_DEDUITS,
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
from lib.domain.soutiens import code_type, libelle
from lib.fr import plural, sorted_fr
from lib.io.columns import LIST_SEP, SHEETS, match_columns
from lib.io.reading import (
    DEFAULT_LIMITS,
    ImportRejected,
    Limits,
    Table,
    cell_text,
    decode,
    read_bounded,
    read_csv,
    read_file,
    read_geojson,
    read_xlsx,
)
from lib.store.ptce import Store

__all__ = [
    "FORMULA_PREFIXES",
    "MAX_BYTES",
    "MAX_ROWS",
    "MAX_XLSX_UNCOMPRESSED",
    "ImportRejected",
    "Plan",
    "Table",
    "apply_plan",
    "cell_text",
    "decode",
    "import_files",
    "plan_import",
    "read_csv",
    "read_file",
    "read_geojson",
    "read_xlsx",
    "unprotect",
]

#: Largest file accepted (bytes), and most data rows per file.
MAX_BYTES = DEFAULT_LIMITS.max_bytes
MAX_ROWS = DEFAULT_LIMITS.max_rows
#: Largest uncompressed content of an XLSX archive (zip bombs are refused).
MAX_XLSX_UNCOMPRESSED = DEFAULT_LIMITS.max_uncompressed
#: A leading apostrophe protects a cell starting with these from spreadsheets;
#: exports add it, imports remove it (see lib.io.exporter).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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


def _limits() -> Limits:
    # Read at call time, so that MAX_BYTES and MAX_ROWS stay the settings.
    return replace(
        DEFAULT_LIMITS,
        max_bytes=MAX_BYTES,
        max_rows=MAX_ROWS,
        max_uncompressed=MAX_XLSX_UNCOMPRESSED,
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


#: Where French territory lies, as (west, south, east, north) boxes in degrees
#: WGS84, by département (``metro``: all of mainland France and Corsica),
#: each a few kilometres wider than the land it holds.
_BOXES: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    "metro": ((-5.3, 41.3, 9.7, 51.2),),
    "971": ((-61.9, 15.8, -60.95, 16.55),),  # Guadeloupe
    "972": ((-61.3, 14.35, -60.75, 14.9),),  # Martinique
    "973": ((-54.7, 2.05, -51.5, 5.9),),  # Guyane
    "974": ((55.15, -21.45, 55.9, -20.8),),  # La Réunion
    "975": ((-56.5, 46.7, -56.1, 47.2),),  # Saint-Pierre-et-Miquelon
    "976": ((44.95, -13.05, 45.35, -12.6),),  # Mayotte
    "977": ((-62.95, 17.85, -62.75, 17.98),),  # Saint-Barthélemy
    "978": ((-63.2, 18.0, -62.95, 18.15),),  # Saint-Martin
    "984": (  # TAAF: Kerguelen, Crozet, Amsterdam, îles Éparses, Terre Adélie
        (68.4, -50.1, 70.7, -48.4),
        (50.0, -46.6, 52.4, -45.9),
        (77.4, -38.8, 77.7, -37.7),
        (39.6, -22.5, 54.6, -11.4),
        (135.0, -90.0, 142.0, -66.0),
    ),
    "986": ((-178.3, -14.5, -176.0, -13.1),),  # Wallis-et-Futuna
    "987": ((-155.0, -28.0, -134.0, -7.5),),  # Polynésie française
    "988": ((158.0, -23.0, 172.5, -17.5),),  # Nouvelle-Calédonie
    "989": ((-109.3, 10.2, -109.1, 10.4),),  # Clipperton
}
#: Farthest a PTCE may lie from its commune's representative point (km).
#: That point lies inside the commune, and the largest mainland commune
#: (Arles, 759 km²) is about 45 km across: beyond 50 km the point is outside
#: the commune named. Guyane's communes are far larger (Maripasoula: 18,000
#: km²); overseas collectivities' communes span archipelagos (not checked).
_MAX_KM = {"973": 250.0}
_DEFAULT_MAX_KM = 50.0
_DISTANCE_CHECKED = {"metro", "971", "972", "973", "974", "976"}


def _inside(boxes, lon: float, lat: float) -> bool:
    return any(w <= lon <= e and s <= lat <= n for w, s, e, n in boxes)


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def _degrees(value: float) -> str:
    return f"{value:.5f}".rstrip("0").rstrip(".").replace(".", ",")


class _Places:
    """Resolves the places named in a file through the COG reference."""

    def __init__(self, ref: Reference):
        self.ref = ref
        self._points: dict[str, tuple[float, float]] | None = None
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

    def _zone(self, departement: str | None) -> str | None:
        area = self.ref.departements.get(departement or "")
        if area is None:
            return None
        return "metro" if area.zone == "metro" else area.code

    def _zone_name(self, zone: str) -> str:
        if zone == "metro":
            return "France métropolitaine"
        return self.ref.departements[zone].nom

    def _zone_of(self, lon: float, lat: float) -> str | None:
        return next(
            (z for z, boxes in _BOXES.items() if _inside(boxes, lon, lat)), None
        )

    def commune_point(self, code: str) -> tuple[float, float] | None:
        """Return the representative point of a commune (None without cache)."""
        if self._points is None:
            from geo.boundaries import CacheMissing
            from geo.lookup import commune_points

            try:
                self._points = commune_points()
            except (CacheMissing, OSError):
                self._points = {}  # the boundary cache is not built: no check
        return self._points.get(code)

    def check_point(
        self,
        lon: float,
        lat: float,
        commune: str | None,
        departement: str | None,
    ) -> str | None:
        """Return why a PTCE's position is implausible, or None."""
        zone = self._zone(departement)
        found = self._zone_of(lon, lat)
        if found is None:
            swapped = self._zone_of(lat, lon)
            if swapped is not None and swapped == (zone or swapped):
                return (
                    f"latitude et longitude semblent inversées : le point (latitude "
                    f"{_degrees(lat)}, longitude {_degrees(lon)}) est hors de "
                    f"France, inversé il tombe en {self._zone_name(swapped)}. "
                    "Échangez les deux valeurs (en GeoJSON, l'ordre est "
                    "[longitude, latitude])"
                )
            return (
                f"le point (latitude {_degrees(lat)}, longitude {_degrees(lon)}) "
                "est hors de France (métropole et outre-mer) : vérifiez les "
                "coordonnées, en degrés décimaux WGS84"
            )
        if zone is not None and found != zone:
            return (
                f"le point (latitude {_degrees(lat)}, longitude {_degrees(lon)}) "
                f"est en {self._zone_name(found)}, pas en "
                f"{self._zone_name(zone)} où se trouve le PTCE : vérifiez les "
                "coordonnées, la commune ou le département"
            )
        if commune is None or zone not in _DISTANCE_CHECKED:
            return None
        point = self.commune_point(commune)
        if point is None:
            return None
        distance = _km((lon, lat), point)
        if distance > _MAX_KM.get(zone or "", _DEFAULT_MAX_KM):
            info = self.ref.communes[commune]
            return (
                f"le point (latitude {_degrees(lat)}, longitude {_degrees(lon)}) "
                f"est à {distance:.0f} km de {info.nom} ({commune}), la commune "
                "indiquée : vérifiez les coordonnées ou la commune"
            )
        return None

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


#: Characters removed from every cell: control characters (tab and line
#: breaks are kept), which no one types, spreadsheets cannot hold (an XLSX
#: export would fail) and screens do not show; and lone surrogates (from a
#: JSON "\ud800"), which cannot be stored.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _as_dict(
    matched: dict[int, str], cells: list[str], cleaned: list[str] | None = None
) -> dict[str, str]:
    values = {}
    for i, name in matched.items():
        value = cells[i] if i < len(cells) else ""
        if _CONTROL.search(value):
            value = _CONTROL.sub("", value)
            if cleaned is not None and name not in cleaned:
                cleaned.append(name)
        values[name] = value
    return values


def _cleaned_warning(table: Table, lines: dict[int, list[str]]) -> str:
    numbers = sorted(lines)
    shown = ", ".join(str(n) for n in numbers[:10])
    if len(numbers) > 10:
        more = len(numbers) - 10
        shown += f" et {more} {plural(more, 'autre')}"
    columns = sorted_fr({c for cols in lines.values() for c in cols})
    return (
        f"{table.source} / {table.sheet} : caractères de contrôle (invisibles) "
        f"retirés, {plural(len(numbers), 'ligne')} {shown}, "
        f"{plural(len(columns), 'colonne')} {', '.join(columns)}"
    )


def _place(
    err: _RowErrors, row: dict[str, str], places: _Places
) -> tuple[str | None, str | None, str | None]:
    """Commune, département and région of a PTCE row, checked against each other."""
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
    return commune, departement, region


def _territoire(err: _RowErrors, row: dict[str, str], places: _Places) -> list[str]:
    """Communes (INSEE codes) and EPCI (SIREN) of the column ``territoire``."""
    territoire: list[str] = []
    for item in _split(row.get("territoire", "")):
        if re.fullmatch(r"\d[0-9ABab]\d{2,3}", item):
            code, why = places.commune(item)
        else:
            code, why = places.epci(item)
        if why:
            err.add("territoire", item, why)
        elif code is not None and code not in territoire:
            territoire.append(code)
    return territoire


def _filieres(err: _RowErrors, row: dict[str, str]) -> list[str]:
    """Filières of the column ``filieres``, each from the list."""
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
    return filieres


def _ami(err: _RowErrors, row: dict[str, str]) -> list[Ami]:
    """Read the calls of the column ``ami`` (« 2021 : financé »…)."""
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
    return ami


def _position(
    err: _RowErrors,
    row: dict[str, str],
    places: _Places,
    commune: str | None,
    departement: str | None,
) -> tuple[float | None, float | None]:
    """Latitude and longitude, both or neither, inside the place given."""
    latitude = _float(err, "latitude", row.get("latitude", ""), -90, 90)
    longitude = _float(err, "longitude", row.get("longitude", ""), -180, 180)
    if (latitude is None) != (longitude is None):
        err.add("latitude", row.get("latitude"), "latitude et longitude vont ensemble")
    elif latitude is not None and longitude is not None:
        why = places.check_point(longitude, latitude, commune, departement)
        if why:
            err.add("latitude", f"{row.get('latitude')} ; {row.get('longitude')}", why)
    return latitude, longitude


def _ptce_from_row(
    err: _RowErrors, row: dict[str, str], places: _Places
) -> Ptce | None:
    nom = _text(row.get("nom", ""))
    if nom is None:
        err.add("nom", row.get("nom"), "le nom du PTCE est obligatoire")
    commune, departement, region = _place(err, row, places)
    territoire = _territoire(err, row, places)
    filieres = _filieres(err, row)
    ami = _ami(err, row)
    latitude, longitude = _position(err, row, places, commune, departement)
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
        deductions=_deductions(err, row.get("deductions", "")),
        meme_pole_que=tuple(dict.fromkeys(_split(row.get("meme_pole_que", "")))),
    )
    return None if err.failed else record


#: Field of a deduction, by its code or its French name (folded).
_CHAMPS = {
    **{fold(code): code for code in CHAMPS_DEDUITS},
    **{fold(name): code for code, name in CHAMPS_DEDUITS.items()},
}


def _deductions(err: _RowErrors, value: str) -> dict[str, str]:
    """Parse « champ : raisonnement | … » (column ``deductions``)."""
    found: dict[str, str] = {}
    for part in _split(value):
        champ, sep, why = part.partition(":")
        code = _CHAMPS.get(fold(champ))
        if not sep or code is None or not why.strip():
            err.add(
                "deductions",
                part,
                "forme attendue : « champ : raisonnement » ; champs : "
                + ", ".join(CHAMPS_DEDUITS.values()),
            )
            continue
        found[code] = why.strip()
    return found


def _membre_from_row(err: _RowErrors, row: dict[str, str]) -> Membre | None:
    nom = _text(row.get("nom", ""))
    if nom is None:
        err.add("nom", row.get("nom"), "le nom de la structure est obligatoire")
    categorie = _label(err, "categorie", row.get("categorie", ""), CATEGORIES_MEMBRE)
    role = _label(err, "role", row.get("role", ""), ROLES_MEMBRE) or "membre"
    if err.failed or nom is None:
        return None
    return Membre(nom, categorie, role)


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
    type_text = _text(row.get("type_soutien", ""))
    type_ = code_type(type_text) if type_text else None
    if type_text is None:
        err.add("type_soutien", "", "type de soutien obligatoire")
    elif type_ is None:
        err.add(
            "type_soutien",
            type_text,
            "valeur inconnue ; valeurs possibles : "
            + ", ".join(libelle(t) for t in TYPES_SOUTIEN),
        )
    debut = _int(err, "annee_debut", row.get("annee_debut", ""), 1900, 2100)
    fin = _int(err, "annee_fin", row.get("annee_fin", ""), 1900, 2100)
    if debut and fin and fin < debut:
        err.add("annee_fin", row.get("annee_fin"), "antérieure à l'année de début")
    montant = _float(err, "montant", row.get("montant", ""), 0, 1e12)
    label = _text(row.get("source", ""))
    url = _url(err, "source_url", row.get("source_url", ""))
    shown = label or url
    source = Source(shown, url) if shown else None
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
        deduit=_text(row.get("deduit", "")),
    )
    return None if err.failed else result


# --------------------------------------------------------------------------
# Planning and applying
# --------------------------------------------------------------------------


#: Certainty columns by sheet (see :func:`_keep_marks`).
_MARKS = {"PTCE": ("deductions", "meme_pole_que"), "Soutiens": ("deduit",)}


def _keep_marks(record: Ptce, stored: Ptce, without: set[str]) -> Ptce:
    """Keep the stored « déduit » marks that the file has no column for.

    A file exported before these columns existed must not turn an inferred
    value into one that reads as sourced: a mark is only removed by a file
    that has the column and leaves the cell empty.
    """
    changes: dict = {}
    if "deductions" in without:
        changes["deductions"] = dict(stored.deductions)
    if "meme_pole_que" in without:
        changes["meme_pole_que"] = stored.meme_pole_que
    if "deduit" in without:
        known = {replace(s, deduit=None): s.deduit for s in stored.soutiens}
        changes["soutiens"] = tuple(
            replace(s, deduit=known.get(replace(s, deduit=None)))
            for s in record.soutiens
        )
    return replace(record, **changes) if changes else record


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


@dataclass
class _Rows:
    """What the rows of the tables give, before identifiers are settled."""

    #: PTCE rows that passed their checks, with their line's errors.
    ptce: list[tuple[_RowErrors, Ptce]] = field(default_factory=list)
    membres: dict[str, list[Membre]] = field(default_factory=dict)
    soutiens: dict[str, list[Soutien]] = field(default_factory=dict)
    #: Lines of the Membres and Soutiens rows, per PTCE identifier.
    child_lines: dict[str, list[tuple[_RowErrors, str]]] = field(default_factory=dict)
    #: Certainty columns a file leaves out (older exports): stored marks stay.
    without_marks: set[str] = field(default_factory=set)


def _read_table(table: Table, places: _Places, plan: Plan, rows: _Rows) -> None:
    """Check the rows of one table into ``rows``; problems go to ``plan``."""
    matched, unknown = _cells(table)
    if unknown:
        plan.warnings.append(
            f"{table.source} / {table.sheet} : colonnes ignorées : "
            + ", ".join(unknown)
        )
    plan.warnings.extend(table.warnings)
    # Rows the reader could not read are reported as such, not validated.
    plan.problems.extend(table.problems)
    if _missing_columns(table, matched, plan.problems):
        return
    for column in _MARKS.get(table.sheet, ()):
        if column not in matched.values():
            rows.without_marks.add(column)
    cleaned: dict[int, list[str]] = {}
    unnamed = [i for i, h in enumerate(table.headers) if not (h or "").strip()]
    for line, cells in table.rows:
        columns: list[str] = []
        row = _as_dict(matched, cells, columns)
        if columns:
            cleaned[line] = columns
        err = _RowErrors(table, line, plan.problems)
        lost = [i for i in unnamed if i < len(cells) and cells[i].strip()]
        if lost:
            # A value under an empty header would be dropped silently.
            err.add(
                f"n° {lost[0] + 1}",
                cells[lost[0]],
                "valeur dans une colonne sans en-tête : donnez un nom à "
                "cette colonne (ou effacez la valeur)",
            )
            continue
        if table.sheet == "PTCE":
            record = _ptce_from_row(err, row, places)
            if record is not None:
                rows.ptce.append((err, record))
            continue
        pid = _text(row.get("identifiant_ptce", ""))
        if pid is None:
            err.add("identifiant_ptce", "", "identifiant du PTCE obligatoire")
        item: Membre | Soutien | None
        if table.sheet == "Membres":
            item = _membre_from_row(err, row)
        else:
            item = _soutien_from_row(err, row, places)
        if item is not None and pid:
            if isinstance(item, Membre):
                rows.membres.setdefault(pid, []).append(item)
            else:
                rows.soutiens.setdefault(pid, []).append(item)
            rows.child_lines.setdefault(pid, []).append((err, table.sheet))
    if cleaned:
        plan.warnings.append(_cleaned_warning(table, cleaned))


def _assign_ids(
    new_rows: list[tuple[_RowErrors, Ptce]], existing: dict[str, Ptce]
) -> tuple[dict[str, Ptce], dict[str, _RowErrors]]:
    """Give each PTCE row its identifier, and report duplicates.

    A row keeps its own identifier, or takes that of a stored PTCE of the
    same name and département, or gets a new one made from its name.

    Returns the records by identifier, and the rows matched to a stored PTCE
    by name only (they may only repeat it unchanged, see :func:`plan_import`).
    """
    by_name: dict[tuple[str, str | None], str] = {}
    for p in existing.values():
        by_name.setdefault((fold(p.nom), p.departement), p.id)
    seen: dict[str, int] = {}
    records: dict[str, Ptce] = {}
    # Rows without identifiant named like a stored PTCE: they may only
    # repeat it unchanged (re-importing a file), never modify it.
    named: dict[str, _RowErrors] = {}
    used = set(existing)
    for err, record in new_rows:
        pid: str | None = record.id
        if not pid:
            pid = by_name.get((fold(record.nom), record.departement))
            if pid and pid not in seen:
                named[pid] = err
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
    return records, named


def _sort_records(
    plan: Plan,
    rows: _Rows,
    records: dict[str, Ptce],
    existing: dict[str, Ptce],
    named: dict[str, _RowErrors],
    has_sheet: set[str],
) -> None:
    """Compare each PTCE of the import with the store: created, updated, unchanged."""
    for pid in sorted(set(records) | set(rows.membres) | set(rows.soutiens)):
        stored = existing.get(pid)
        current = records.get(pid) or stored
        # Children of an unknown PTCE were reported above: every pid is known.
        assert current is not None
        record = replace(
            current,
            membres=(
                tuple(rows.membres.get(pid, ()))
                if "Membres" in has_sheet
                else (stored.membres if stored else ())
            ),
            soutiens=(
                tuple(rows.soutiens.get(pid, ()))
                if "Soutiens" in has_sheet
                else (stored.soutiens if stored else ())
            ),
            version=stored.version if stored else 0,
        )
        if stored is not None:
            record = _keep_marks(record, stored, rows.without_marks)
        if stored is None:
            plan.created.append(record)
        elif stored.content() == record.content():
            plan.unchanged.append(stored)
        elif pid in named:
            named[pid].add(
                "identifiant",
                "",
                f"un PTCE du même nom existe déjà (identifiant « {pid} ») : "
                "indiquez son identifiant pour le modifier, ou un autre nom pour "
                "en créer un nouveau",
            )
        else:
            plan.updated.append(record)


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
    has_sheet = {t.sheet for t in tables}
    rows = _Rows()
    for table in tables:
        _read_table(table, places, plan, rows)

    existing = {p.id: p for p in store.load()}
    records, named = _assign_ids(rows.ptce, existing)

    for pid, lines in rows.child_lines.items():
        if pid not in records and pid not in existing:
            for err, _sheet in lines:
                err.add(
                    "identifiant_ptce",
                    pid,
                    "aucun PTCE avec cet identifiant (ni dans le fichier, ni en base)",
                )
    if plan.problems:
        return plan

    _sort_records(plan, rows, records, existing, named, has_sheet)
    if plan.problems:
        return Plan(problems=plan.problems, warnings=plan.warnings)
    return plan


def apply_plan(plan: Plan, store: Store, who: str) -> None:
    """Write a valid plan in one transaction (all or nothing).

    Raises
    ------
    ValueError
        When the plan has problems.
    lib.store.ptce.ConflictError
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
    limits = _limits()
    for name, data in files:
        try:
            read = read_bounded(data, name, limits)
        except ImportRejected as exc:
            plan.problems.append(Problem(message=str(exc), feuille=name))
            continue
        if not any(t.rows or t.problems for t in read):
            plan.problems.append(
                Problem(
                    message=f"« {name} » ne contient aucune ligne de données "
                    "(seulement la ligne d'en-tête) : rien à importer.",
                    feuille=name,
                )
            )
        tables.extend(read)
    if plan.problems:
        return plan
    plan = plan_import(tables, store)
    if plan.ok and not dry_run:
        apply_plan(plan, store, who)
    return plan
