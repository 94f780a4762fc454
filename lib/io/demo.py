"""Demo dataset: sourced PTCE and national figures, labelled as demonstration.

The file ``data/demo/ptce-demo.json`` holds only facts taken from public
sources (each PTCE lists its sources, each support has its own); unknown
fields are left empty. Loading it never overwrites what users entered: a demo
PTCE whose identifier is already stored is skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

from lib.domain.model import Fait, Ptce, Source, from_dict
from lib.store.ptce import Store

DEMO_FILE = Path(__file__).resolve().parents[2] / "data" / "demo" / "ptce-demo.json"
DEMO_ORIGINE = "démonstration"


def load_demo_file(path: Path | str = DEMO_FILE) -> tuple[list[Ptce], list[Fait]]:
    """Read the demo dataset.

    Parameters
    ----------
    path : Path or str, optional
        The JSON file; :data:`DEMO_FILE` by default.

    Returns
    -------
    tuple of (list of Ptce, list of Fait)
        The demo PTCE aggregates (version 0, origin "démonstration") and the
        sourced figures, in file order.

    Raises
    ------
    ValueError
        When a record is not marked as demonstration data or an identifier
        is repeated (message in French).
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    records: list[Ptce] = []
    seen: set[str] = set()
    for item in data.get("ptce", []):
        record = from_dict({**item, "version": 0})
        if record.origine != DEMO_ORIGINE:
            raise ValueError(
                f"Le PTCE « {record.nom} » du fichier de démonstration n'a pas "
                f"l'origine « {DEMO_ORIGINE} »."
            )
        if record.id in seen:
            raise ValueError(
                f"Identifiant en double dans le fichier de démonstration : "
                f"« {record.id} »."
            )
        seen.add(record.id)
        records.append(record)
    faits = [
        Fait(
            sujet=f["sujet"],
            libelle=f["libelle"],
            valeur=f.get("valeur"),
            unite=f.get("unite"),
            annee=f.get("annee"),
            source=Source(**f["source"]),
            note=f.get("note"),
        )
        for f in data.get("faits", [])
    ]
    return records, faits


def install_demo(store: Store, who: str = "démonstration") -> int:
    """Add the demo PTCE that are not stored yet and replace the figures.

    Everything happens in one transaction: either the whole demo is loaded or
    nothing changes. A PTCE whose identifier already exists is left as it is,
    so user data is never overwritten.

    Parameters
    ----------
    store : Store
        The target database.
    who : str, optional
        Author recorded in the history of each added PTCE.

    Returns
    -------
    int
        The number of PTCE added (0 when all were already there).
    """
    records, faits = load_demo_file()
    with store.engine.begin() as conn:
        present = {p.id for p in store.load([r.id for r in records], conn)}
        added = 0
        for record in records:
            if record.id in present:
                continue
            store.save(record, who, expected_version=0, conn=conn)
            added += 1
        store.replace_faits(faits, conn=conn)
    return added


def ensure_demo(store: Store) -> int:
    """Install the demo only when the database holds no PTCE at all.

    Meant for a first start on a fresh database (``make run``): a database
    with any PTCE, demo or not, is left untouched.

    Parameters
    ----------
    store : Store
        The target database.

    Returns
    -------
    int
        The number of PTCE added (0 when the database was not empty).
    """
    if store.count():
        return 0
    return install_demo(store)
