"""The chart README's values table, generated from values.yaml's `# --` comments.

    python3 tests/deploy/values_doc.py           # print the table
    python3 tests/deploy/values_doc.py --write   # rewrite it in the chart's README.md

A key documents itself with a `# --` comment (continued on the following `#` lines) right
above it. A map whose children carry no `# --` is one value (its default shown whole); a map
whose children do is documented through them. test_chart.py checks every value is documented
and the README's table is current.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "openmetadata-keycloak-operator"
BEGIN, END = "<!-- values:begin -->", "<!-- values:end -->"


def comments() -> dict[str, str]:
    """Dotted key -> its `# --` description."""
    found: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] | None = None
    for raw in (CHART / "values.yaml").read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("# --"):
            pending = [stripped[4:].strip()]
            continue
        if stripped.startswith("#"):
            if pending is not None:
                pending.append(stripped[1:].strip())
            continue
        match = re.match(r"^( *)([A-Za-z_][A-Za-z0-9_]*):", raw)
        if not match:
            if not stripped:
                pending = None
            continue
        indent, key = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([k for _, k in stack] + [key])
        stack.append((indent, key))
        if pending is not None:
            found[path] = " ".join(pending)
        pending = None
    return found


def rows() -> list[tuple[str, str, str]]:
    """(key, default, description) for every value, in file order; a value without a
    description has description ''."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    described = comments()
    out: list[tuple[str, str, str]] = []

    def walk(node, prefix):
        for key, value in node.items():
            path = f"{prefix}{key}"
            children = isinstance(value, dict) and any(p.startswith(path + ".") for p in described)
            if children:
                walk(value, path + ".")
            else:
                out.append((path, json.dumps(value), described.get(path, "")))

    walk(values, "")
    return out


def table() -> str:
    lines = ["| value | default | description |", "|---|---|---|"]
    for key, default, description in rows():
        cell = description.replace("|", "\\|")
        lines.append(f"| `{key}` | `{default}` | {cell} |")
    return "\n".join(lines) + "\n"


def readme_with_table(text: str) -> str:
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    return f"{before}{BEGIN}\n{table()}{END}{after}"


def main(argv: list[str]) -> int:
    readme = CHART / "README.md"
    if argv == ["--write"]:
        readme.write_text(readme_with_table(readme.read_text()))
        print(f"wrote {readme.relative_to(ROOT)}")
    else:
        print(table(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
