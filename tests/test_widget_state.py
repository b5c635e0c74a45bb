"""The notebooks keep only the widget state that their outputs show (tools/execute_notebooks.py
strips the rest whenever it writes a notebook)."""

import copy
import json
from pathlib import Path

import pytest
from conftest import load_tool

ROOT = Path(__file__).resolve().parents[1]


tool = load_tool("execute_notebooks")


def model(name: str, **state) -> dict:
    return {"model_module": "anywidget", "model_name": name, "state": state}


def view(model_id: str) -> dict:
    return {
        "output_type": "display_data",
        "data": {tool.WIDGET_VIEW: {"model_id": model_id, "version_major": 2, "version_minor": 0}},
        "metadata": {},
    }


def notebook(state: dict, *outputs: dict) -> dict:
    return {
        "cells": [
            {"cell_type": "markdown", "source": "IPY_MODEL_orphan is only prose"},
            {"cell_type": "code", "source": "", "outputs": list(outputs)},
        ],
        "metadata": {"widgets": {tool.WIDGET_STATE: {"state": state, "version_major": 2}}},
    }


def test_shown_models_and_all_they_reference_are_kept_and_the_rest_dropped():
    state = {
        "shown": model("Box", layout="IPY_MODEL_layout", children=["IPY_MODEL_child"]),
        "layout": model("LayoutModel"),
        "child": model("Explorer", style={"nested": ["IPY_MODEL_grandchild"]}),
        "grandchild": model("StyleModel", back="IPY_MODEL_shown"),  # a cycle ends the walk
        "orphan": model("Explorer", sprite="a large image", layout="IPY_MODEL_orphan_layout"),
        "orphan_layout": model("LayoutModel"),
        "unrelated": model("LayoutModel"),
    }
    book = notebook(copy.deepcopy(state), view("shown"), view("not saved"))
    assert tool.strip_widget_state(book) == 3
    kept = book["metadata"]["widgets"][tool.WIDGET_STATE]
    assert set(kept["state"]) == {"shown", "layout", "child", "grandchild"}
    assert kept["state"]["child"] == state["child"] and kept["version_major"] == 2
    assert tool.strip_widget_state(book) == 0  # nothing more to drop


def test_widget_state_that_no_output_shows_is_dropped_with_its_metadata():
    book = notebook({"orphan": model("Explorer", layout="IPY_MODEL_layout")})
    assert tool.strip_widget_state(book) == 1
    assert "widgets" not in book["metadata"]
    book = {"cells": [], "metadata": {"kernelspec": {}}}
    assert tool.strip_widget_state(book) == 0 and book["metadata"] == {"kernelspec": {}}


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_hold_no_widget_state_their_outputs_do_not_show(path):
    committed = json.loads(path.read_text(encoding="utf-8"))
    stripped = copy.deepcopy(committed)
    dropped = tool.strip_widget_state(stripped)
    assert dropped == 0 and stripped["metadata"] == committed["metadata"], (
        f"{path.name} holds {dropped} widget models no output shows: "
        f"python tools/execute_notebooks.py --strip-only {path.relative_to(ROOT)}"
    )
