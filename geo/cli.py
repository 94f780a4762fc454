"""``python -m geo``: build the boundary cache, report on it, look codes up.

Commands
--------
``build [--source PATH] [--force]``
    Build the boundary cache when it is missing or stale.
``status``
    Print the cache status as JSON.
``lookup CODE [CODE …]``
    Print one JSON line per code; exit code 1 when a code is unknown.
``reference [--tarball FILE]``
    Regenerate ``data/reference/`` from the npm package.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lib.fr import ArgumentParser


def _build(args: argparse.Namespace) -> int:
    from geo.build import SourceError, build, locate_source

    try:
        source = locate_source(args.source)
    except SourceError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 2
    build(source, force=args.force, log=lambda line: print(line, file=sys.stderr))
    return 0


def _status(_args: argparse.Namespace) -> int:
    from geo.boundaries import CacheMissing, status

    try:
        report = status()
    except CacheMissing as exc:
        print(json.dumps({"error": str(exc)}, ensure_ascii=False))
        return 1
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


def _lookup(args: argparse.Namespace) -> int:
    from geo.lookup import UnknownCode, lookup

    rc = 0
    for code in args.codes:
        try:
            line = lookup(code)
        except UnknownCode as exc:
            line, rc = {"error": str(exc)}, 1
        print(json.dumps(line, ensure_ascii=False))
    return rc


def _reference(args: argparse.Namespace) -> int:
    from geo.reference import extract

    out = extract(Path(args.tarball) if args.tarball else None)
    print(f"Référentiel écrit dans {out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``python -m geo`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        The process exit code.
    """
    parser = ArgumentParser(prog="python -m geo", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="construire le cache des contours")
    p.add_argument(
        "--source", help="dossier france-geojson, .shp ou .gpkg ADMIN EXPRESS"
    )
    p.add_argument("--force", action="store_true", help="reconstruire même si à jour")
    p.set_defaults(func=_build)
    p = sub.add_parser("status", help="état du cache (JSON)")
    p.set_defaults(func=_status)
    p = sub.add_parser("lookup", help="rattachements d'un code commune")
    p.add_argument("codes", nargs="+", metavar="CODE")
    p.set_defaults(func=_lookup)
    p = sub.add_parser("reference", help="régénérer data/reference depuis npm")
    p.add_argument("--tarball", help="archive npm déjà téléchargée")
    p.set_defaults(func=_reference)
    args = parser.parse_args(argv)
    return args.func(args)
