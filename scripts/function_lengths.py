"""List functions longer than a limit (default 60 lines), longest first.

Usage: .venv/bin/python scripts/function_lengths.py [--limit 60] [paths...]
Exits 0; it reports, it does not judge (a long function may say why in its docstring).
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

APPS = ("revenue", "summaries", "alerts", "integrations", "branchberg")
SKIP_PARTS = {"migrations", "tests", ".venv"}


def function_lengths(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            found.append((length, f"{path}:{node.lineno} {node.name}"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("paths", nargs="*", default=list(APPS))
    args = parser.parse_args()
    rows: list[tuple[int, str]] = []
    for root in args.paths:
        for path in sorted(Path(root).rglob("*.py")):
            if SKIP_PARTS.isdisjoint(path.parts):
                rows.extend(function_lengths(path))
    long_ones = sorted((row for row in rows if row[0] > args.limit), reverse=True)
    for length, where in long_ones:
        print(f"{length:5d}  {where}")
    print(f"{len(long_ones)} of {len(rows)} functions over {args.limit} lines")


if __name__ == "__main__":
    main()
