"""Import and export: readers, row validation, plans, writers, the CLI.

``python -m lib.io.cli`` loads the demo data, imports and exports files.
"""

__all__ = [
    "cli",
    "columns",
    "demo",
    "editing",
    "exporter",
    "importer",
    "reading",
    "synthetic",
]
