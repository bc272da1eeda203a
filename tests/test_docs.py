"""The README and docs/: every relative link leads somewhere, and the README stays a short read."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_every_relative_link_resolves() -> None:
    broken = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in PAGES
        for target in LINK.findall(page.read_text())
        if "://" not in target and not (page.parent / target).exists()
    ]
    assert broken == []


def test_every_doc_is_reachable_from_the_readme() -> None:
    # A newcomer finds every page from the README, directly or through a page it links.
    seen: set[Path] = set()
    todo = [ROOT / "README.md"]
    while todo:
        page = todo.pop()
        if page in seen or page.suffix != ".md" or not page.exists():
            continue
        seen.add(page)
        todo += [
            (page.parent / t).resolve() for t in LINK.findall(page.read_text()) if "://" not in t
        ]
    unreachable = [p.name for p in PAGES if p.resolve() not in seen]
    assert unreachable == []


def test_the_readme_is_a_ten_minute_read() -> None:
    # About 1,500 words at a reading pace of 200 a minute, tables and commands included; the
    # rest belongs in docs/.
    words = len((ROOT / "README.md").read_text().split())
    assert words <= 2000, words


def test_every_test_file_the_docs_name_exists() -> None:
    # The tests live in folders mirroring the rooms they test; a page naming a moved or deleted
    # test file would send a reader nowhere.
    named = {
        path
        for page in [*PAGES, ROOT / "tests" / "vectors" / "README.md"]
        for path in re.findall(r"tests/[\w/]+\.py", page.read_text())
        if not (ROOT / path).exists()
    }
    assert named == set()
