"""The Dockerfile without Docker: parse its stages, apply .dockerignore, and stage exactly the
build context the build stage sees, so CI can run the stage's build command on it.

    python3 tests/deploy/dockerfile.py stage DIR   # copy the context to DIR, print the command

There is no Docker engine on the CI machine; this is how the image's build is exercised.
"""

from __future__ import annotations

import fnmatch
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, op: str) -> list[str]:
        return [a for o, a in self.instructions if o == op]


def parse(text: str) -> list[Stage]:
    """Stages of a Dockerfile (comments dropped, continuation lines joined)."""
    stages: list[Stage] = []
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        logical += line[:-1] + " " if line.endswith("\\") else line
        if line.endswith("\\"):
            continue
        op, _, args = logical.partition(" ")
        op = op.upper()
        logical = ""
        if op == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        else:
            if not stages:
                raise ValueError(f"{op} before FROM")
            stages[-1].instructions.append((op, args.strip()))
    return stages


def ignore_patterns(path: Path) -> list[tuple[bool, str]]:
    """(exclude?, pattern) in order; a `!` pattern re-includes."""
    out = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        out.append((not negate, pattern.strip("/")))
    return out


def in_context(rel: str, patterns: list[tuple[bool, str]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for exclude, pattern in patterns:
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes):
            included = not exclude
    return included


def context_files(root: Path = ROOT) -> list[str]:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=root, check=True, capture_output=True, text=True
    ).stdout.split()
    patterns = ignore_patterns(root / ".dockerignore")
    return [f for f in tracked if in_context(f, patterns)]


def build_stage(stages: list[Stage]) -> Stage:
    (stage,) = [s for s in stages if s.name == "build"]
    return stage


def build_command(stage: Stage) -> str:
    """The stage's `cargo build` command (the other RUNs prepare the toolchain)."""
    (command,) = [r for r in stage.args("RUN") if r.startswith("cargo build")]
    return command


def stage_context(dest: Path, root: Path = ROOT) -> str:
    """Copies what the build stage COPYs (from the filtered context) into dest, keeping the
    Dockerfile's destination layout relative to WORKDIR. Returns the build command."""
    stage = build_stage(parse((root / "Dockerfile").read_text()))
    available = set(context_files(root))
    for copy in stage.args("COPY"):
        words = shlex.split(copy)
        if any(w.startswith("--from") for w in words):
            continue
        *sources, target = words
        for source in sources:
            source = source.rstrip("/")
            files = [f for f in available if f == source or f.startswith(source + "/")]
            if not files:
                raise SystemExit(f"COPY {source}: nothing in the build context (.dockerignore?)")
            for f in files:
                if target.endswith("/") and target != "./":
                    rel = Path(target.strip("./") or ".") / Path(f).relative_to(Path(source).parent)
                elif target == "./":
                    rel = Path(f)
                else:
                    rel = Path(target) / Path(f).relative_to(source)
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / f, dest / rel)
    return build_command(stage)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "stage":
        print("usage: dockerfile.py stage DIR", file=sys.stderr)
        return 2
    dest = Path(argv[1])
    dest.mkdir(parents=True, exist_ok=True)
    print(stage_context(dest))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
