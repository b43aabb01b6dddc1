"""The README stays a front page and the docs stay linked (issue 11 item 6).

README.md is at most 10 KB (what it is, a screenshot, the two commands, a
configuration summary, links); everything else lives in docs/, one file per
subject. Every relative link in README.md and docs/*.md, images included,
points at a file that exists, and a `#fragment` at a heading of that file
(GitHub's anchors), so moving a section cannot leave a dead link behind.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README_MAX_BYTES = 10_240
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
INLINE_CODE = re.compile(r"`+[^`]*`+")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans removed."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(INLINE_CODE.sub("", line))
    return lines


def link_targets(text: str) -> list[str]:
    """Every link target written in the document's prose (inline and reference)."""
    prose = prose_lines(text)
    targets = [target for line in prose for target in INLINE_LINK.findall(line)]
    targets += [m.group(1) for line in prose if (m := REFERENCE_LINK.match(line))]
    return targets


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a document's headings (duplicates get -1, -2 ...)."""
    anchors: set[str] = set()
    for line in prose_lines(text.replace("`", "")):
        if match := HEADING.match(line):
            slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
            anchor, suffix = slug, 0
            while anchor in anchors:
                suffix += 1
                anchor = f"{slug}-{suffix}"
            anchors.add(anchor)
    return anchors


def broken_links(document: Path) -> list[str]:
    """The relative links of `document` whose file, or heading, does not exist."""
    broken = []
    for target in link_targets(document.read_text(encoding="utf-8")):
        if SCHEME.match(target):
            continue
        path, _, fragment = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.exists() or (
            fragment
            and linked.suffix == ".md"
            and fragment not in heading_anchors(linked.read_text(encoding="utf-8"))
        ):
            broken.append(target)
    return broken


def test_readme_is_at_most_10_kb():
    size = (ROOT / "README.md").stat().st_size
    assert size <= README_MAX_BYTES, (
        f"README.md is {size} bytes; move detail into docs/ and link it"
    )


def test_docs_folder_has_one_file_per_subject():
    subjects = {"api", "websocket", "compat", "web", "admin", "operations", "testing"}
    subjects |= {"performance", "architecture"}
    assert subjects <= {path.stem for path in DOCUMENTS}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_relative_links_point_at_existing_files(document):
    assert broken_links(document) == []


def test_a_missing_file_or_heading_is_a_broken_link(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## A section, here\n", encoding="utf-8")
    document = tmp_path / "doc.md"
    document.write_text(
        "# Doc\n\n[ok](other.md) [ok](other.md#a-section-here) [ok](#doc)\n"
        "[gone](missing.md) ![gone](shot.png) [gone](other.md#nowhere) [web](https://x.org)\n"
        "`[code](not-a-link.md)`\n\n```\n[fenced](not-a-link.md)\n```\n\n[ref]: gone/too.md\n",
        encoding="utf-8",
    )
    assert broken_links(document) == [
        "missing.md",
        "shot.png",
        "other.md#nowhere",
        "gone/too.md",
    ]
