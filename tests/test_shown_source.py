"""Source shown on the book's pages is the package's current source: every code block that a
chapter's ``show_source`` displayed must still be what ``inspect.getsource`` returns for some
function, method or class of ``aae_lib``, so a change to the package that a chapter shows
fails here until the chapter is re-run."""

import importlib
import inspect
import pkgutil
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

import aae_lib

ROOT = Path(__file__).resolve().parents[1]
SHOWN = re.compile(r"^```python\n(.*)```$", re.DOTALL)


def package_sources() -> set[str]:
    """The dedented source of every function, method and class defined in aae_lib."""
    sources = set()
    modules = [aae_lib] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(aae_lib.__path__, "aae_lib.")
        if not info.name.endswith("__main__")
    ]
    for module in modules:
        for _, member in inspect.getmembers(module):
            if getattr(member, "__module__", None) != module.__name__:
                continue
            if inspect.isclass(member):
                candidates = [member, *vars(member).values()]
            elif inspect.isfunction(member):
                candidates = [member]
            else:
                continue
            for candidate in candidates:
                candidate = getattr(candidate, "__func__", candidate)
                if inspect.isfunction(candidate) or inspect.isclass(candidate):
                    try:
                        sources.add(textwrap.dedent(inspect.getsource(candidate)))
                    except OSError:  # methods a dataclass generates have no source
                        pass
    return sources


def shown_blocks(notebook: Path) -> list[str]:
    """The source blocks ``show_source`` displayed in a chapter's committed outputs."""
    blocks = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code" or "show_source" not in cell.source:
            continue
        for output in cell.get("outputs", []):
            match = SHOWN.match(output.get("data", {}).get("text/markdown", ""))
            if match:
                blocks.append(match.group(1))
    return blocks


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=str)
def test_the_source_a_chapter_shows_is_the_packages_current_source(notebook):
    current = package_sources()
    stale = [block.splitlines()[0] for block in shown_blocks(notebook) if block not in current]
    assert not stale, f"{notebook.name} shows source the package no longer has: {stale}"


def test_the_check_sees_the_chapters_shown_source():
    assert sum(len(shown_blocks(n)) for n in (ROOT / "notebooks").glob("*.ipynb")) >= 6
