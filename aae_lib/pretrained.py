"""The book's weights: where they are, how they are stored, and loading them.

Committed weights are the inference half of a model (encoder and decoder, no discriminators),
each beside a JSON manifest with the config, schedule, device, wall time, metrics, versions and
SHA-256. A stored state holds its matrices either in float16 or in int8 with a float32 scale per
output row (``quantize``); ``load`` returns float32 weights either way and refuses weights whose
manifest does not match the config the book asks for.

The weights live in the clone's ``weights/`` folder, never in the installed package; a folder
named by ``$AAE_WEIGHTS`` is searched first. Experiment results the book reads (label draws,
controls) are in the clone's ``results/`` folder. ``aae_lib.runners.export`` trains and exports.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import fields, replace
from pathlib import Path

import torch

from . import checkpoints
from .errors import AAEError, CheckpointError
from .files import read_json
from .models import AdversarialAutoencoder, ModelConfig
from .recipes import BOOK_MODELS, RECIPES
from .train import TrainConfig

CLONE_DIR = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = CLONE_DIR / "weights"  # the book's committed weights, in a clone
RESULTS_DIR = CLONE_DIR / "results"  # the book's committed experiment results, in a clone
WEIGHTS_ENV = "AAE_WEIGHTS"  # another folder of weights, searched first
INT8_SCALES = "int8_scales"  # the key under which a stored state keeps its matrices' scales


def book_config(name: str) -> TrainConfig:
    if name not in BOOK_MODELS:
        raise KeyError(f"no book model {name!r}; choose one of {', '.join(BOOK_MODELS)}")
    return RECIPES[name]


def user_weights_dir() -> Path:
    """Where weights you train go: ``$AAE_CHECKPOINTS`` or ``~/.cache/aae_lib/checkpoints``."""
    return Path(os.environ.get("AAE_CHECKPOINTS", Path.home() / ".cache/aae_lib/checkpoints"))


def weights_dirs() -> list[Path]:
    """The folders searched for the book's weights: ``$AAE_WEIGHTS``, then the clone's."""
    named = os.environ.get(WEIGHTS_ENV)
    return [Path(named), WEIGHTS_DIR] if named else [WEIGHTS_DIR]


def weights_path(name: str, folder: str | Path | None = None) -> Path:
    """``name``'s weights file in ``folder``, or in the first of ``weights_dirs`` holding it
    (the first of them if none does)."""
    if folder is not None:
        return Path(folder) / f"{name}.pt"
    candidates = [Path(d) / f"{name}.pt" for d in weights_dirs()]
    return next((path for path in candidates if path.exists()), candidates[0])


def quantize(weights: dict[str, torch.Tensor]) -> dict:
    """Weights as the repository stores them: each matrix in int8 with one float32 scale per
    output row (the row's largest magnitude maps to 127), other floating tensors in float16.

    int8 halves float16's 7 MB per model. On the semi-supervised model it moved test accuracy
    by one image in 10 000 and reconstruction error by 0.05 %; the manifest's
    ``stored_metrics`` are measured on the weights as stored.
    """
    stored, scales = {}, {}
    for name, tensor in weights.items():
        if tensor.is_floating_point() and tensor.ndim == 2:
            scale = tensor.float().abs().amax(dim=1, keepdim=True).clamp_min(1e-30) / 127
            stored[name] = (tensor / scale).round().to(torch.int8)
            scales[name] = scale
        else:
            stored[name] = tensor.half() if tensor.is_floating_point() else tensor
    return {**stored, INT8_SCALES: scales}


def dequantize(state: dict) -> dict[str, torch.Tensor]:
    """float32 weights from a stored state, int8 with scales or float16."""
    scales = state.get(INT8_SCALES, {})
    return {
        name: tensor.float() * scales[name] if name in scales else tensor.float()
        for name, tensor in state.items()
        if name != INT8_SCALES
    }


def load(
    name: str,
    device: str | torch.device = "cpu",
    folder: str | Path | None = None,
    config: TrainConfig | None = None,
) -> tuple[AdversarialAutoencoder, dict]:
    """The model saved as ``name`` in float32 on ``device``, and its manifest; its weights
    must fit ``config`` (default: the book's config of that name, or for other weights, such
    as another seed's run of a book model, the config their manifest records).

    For a 2-D model the manifest also carries ``code_snapshots``: the codes of the first test
    images after every epoch of training (epochs × images × 2), for watching training happen.
    """
    path = weights_path(name, folder)
    if config is None:
        config = (
            book_config(name)
            if name in BOOK_MODELS
            else TrainConfig.from_dict(checkpoints.read_manifest(path)["config"])
        )
    expected = {"model": config.model.to_dict()}
    state, manifest = checkpoints.load(
        path, expected, map_location="cpu", defaults={"model": ModelConfig().to_dict()}
    )
    model = AdversarialAutoencoder(config.model)
    snapshots = state.pop("code_snapshots", None)
    if snapshots is not None:
        manifest["code_snapshots"] = snapshots.float()
    missing, unexpected = model.load_state_dict(dequantize(state), strict=False)
    if unexpected or any(not k.startswith("discriminators.") for k in missing):
        raise CheckpointError(
            f"{path} does not fit the current model code: "
            f"missing {missing}, unexpected {unexpected}"
        )
    return model.to(device).eval(), manifest


def read_result(name: str) -> dict:
    """The experiment result ``name`` (a JSON file of the clone's ``results/`` folder)."""
    return read_json(RESULTS_DIR / f"{name}.json", "result")


def describe(manifest: dict) -> str:
    """One line on where weights came from: schedule, device, wall time, versions."""
    minutes = manifest.get("wall_time_s", 0) / 60
    return (
        f"{manifest.get('schedule', '?')}; trained on {manifest.get('device', '?')} in "
        f"{minutes:.1f} min with aae_lib {manifest['versions']['aae_lib']}, "
        f"torch {manifest['versions']['torch']}"
    )


def with_changes(name: str, changes: dict) -> TrainConfig:
    """The book's config ``name`` with some fields changed; a key may name a field of the
    model (e.g. ``ncode``, ``mixture_radius``) or of the run (e.g. ``n_labeled``,
    ``noise_std``)."""
    config = book_config(name)
    model_fields = {f.name for f in fields(ModelConfig)}
    unknown = set(changes) - model_fields - {f.name for f in fields(TrainConfig)}
    if unknown:
        raise AAEError(f"{name} has no setting {', '.join(sorted(unknown))}")
    model = replace(config.model, **{k: v for k, v in changes.items() if k in model_fields})
    return replace(
        config, model=model, **{k: v for k, v in changes.items() if k not in model_fields}
    )


def variant_name(name: str, config: TrainConfig) -> str:
    """``name`` for the book's own config, else ``name-<hash of the config>``, so weights
    trained with other settings never shadow or replace the book's."""
    if config == book_config(name):
        return name
    digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode())
    return f"{name}-{digest.hexdigest()[:8]}"
