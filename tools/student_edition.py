"""The students' edition of the book and its autograding, made with nbgrader.

    python tools/student_edition.py [COURSE_DIR]      (default: build/course)

Lays out an nbgrader course in COURSE_DIR, one assignment per chapter (``source/<chapter>/``),
and runs ``nbgrader generate_assignment`` on each. The students' edition is then in
``COURSE_DIR/release/<chapter>/<chapter>.ipynb``: every solution region (``### BEGIN SOLUTION``
... ``### END SOLUTION`` in a cell marked as a solution) replaced by a stub that raises
``NotImplementedError``, every written answer by "YOUR ANSWER HERE", the check cells locked.
To grade, put each student's notebooks in ``COURSE_DIR/submitted/<student>/<chapter>/`` and run
``nbgrader autograde <chapter>`` in COURSE_DIR (the instructor's page of the book says more).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_COURSE = ROOT / "build" / "course"
# nbgrader stops a cell after 30 s by default; chapter 5's Parzen estimate takes minutes.
CONFIG = """c = get_config()
c.CourseDirectory.course_id = "aae-book"
c.Execute.timeout = 600
"""


def nbgrader(course: Path, *args: str) -> None:
    """Run nbgrader in ``course``; it calls alembic, which lives beside this Python."""
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=environment,
        capture_output=True,
        text=True,
    )
    failed = result.returncode or "[ERROR]" in result.stderr or "| ERROR]" in result.stderr
    if failed:
        raise SystemExit(f"nbgrader {' '.join(args)} failed:\n{result.stderr[-3000:]}")


def make_course(course: Path, chapters: list[str] | None = None) -> list[Path]:
    """Write the course's sources and students' edition; returns the released notebooks."""
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    if chapters is not None:
        notebooks = [n for n in notebooks if n.stem in chapters]
    shutil.rmtree(course / "source", ignore_errors=True)
    course.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(CONFIG)
    released = []
    for notebook in notebooks:
        source = course / "source" / notebook.stem
        source.mkdir(parents=True)
        shutil.copy(notebook, source / notebook.name)
        nbgrader(course, "generate_assignment", notebook.stem, "--force")
        released.append(course / "release" / notebook.stem / notebook.name)
    return released


def main() -> None:
    course = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_COURSE
    for path in make_course(course.resolve()):
        print(f"students' edition: {path}")


if __name__ == "__main__":
    main()
