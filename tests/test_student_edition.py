"""The students' edition, made by nbgrader: no answer left anywhere, a cell to write in for
every exercise, and autograding that passes a solved chapter and fails an unsolved one."""

import shutil
import sqlite3
from pathlib import Path

import nbformat
import pytest
from conftest import load_tool

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
GRADED_CHAPTER = "00_aae_in_one_page"


student_edition = load_tool("student_edition")


def nbgrader_cells(notebook):
    return [c for c in notebook.cells if "nbgrader" in c.metadata]


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    student_edition.make_course(course)
    return course


def test_every_chapter_has_a_coding_exercise_with_a_check():
    for name in CHAPTERS:
        notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        cells = nbgrader_cells(notebook)
        code = [c for c in cells if c.cell_type == "code" and c.metadata.nbgrader["solution"]]
        checks = [c for c in cells if c.metadata.nbgrader.get("grade") and c.cell_type == "code"]
        assert code, f"{name} has no coding exercise"
        assert checks, f"{name} has no automatic check"
        for cell in code:
            assert "### BEGIN SOLUTION" in cell.source, f"{name}: a solution without markers"
            assert "hide-cell" in cell.metadata.get("tags", []), (
                f"{name}: a solution the website shows"
            )


@pytest.mark.notebooks
def test_the_students_edition_holds_no_answer_and_a_cell_for_every_exercise(course):
    for name in CHAPTERS:
        source = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        released = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
        text = "\n".join(c.source for c in released.cells)
        for answer in ("### BEGIN SOLUTION", "<summary>Answer", "<summary>Discussion"):
            assert answer not in text, f"{name}: the students' edition keeps {answer!r}"
        exercises = [c for c in nbgrader_cells(source) if c.metadata.nbgrader["solution"]]
        to_write = [c for c in nbgrader_cells(released) if c.metadata.nbgrader["solution"]]
        assert len(to_write) == len(exercises), f"{name}: an exercise lost its cell"
        for cell in to_write:
            assert "NotImplementedError" in cell.source or "YOUR ANSWER HERE" in cell.source
            assert not cell.get("outputs")


def scores(course: Path, chapter: str) -> dict[str, float]:
    """Each student's automatic score on ``chapter``, read from nbgrader's gradebook."""
    with sqlite3.connect(course / "gradebook.db") as db:
        rows = db.execute(
            "SELECT submitted_assignment.student_id, SUM(grade.auto_score) FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = "
            "submitted_assignment.id JOIN assignment ON submitted_assignment.assignment_id = "
            "assignment.id WHERE assignment.name = ? GROUP BY submitted_assignment.student_id",
            (chapter,),
        ).fetchall()
    return dict(rows)


@pytest.mark.notebooks
def test_autograding_passes_a_solved_chapter_and_fails_an_unsolved_one(course, monkeypatch):
    monkeypatch.setenv("AAE_SMOKE", "1")  # the chapter's training cell runs a few steps
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    name = f"{GRADED_CHAPTER}.ipynb"
    for student, notebook in (
        ("solved", course / "source" / GRADED_CHAPTER / name),
        ("unsolved", course / "release" / GRADED_CHAPTER / name),
    ):
        folder = course / "submitted" / student / GRADED_CHAPTER
        folder.mkdir(parents=True)
        shutil.copy(notebook, folder / name)
    student_edition.nbgrader(course, "autograde", GRADED_CHAPTER, "--force")
    source = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    points = sum(
        c.metadata.nbgrader.get("points", 0)
        for c in nbgrader_cells(source)
        if c.cell_type == "code" and c.metadata.nbgrader.get("grade")
    )
    graded = scores(course, GRADED_CHAPTER)
    assert graded["solved"] == points > 0
    assert graded["unsolved"] == 0
