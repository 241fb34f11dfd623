#!/usr/bin/env python3
"""Line counts of the Rust code at a revision (default: the working tree), as issue 18 measures
them: `src/` split into code, comments and unit tests (files under a `tests/` folder, `tests.rs`,
`*_tests.rs`, and a trailing `#[cfg(test)] mod …` block), and `tests/`. Blank lines count as code.

    python3 tools/lines.py [REV]
"""
import re
import subprocess
import sys

REV = sys.argv[1] if len(sys.argv) > 1 else None


def files(prefix):
    if REV:
        cmd = ["git", "ls-tree", "-r", "--name-only", REV, prefix]
    else:
        cmd = ["git", "ls-files", prefix]
    return [f for f in subprocess.check_output(cmd, text=True).split() if f.endswith(".rs")]


def lines(path):
    text = subprocess.check_output(["git", "show", f"{REV}:{path}"], text=True) if REV else open(path).read()
    return text.rstrip("\n").split("\n")


total = comments = unit = 0
for path in files("src"):
    body = lines(path)
    total += len(body)
    if "/tests/" in path or path.endswith("/tests.rs") or path.endswith("_tests.rs"):
        unit += len(body)
        continue
    cut = len(body)
    for i, line in enumerate(body[:-1]):
        if line.strip() == "#[cfg(test)]" and re.match(r"\s*mod \w+ \{", body[i + 1]):
            cut = i
            break
    unit += len(body) - cut
    comments += sum(1 for line in body[:cut] if line.strip().startswith("//"))
tests = sum(len(lines(path)) for path in files("tests"))
print(f"src {total} (code {total - comments - unit}, comments {comments}, unit tests {unit}); tests {tests}")
