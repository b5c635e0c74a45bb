"""The students' edition: generated from the book's notebooks, free of solutions, and it runs."""

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def load_tool():
    spec = importlib.util.spec_from_file_location("make_student", ROOT / "tools/make_student.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_student = load_tool()


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> list[Path]:
    return make_student.make_student(tmp_path_factory.mktemp("student"))


def test_every_chapter_has_exercises_with_solutions_to_remove():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        solutions = [c for c in notebook.cells if "solution" in c.metadata.get("tags", [])]
        assert any(c.cell_type == "code" for c in solutions), f"{path.name} has no code solution"


@pytest.mark.notebooks
def test_edition_has_every_chapter_and_no_solution(edition):
    book = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert [p.name for p in edition] == book
    for path in edition:
        notebook = nbformat.read(path, as_version=4)
        assert not [c for c in notebook.cells if "solution" in c.metadata.get("tags", [])]
        text = "\n".join(c.source for c in notebook.cells)
        assert "<summary>Answer" not in text and "<summary>Discussion" not in text
        stubs = [c for c in notebook.cells if make_student.STUB_TAIL in c.source]
        assert stubs, f"{path.name}: the exercises' cells are gone instead of stubbed"
        for cell in stubs:
            assert not cell.outputs
            assert all(line.startswith("#") for line in cell.source.splitlines())


def test_stub_keeps_the_task_and_drops_the_code():
    source = "# Exercise 1: do it.\n# Carefully.\nx = 1\nprint(x)\n# not the task"
    assert make_student.stub(source) == "# Exercise 1: do it.\n# Carefully.\n# Your solution here."


@pytest.mark.notebooks
def test_the_student_chapters_run(edition, monkeypatch):
    """Every chapter runs top to bottom with the committed weights (seconds each)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    for path in edition:
        notebook = nbformat.read(path, as_version=4)
        NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(ROOT / "notebooks")}},
        ).execute()
