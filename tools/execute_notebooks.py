"""Run the book's notebooks in place, keeping the widget state their outputs show, so their
outputs can be committed.

    python tools/execute_notebooks.py [notebooks/01_*.ipynb ...]
    python tools/execute_notebooks.py --strip-only [notebooks/01_*.ipynb ...]

The website renders the committed outputs (the explorers need their saved widget state), and
nbval checks them, so re-run this after changing a notebook, aae_lib or the committed weights.
Only the widget models that a displayed widget view reaches are kept (``strip_widget_state``):
a kernel also records widgets that no output shows, and those would only weigh on the
repository. ``--strip-only`` rewrites the notebooks that way without executing them.
"""

import json
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# How one widget model's state names another (a layout, a child, a linked model).
MODEL_REFERENCE = re.compile(r"IPY_MODEL_([\w-]+)")


def shown_models(notebook: dict) -> list[str]:
    """The ids of the widget models that the notebook's outputs display."""
    return [
        output["data"][WIDGET_VIEW]["model_id"]
        for cell in notebook.get("cells", [])
        for output in cell.get("outputs", [])
        if WIDGET_VIEW in output.get("data", {})
    ]


def strip_widget_state(notebook: dict) -> int:
    """Keep, in the notebook's saved widget state, only the models its outputs display and
    those they reference (``IPY_MODEL_<id>`` in a kept model's state, followed to any depth);
    drop the widgets metadata entirely when none is left. Returns how many models went."""
    metadata = notebook.setdefault("metadata", {})
    widgets = metadata.get("widgets")
    if widgets is None:
        return 0
    state = widgets.get(WIDGET_STATE, {}).get("state", {})
    kept: set[str] = set()
    pending = [model for model in shown_models(notebook) if model in state]
    while pending:
        model = pending.pop()
        if model in kept:
            continue
        kept.add(model)
        references = MODEL_REFERENCE.findall(json.dumps(state[model].get("state", {})))
        pending += [reference for reference in references if reference in state]
    if kept:
        widgets[WIDGET_STATE]["state"] = {k: v for k, v in state.items() if k in kept}
    else:
        del metadata["widgets"]
    return len(state) - len(kept)


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
    dropped = strip_widget_state(notebook)
    nbformat.write(notebook, path)
    print(f"{path.name}: {time.perf_counter() - start:.0f} s, {dropped} unshown widget models")


def strip(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    had_widgets = "widgets" in notebook.metadata
    dropped = strip_widget_state(notebook)
    if dropped or had_widgets != ("widgets" in notebook.metadata):
        nbformat.write(notebook, path)
    print(f"{path.name}: {dropped} unshown widget models dropped")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    run = execute
    if arguments[:1] == ["--strip-only"]:
        arguments, run = arguments[1:], strip
    for name in arguments or sorted(NOTEBOOKS.glob("*.ipynb")):
        run(Path(name))
