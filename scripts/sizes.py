"""Report the modules over 500 lines and the functions over 80 lines.

Each must be split or justified: a module by a ``# size:`` comment in its
first 40 lines, a function by a ``# size:`` comment on the lines just above
its ``def`` (decorators included) or the first line of its body. Run by
``make lint``; exits with 1 when one is neither.

Usage: python -m scripts.sizes [--all]  (``--all`` lists the justified too)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("lib", "geo", "views")
MODULE_LINES = 500
FUNCTION_LINES = 80
MARK = "# size:"


def _justified(lines: list[str], start: int, end: int) -> bool:
    return any(MARK in line for line in lines[max(start, 0) : end])


def report(root: Path = ROOT) -> list[tuple[str, str, int, bool]]:
    """Return ``(file, what, lines, justified)`` per module or function too long."""
    found = []
    files = [root / "app.py"]
    files += [p for f in FOLDERS for p in sorted((root / f).rglob("*.py"))]
    for path in files:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        name = str(path.relative_to(root))
        if len(lines) > MODULE_LINES:
            found.append((name, "module", len(lines), _justified(lines, 0, 40)))
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            size = node.end_lineno - node.lineno + 1
            if size <= FUNCTION_LINES:
                continue
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            body = node.body[0].lineno
            ok = _justified(lines, first - 4, first - 1) or _justified(
                lines, node.lineno - 1, body + 1
            )
            found.append((name, f"{node.name}()", size, ok))
    return found


def main(argv: list[str] | None = None) -> int:
    show_all = "--all" in (argv if argv is not None else sys.argv[1:])
    rows = report()
    bad = [r for r in rows if not r[3]]
    for name, what, size, ok in rows:
        if show_all or not ok:
            state = "justifié" if ok else "À SCINDER OU JUSTIFIER"
            print(f"{name}: {what} {size} lignes — {state}")
    print(
        f"{len(rows)} modules ou fonctions longs, {len(bad)} sans justification "
        f"(seuils : module {MODULE_LINES} lignes, fonction {FUNCTION_LINES})."
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
