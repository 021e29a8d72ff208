"""The README and docs/ name only what exists: every `make` target, `python -m ml` command,
`python -m` module and relative link in them."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from cli.commands import COMMANDS
from tests.support import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_LINES = 200


def code(page: Path) -> list[str]:
    """The page's code: its fenced blocks and its inline code spans."""
    text = page.read_text()
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.S | re.M)
    return [*blocks, *re.findall(r"`([^`\n]+)`", prose)]


def named(pattern: str) -> list[tuple[str, str]]:
    """(page, what) for every match of `pattern`'s group in the pages' code."""
    return sorted(
        {(page.name, match) for page in PAGES for snippet in code(page) for match in re.findall(pattern, snippet)}
    )


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), flags=re.M))


def test_the_readme_guides_in_at_most_200_lines_and_names_every_page_of_docs() -> None:
    readme = PAGES[0].read_text()
    assert len(readme.splitlines()) <= README_LINES
    assert {page.name for page in PAGES[1:]} <= set(re.findall(r"\(docs/([\w-]+\.md)", readme))


@pytest.mark.parametrize(("page", "target"), named(r"(?:^|[\s;&|(])make ([a-z][a-z0-9-]*)"))
def test_a_make_target_named_exists(page: str, target: str) -> None:
    assert target in make_targets(), f"{page} names `make {target}`, which the Makefile does not define"


@pytest.mark.parametrize(("page", "command"), named(r"python -m ml((?: [a-z][a-z-]*)+)"))
def test_a_command_named_exists(page: str, command: str) -> None:
    words = command.split()
    paths = {c.path for c in COMMANDS}
    groups = {path[0] for path in paths if len(path) > 1}
    path = tuple(words[:2]) if words[0] in groups and len(words) > 1 else (words[0],)
    assert path in paths or (path == (words[0],) and words[0] in groups), (
        f"{page} names `python -m ml {' '.join(path)}`, which is not in cli/commands.py"
    )


@pytest.mark.parametrize(("page", "module"), named(r"python -m ((?:bench|ml|cli)\.[\w.]+)"))
def test_a_module_named_exists(page: str, module: str) -> None:
    assert importlib.util.find_spec(module) is not None, f"{page} names `python -m {module}`, which does not exist"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_reaches_a_file_and_a_heading(page: Path) -> None:
    for target, anchor in re.findall(r"\]\(([^)#:\s]*)(?:#([\w-]+))?\)", page.read_text()):
        linked = (page.parent / target).resolve() if target else page
        assert linked.exists(), f"{page.name} links to {target}, which does not exist"
        if anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.M)
            anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}
            assert anchor in anchors, f"{page.name} links to {target}#{anchor}, a heading {linked.name} lacks"
