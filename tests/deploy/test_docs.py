"""The docs hold together: the README stays a front door, and every relative link (a file, or a
heading in one) leads somewhere."""

import re
from pathlib import Path

import render

ROOT = render.ROOT
DOCS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md")),
        render.CHART / "README.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found, fenced = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"^#{1,6} (.*)", line)):
            found.add(slug(m.group(1)))
    return found


def test_the_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    for must in ("## Install", "## A complete example", "## Run it; test it", "cargo test",
                 "How OpenMetadata's chart consumes the Secret", "CHANGELOG.md"):
        assert must in readme, must


def test_every_relative_link_leads_somewhere():
    broken = []
    for doc in DOCS:
        text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
        for target in LINK.findall(text):
            if re.match(r"^(https?|mailto):", target):
                continue
            file, _, anchor = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            if not path.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and path.suffix == ".md" and anchor not in anchors(path):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []


def test_every_doc_is_reachable_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in LINK.findall(readme) if not t.startswith("http")}
    for doc in (ROOT / "docs").rglob("*.md"):
        assert doc.resolve() in linked, f"{doc.relative_to(ROOT)} is not linked from the README"


def test_the_docs_name_no_reason_the_code_does_not_have():
    """Every `CamelCase` word the docs present as a reason or Event exists in src/reason.rs (a
    renamed reason, such as CleanupSkipped, must not linger)."""
    reasons = set(re.findall(r"^    ([A-Z][A-Za-z]+) => ", (ROOT / "src" / "reason.rs").read_text(), re.M))
    assert "ClientOrphaned" in reasons and len(reasons) > 30
    for doc in DOCS:
        for word in re.findall(r"`([A-Z][a-z]+(?:[A-Z][a-z]+)+)`", doc.read_text()):
            looks_like_reason = not word.startswith("Omkc") and word.endswith(("Skipped", "Failed", "Rejected", "NotFound", "NotAllowed",
                                               "Conflict", "Invalid", "Deferred", "Limit", "Orphaned"))
            assert not looks_like_reason or word in reasons, f"{doc.relative_to(ROOT)}: {word}"
