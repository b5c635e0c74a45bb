"""Write the students' edition of the book's notebooks: solutions removed, exercises left to do.

    python tools/make_student.py [OUTPUT_DIR]      (default: build/student)

A cell tagged ``solution`` is a worked solution. A markdown solution (an answer or discussion)
is dropped; a code solution becomes a stub that keeps its leading comment lines (the task) and
still runs. Outputs of stubs are cleared; everything else is copied as it is.
"""

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUTPUT = ROOT / "build" / "student"
SOLUTION_TAG = "solution"
STUB_TAIL = "# Your solution here."


def stub(source: str) -> str:
    """The leading comment lines of a solution, then a prompt: a cell that runs and does nothing."""
    task = []
    for line in source.splitlines():
        if not line.startswith("#"):
            break
        task.append(line)
    return "\n".join([*task, STUB_TAIL])


def student_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cells = []
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if SOLUTION_TAG not in tags:
            cells.append(cell)
            continue
        if cell.cell_type != "code":
            continue
        cell.source = stub(cell.source)
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("execution", None)
        cell.metadata.pop("jupyter", None)
        cell.metadata["tags"] = [tag for tag in tags if tag not in (SOLUTION_TAG, "hide-input")]
        cells.append(cell)
    notebook.cells = cells
    return notebook


def make_student(output: Path = DEFAULT_OUTPUT) -> list[Path]:
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = student_notebook(nbformat.read(path, as_version=4))
        target = output / path.name
        nbformat.write(notebook, target)
        written.append(target)
    return written


if __name__ == "__main__":
    for written_path in make_student(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT):
        print(written_path)
