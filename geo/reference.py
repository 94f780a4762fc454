"""COG 2026 reference: extraction from the npm package and loading.

The reference comes from the npm package ``@etalab/decoupage-administratif``
(version 6.0.0, COG 2026, Licence Ouverte). :func:`extract` turns the
package's JSON files into a compact set of CSV files committed under
``data/reference/``; :func:`load_reference` reads them back.

The extract holds, for each level:

``communes.csv``
    current communes: code, nom, departement, region, epci (SIREN of the EPCI
    à fiscalité propre, empty for the few communes outside any EPCI), zone
    (metro, drom, com), population, codes_postaux and anciens_codes
    (space-separated lists). EPCI membership lives here only: each current
    commune belongs to at most one EPCI, so the member list of an EPCI is the
    set of communes carrying its SIREN.
``communes_rattachees.csv``
    delegated and associated communes and municipal arrondissements (Paris,
    Lyon, Marseille), each with the current commune it belongs to.
``epci.csv``
    code (SIREN), nom, type (CC, CA, CU, METRO, MET69), population.
``departements.csv`` and ``regions.csv``
    code, nom, chef-lieu, zone (and the région of each département).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import json
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE = "@etalab/decoupage-administratif"
VERSION = "6.0.0"
REFERENCE_DIR = Path(__file__).resolve().parent.parent / "data" / "reference"

EPCI_KINDS = {
    "CC": "Communauté de communes",
    "CA": "Communauté d'agglomération",
    "CU": "Communauté urbaine",
    "METRO": "Métropole",
    "MET69": "Métropole de Lyon",
}

_FILES = {
    "communes": [
        "code",
        "nom",
        "departement",
        "region",
        "epci",
        "zone",
        "population",
        "codes_postaux",
        "anciens_codes",
    ],
    "communes_rattachees": ["code", "nom", "type", "commune"],
    "epci": ["code", "nom", "type", "population"],
    "departements": ["code", "nom", "region", "chef_lieu", "zone"],
    "regions": ["code", "nom", "chef_lieu", "zone"],
}


@dataclass(frozen=True)
class Commune:
    """A current commune of the COG."""

    code: str
    nom: str
    departement: str
    region: str
    epci: str | None
    zone: str
    population: int | None
    codes_postaux: tuple[str, ...]
    anciens_codes: tuple[str, ...]


@dataclass(frozen=True)
class Epci:
    """An EPCI à fiscalité propre (CC, CA, CU or métropole)."""

    code: str
    nom: str
    type: str
    population: int | None
    membres: tuple[str, ...] = ()

    @property
    def type_label(self) -> str:
        """French label of the EPCI kind, e.g. "Communauté de communes"."""
        return EPCI_KINDS.get(self.type, self.type)


@dataclass(frozen=True)
class Area:
    """A département or a région."""

    code: str
    nom: str
    chef_lieu: str
    zone: str
    region: str | None = None


@dataclass(frozen=True)
class Rattachee:
    """A delegated/associated commune or a municipal arrondissement."""

    code: str
    nom: str
    type: str
    commune: str


@dataclass(eq=False)  # hashed by identity: indexes are cached per instance
class Reference:
    """The whole COG reference, indexed by code.

    Attributes
    ----------
    communes, epci, departements, regions : dict
        Records keyed by their code (SIREN for EPCI).
    rattachees : dict
        Delegated/associated communes and municipal arrondissements by code,
        for codes that are not also a current commune's.
    rattachees_all : tuple
        All of them, including delegated communes that share their code with
        today's commune (their names still lead to it).
    former : dict
        Former commune code (``anciensCodes``) to today's commune code.
    """

    communes: dict[str, Commune]
    epci: dict[str, Epci]
    departements: dict[str, Area]
    regions: dict[str, Area]
    rattachees: dict[str, Rattachee]
    rattachees_all: tuple[Rattachee, ...] = ()
    former: dict[str, str] = field(default_factory=dict)

    def current_code(self, code: str) -> str | None:
        """Return today's commune code for a current or former INSEE code.

        Parameters
        ----------
        code : str
            An INSEE commune code: current, former (merged since), delegated
            or associated commune, or municipal arrondissement.

        Returns
        -------
        str or None
            The code of the current commune, or None when the code is unknown.
        """
        code = normalise_code(code)
        if code in self.communes:
            return code
        if code in self.former:
            return self.former[code]
        if code in self.rattachees:
            return self.rattachees[code].commune
        return None

    def level(self, level: str) -> dict:
        """Return the records of a level of collectivité, keyed by code.

        Parameters
        ----------
        level : {"region", "departement", "epci", "commune"}
            The level.

        Returns
        -------
        dict
            Régions, départements, EPCI (by SIREN) or current communes; an
            empty dict for an unknown level.
        """
        levels: dict[str, dict] = {
            "region": self.regions,
            "departement": self.departements,
            "epci": self.epci,
            "commune": self.communes,
        }
        return levels.get(level, {})


def normalise_code(code: str) -> str:
    """Normalise a user-typed INSEE code (spaces, lower-case Corsica, 4 digits).

    Parameters
    ----------
    code : str
        The code as typed: ``" 2a004"``, ``"1001"`` (spreadsheets drop the
        leading zero), ``"44003"``.

    Returns
    -------
    str
        The code in canonical form (``"2A004"``, ``"01001"``).
    """
    code = str(code).strip().upper()
    if len(code) == 4 and code.isdigit():
        code = "0" + code
    return code


# --------------------------------------------------------------------------
# Extraction from the npm package
# --------------------------------------------------------------------------


def fetch_package(dest: Path) -> Path:
    """Download the npm tarball of the package with ``npm pack``.

    Parameters
    ----------
    dest : Path
        Folder where the tarball is written.

    Returns
    -------
    Path
        Path of the ``.tgz`` file.
    """
    out = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"],
        cwd=dest,
        check=True,
        capture_output=True,
        text=True,
    )
    return dest / out.stdout.strip().splitlines()[-1]


def _load_member(tar: tarfile.TarFile, name: str) -> Any:
    member = tar.extractfile(name)
    if member is None:
        raise ValueError(f"{name} n'est pas un fichier dans l'archive")
    return json.load(member)


def _read_package_json(tarball: Path) -> dict[str, list[dict]]:
    with tarfile.open(tarball, "r:gz") as tar:
        meta = _load_member(tar, "package/package.json")
        if meta["version"] != VERSION:
            raise ValueError(
                f"{tarball} contient la version {meta['version']}, {VERSION} attendue"
            )
        return {
            name: _load_member(tar, f"package/data/{name}.json")
            for name in ("communes", "epci", "departements", "regions")
        }


def _rows_from_package(data: dict[str, list[dict]]) -> dict[str, list[list]]:
    epci_of = {m["code"]: e["code"] for e in data["epci"] for m in e["membres"]}
    communes, rattachees = [], []
    for c in data["communes"]:
        if c["type"] == "commune-actuelle":
            communes.append(
                [
                    c["code"],
                    c["nom"],
                    c["departement"],
                    c["region"],
                    epci_of.get(c["code"], ""),
                    c["zone"],
                    c.get("population", ""),
                    " ".join(c.get("codesPostaux", [])),
                    " ".join(c.get("anciensCodes", [])),
                ]
            )
        else:
            parent = c.get("commune") or c.get("chefLieu")
            rattachees.append([c["code"], c["nom"], c["type"], parent])
    epci = [
        [e["code"], e["nom"], e["type"], e.get("populationMunicipale", "")]
        for e in data["epci"]
    ]
    departements = [
        [d["code"], d["nom"], d["region"], d["chefLieu"], d["zone"]]
        for d in data["departements"]
    ]
    regions = [[r["code"], r["nom"], r["chefLieu"], r["zone"]] for r in data["regions"]]
    return {
        "communes": sorted(communes),
        "communes_rattachees": sorted(rattachees),
        "epci": sorted(epci),
        "departements": sorted(departements),
        "regions": sorted(regions),
    }


def extract(tarball: Path | None = None, out_dir: Path = REFERENCE_DIR) -> Path:
    """Write the compact reference extract from the package tarball.

    Parameters
    ----------
    tarball : Path, optional
        The npm tarball ``etalab-decoupage-administratif-6.0.0.tgz``; fetched
        with ``npm pack`` when omitted.
    out_dir : Path
        Destination folder (``data/reference/`` by default).

    Returns
    -------
    Path
        The destination folder.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if tarball is None:
            tarball = fetch_package(Path(tmp))
        digest = hashlib.sha256(Path(tarball).read_bytes()).hexdigest()
        rows = _rows_from_package(_read_package_json(Path(tarball)))
    for name, header in _FILES.items():
        with open(out_dir / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows[name])
    (out_dir / "SOURCE.md").write_text(
        _source_text(digest, {k: len(v) for k, v in rows.items()}),
        encoding="utf-8",
    )
    load_reference.cache_clear()
    return out_dir


def _source_text(digest: str, counts: dict[str, int]) -> str:
    lines = "\n".join(f"| `{name}.csv` | {n} |" for name, n in counts.items())
    return f"""# Source of the reference extract

- Package: `{PACKAGE}@{VERSION}` (npm registry), data files `data/*.json`
- Content: Code officiel géographique (COG) 2026 of INSEE, EPCI à fiscalité
  propre 2026 of the DGCL, populations légales, La Poste postal codes
- Licence of the data: Licence Ouverte / Open Licence (Etalab); code of the
  package: MIT
- Tarball sha256: `{digest}`
- Extracted on: {dt.date.today().isoformat()}

Regenerate (needs `npm`):

    python -m geo reference            # runs npm pack {PACKAGE}@{VERSION}
    python -m geo reference --tarball etalab-decoupage-administratif-{VERSION}.tgz

| file | rows |
| --- | --- |
{lines}
"""


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


def _read_csv(name: str, ref_dir: Path) -> Iterable[dict[str, str]]:
    with open(ref_dir / f"{name}.csv", newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


def _int_or_none(value: str) -> int | None:
    return int(value) if value else None


@functools.lru_cache(maxsize=4)
def load_reference(ref_dir: Path = REFERENCE_DIR) -> Reference:
    """Load the committed COG reference extract (cached per process).

    Parameters
    ----------
    ref_dir : Path
        Folder holding the CSV extract.

    Returns
    -------
    Reference
        Communes, EPCI, départements and régions indexed by code.
    """
    communes = {
        r["code"]: Commune(
            code=r["code"],
            nom=r["nom"],
            departement=r["departement"],
            region=r["region"],
            epci=r["epci"] or None,
            zone=r["zone"],
            population=_int_or_none(r["population"]),
            codes_postaux=tuple(r["codes_postaux"].split()),
            anciens_codes=tuple(r["anciens_codes"].split()),
        )
        for r in _read_csv("communes", ref_dir)
    }
    members: dict[str, list[str]] = {}
    for c in communes.values():
        if c.epci:
            members.setdefault(c.epci, []).append(c.code)
    epci = {
        r["code"]: Epci(
            code=r["code"],
            nom=r["nom"],
            type=r["type"],
            population=_int_or_none(r["population"]),
            membres=tuple(members.get(r["code"], ())),
        )
        for r in _read_csv("epci", ref_dir)
    }
    departements = {
        r["code"]: Area(r["code"], r["nom"], r["chef_lieu"], r["zone"], r["region"])
        for r in _read_csv("departements", ref_dir)
    }
    regions = {
        r["code"]: Area(r["code"], r["nom"], r["chef_lieu"], r["zone"])
        for r in _read_csv("regions", ref_dir)
    }
    rattachees_all = tuple(
        Rattachee(r["code"], r["nom"], r["type"], r["commune"])
        for r in _read_csv("communes_rattachees", ref_dir)
    )
    rattachees = {r.code: r for r in rattachees_all if r.code not in communes}
    former = {old: c.code for c in communes.values() for old in c.anciens_codes}
    return Reference(
        communes, epci, departements, regions, rattachees, rattachees_all, former
    )


def reference_fingerprint(ref_dir: Path = REFERENCE_DIR) -> str:
    """Return a short hash of the extract files (part of the build cache key)."""
    h = hashlib.sha256()
    for name in _FILES:
        h.update((ref_dir / f"{name}.csv").read_bytes())
    return h.hexdigest()[:16]
