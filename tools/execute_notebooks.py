"""Run the book's notebooks in place, keeping widget state, so their outputs can be committed.

    python tools/execute_notebooks.py [notebooks/01_*.ipynb ...]

The website renders the committed outputs (the explorers need their saved widget state), and
nbval checks them, so re-run this after changing a notebook, aae_lib or the committed weights.
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        notebook,
        timeout=1800,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    # One stream output per cell however the kernel flushed it, so that reruns diff cleanly.
    CoalesceStreamsPreprocessor().preprocess(notebook, {})
    nbformat.write(notebook, path)
    print(f"{path.name}: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    for name in sys.argv[1:] or sorted(NOTEBOOKS.glob("*.ipynb")):
        execute(Path(name))
