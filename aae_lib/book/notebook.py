"""What the notebooks share: the set-up call (seed, device, versions), the training cell that
loads the book's weights or trains them (``load_or_train``), and showing the package's own
source on the page, so the code a reader studies is the code that trains the models."""

from __future__ import annotations

import inspect
import os
import platform
import textwrap
from dataclasses import replace

import torch

from .. import __version__
from ..data import load_mnist
from ..errors import AAEError
from ..models import AdversarialAutoencoder
from ..pretrained import (
    describe,
    load,
    user_weights_dir,
    variant_name,
    weights_dirs,
    weights_path,
    with_changes,
)
from ..recipes import BOOK_MODELS, PLATEAU_MODELS
from ..runners.export import smoke_run, train_and_export
from ..train import device_name, resolve_device

# Epochs of the committed weights, trained on a 2-core CPU. A retraining cell on a CPU defaults
# to the same budget; on a GPU it runs the config's full schedule. The models trained to their
# plateau ran 12 epochs past the first learning-rate drop (epoch 100), where their curves had
# flattened; the 1000-label model ran 100 epochs, the length fixed for all its label draws.
CPU_EPOCHS = {
    **{name: 24 for name in BOOK_MODELS},
    **{name: 112 for name in PLATEAU_MODELS},
    "semisupervised_1000": 100,
    "semisupervised_100": 61,
    "semisupervised_all": 61,
    "reduction_1000_labels": 50,
}
# The clustering models' weights ran their 24 epochs with the first learning-rate drop moved
# from epoch 50 to 16, so that the drop falls within the CPU budget; a CPU retraining does too.
CPU_LR_MILESTONES = {
    name: (16, 1000) for name in ("clustering_16", "clustering_30", "reduction_20_clusters")
}


def setup(seed: int = 0) -> torch.device:
    """Seed torch, pick the device (``$AAE_DEVICE``, default auto) and say what runs here.

    ``$AAE_RETRAIN=1`` makes the training cells retrain instead of loading the committed
    weights; ``$AAE_SMOKE=1`` makes them train one epoch on a small subset (what CI runs).
    """
    torch.manual_seed(seed)
    device = resolve_device(os.environ.get("AAE_DEVICE", "auto"))
    mode = (
        "smoke schedule"
        if os.environ.get("AAE_SMOKE") == "1"
        else "retraining"
        if os.environ.get("AAE_RETRAIN") == "1"
        else "committed weights"
    )
    print(
        f"aae_lib {__version__}, torch {torch.__version__}, Python "
        f"{platform.python_version()}; device {device_name(device)}; seed {seed}; {mode}"
    )
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


def check_parameters(epochs, retrain) -> None:
    """Refuse a parameters cell's nonsense before anything is loaded or trained."""
    whole = isinstance(epochs, int) and not isinstance(epochs, bool)
    if epochs is not None and not (whole and epochs >= 1):
        raise AAEError(
            f"EPOCHS (epochs=) must be None, for the default schedule, or a whole "
            f"number of at least 1, not {epochs!r}"
        )
    if not isinstance(retrain, bool):
        raise AAEError(f"RETRAIN (retrain=) must be True or False, not {retrain!r}")


def load_or_train(
    name: str,
    device: str | torch.device = "auto",
    epochs: int | None = None,
    retrain: bool = False,
    smoke: bool | None = None,
    **changes,
) -> tuple[AdversarialAutoencoder, dict]:
    """The notebooks' training cell: load weights that match, else train and save them.

    ``changes`` alter the book's config (see ``with_changes``); then the committed weights do
    not match and the model is trained, once: later calls load it from your folder. Looks for
    the committed weights, then for weights trained earlier in ``$AAE_CHECKPOINTS`` (default
    ``~/.cache/aae_lib/checkpoints``). ``retrain`` (or ``$AAE_RETRAIN=1``) skips both and
    trains ``epochs`` epochs (default: the full schedule on a GPU, ``CPU_EPOCHS`` on a CPU),
    resuming an interrupted run; ``smoke`` (default ``$AAE_SMOKE == "1"``) trains one epoch on
    a small subset, which is what CI runs. Prints which of these happened.
    """
    check_parameters(epochs, retrain)
    retrain = retrain or os.environ.get("AAE_RETRAIN") == "1"
    smoke = os.environ.get("AAE_SMOKE") == "1" if smoke is None else smoke
    device = resolve_device(str(device))
    try:
        config = with_changes(name, changes)
    except (TypeError, ValueError) as error:
        given = ", ".join(f"{key}={value!r}" for key, value in changes.items())
        raise AAEError(f"parameters {given} refused: {error}") from None
    stem = variant_name(name, config)
    own = user_weights_dir() / ("smoke" if smoke else "")
    if not (retrain or smoke):
        folders = [(folder, "the committed") for folder in weights_dirs()] + [(own, "your own")]
        for folder, origin in folders:
            if weights_path(stem, folder).exists():
                model, manifest = load(stem, device, folder, config)
                print(f"Loaded {origin} weights of {stem}: {describe(manifest)}.")
                return model, manifest
    data = load_mnist(device=device)
    if smoke:
        (config, data), epochs = smoke_run(config, data), 1
    elif epochs is None and device.type == "cpu":
        epochs = CPU_EPOCHS[name]
        config = replace(config, lr_milestones=CPU_LR_MILESTONES.get(name, config.lr_milestones))
        print(
            f"On a CPU: training {epochs} of {config.epochs} epochs, as the committed "
            "weights were (pass epochs= to change it)."
        )
    train_and_export(
        stem,
        config,
        data,
        device,
        own / "runs" / stem,
        own,
        epochs,
        ", smoke subset" if smoke else "",
    )
    return load(stem, device, own, config)
