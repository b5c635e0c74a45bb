"""What the notebooks share: the set-up call (seed, device, versions), and showing the package's
own source on the page, so the code a reader studies is the code that trains the models."""

from __future__ import annotations

import inspect
import os
import platform
import textwrap

import torch

from . import __version__
from .train import device_name, resolve_device


def setup(seed: int = 0) -> torch.device:
    """Seed torch, pick the device (``$AAE_DEVICE``, default auto) and say what runs here.

    ``$AAE_RETRAIN=1`` makes the training cells retrain instead of loading the committed
    weights; ``$AAE_SMOKE=1`` makes them train one epoch on a small subset (what CI runs).
    """
    torch.manual_seed(seed)
    device = resolve_device(os.environ.get("AAE_DEVICE", "auto"))
    mode = ("smoke schedule" if os.environ.get("AAE_SMOKE") == "1" else
            "retraining" if os.environ.get("AAE_RETRAIN") == "1" else "committed weights")
    print(f"aae_lib {__version__}, torch {torch.__version__}, Python "
          f"{platform.python_version()}; device {device_name(device)}; seed {seed}; {mode}")
    return device


def show_source(*objects) -> None:
    """Display the source of functions, methods or classes as highlighted code.

    A chapter calls this instead of copying the code into a cell, so the lines on the page
    cannot drift from the lines that ``aae_lib`` executes.
    """
    from IPython.display import Markdown, display

    for item in objects:
        source = textwrap.dedent(inspect.getsource(item))
        display(Markdown(f"```python\n{source}```"))
