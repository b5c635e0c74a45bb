"""The book's models: their training configs, and the committed weights behind its figures.

Committed weights are the inference half of a model (encoder and decoder, no discriminators),
each matrix in int8 with a scale per row (see ``quantize``; weights committed before that are
float16), beside a manifest with the config, schedule, device, wall time, metrics, versions and
SHA-256. ``load`` refuses weights whose manifest does not match the config the book asks for.

Train and export one of them into your own folder (resumes an interrupted run); replacing
the book's committed weights takes ``--replace-book-weights``::

    python -m aae_lib.pretrained semisupervised_1000 --epochs 30 --device cuda
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
from dataclasses import fields, replace
from pathlib import Path

import torch

from . import checkpoints
from .data import MNIST, VALIDATION_SIZE, load_mnist
from .errors import AAEError, CheckpointError
from .models import AdversarialAutoencoder, ModelConfig
from .recipes import BOOK_MODELS, PLATEAU_MODELS, RECIPES
from .train import TrainConfig, Trainer, resolve_device

PRETRAINED_DIR = Path(__file__).parent / "pretrained"
INT8_SCALES = "int8_scales"  # the key under which a stored state keeps its matrices' scales


# Epochs of the committed weights, trained on a 2-core CPU. A retraining cell on a CPU defaults
# to the same budget; on a GPU it runs the config's full schedule. The models trained to their
# plateau ran 12 epochs past the first learning-rate drop (epoch 100), where their curves had
# flattened; the 1000-label model ran 100 epochs, the length fixed for all its label draws.
CPU_EPOCHS = {**{name: 24 for name in BOOK_MODELS},
              **{name: 112 for name in PLATEAU_MODELS},
              "semisupervised_1000": 100, "semisupervised_100": 61, "semisupervised_all": 61,
              "clustering_16": 30, "reduction_1000_labels": 50}


def book_config(name: str) -> TrainConfig:
    if name not in BOOK_MODELS:
        raise KeyError(f"no book model {name!r}; choose one of {', '.join(BOOK_MODELS)}")
    return RECIPES[name]


def user_weights_dir() -> Path:
    """Where weights you train go: ``$AAE_CHECKPOINTS`` or ``~/.cache/aae_lib/checkpoints``."""
    return Path(os.environ.get("AAE_CHECKPOINTS", Path.home() / ".cache/aae_lib/checkpoints"))


def weights_path(name: str, folder: str | Path | None = None) -> Path:
    return Path(folder or PRETRAINED_DIR) / f"{name}.pt"


def quantize(weights: dict[str, torch.Tensor]) -> dict:
    """Weights as the repository stores them: each matrix in int8 with one float32 scale per
    output row (the row's largest magnitude maps to 127), other floating tensors in float16.

    Every replaced model stays in the git history, which must stay small enough to clone:
    int8 halves float16's 7 MB per model. On the semi-supervised model it moved
    test accuracy by one image in 10 000 and reconstruction error by 0.05 %; the manifest's
    ``stored_metrics`` are measured on the weights as stored, for every export.
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
    """float32 weights from what ``quantize`` (or the earlier float16 export) stored."""
    scales = state.get(INT8_SCALES, {})
    return {name: tensor.float() * scales[name] if name in scales else tensor.float()
            for name, tensor in state.items() if name != INT8_SCALES}


def export(trainer: Trainer, path: str | Path, schedule: str) -> Path:
    """Save the trainer's encoder and decoder as ``quantize`` stores them, with a full
    manifest: the training's own metrics and ``stored_metrics``, those of the stored weights."""
    state = quantize(trainer.model.inference_state_dict())
    stored_model = copy.deepcopy(trainer.model)
    stored_model.load_state_dict(dequantize(state), strict=False)
    stored_metrics = trainer.evaluate(stored_model)
    if trainer.code_snapshots:
        state["code_snapshots"] = torch.stack(trainer.code_snapshots)
    manifest = {**trainer.manifest(), "schedule": schedule, "dtype": "int8",
                "contents": "encoder and decoder (inference only)",
                "stored_metrics": stored_metrics, "history": dict(trainer.history)}
    return checkpoints.save(path, state, manifest)


def load(name: str, device: str | torch.device = "cpu", folder: str | Path | None = None,
         config: TrainConfig | None = None) -> tuple[AdversarialAutoencoder, dict]:
    """The model saved as ``name`` in float32 on ``device``, and its manifest; its weights
    must fit ``config`` (default: the book's config of that name).

    For a 2-D model the manifest also carries ``code_snapshots``: the codes of the first test
    images after every epoch of training (epochs × images × 2), for watching training happen.
    """
    config = config or book_config(name)
    path = weights_path(name, folder)
    expected = {"model": config.model.to_dict()}
    state, manifest = checkpoints.load(path, expected, map_location="cpu",
                                       defaults={"model": ModelConfig().to_dict()})
    model = AdversarialAutoencoder(config.model)
    snapshots = state.pop("code_snapshots", None)
    if snapshots is not None:
        manifest["code_snapshots"] = snapshots.float()
    missing, unexpected = model.load_state_dict(dequantize(state), strict=False)
    if unexpected or any(not k.startswith("discriminators.") for k in missing):
        raise CheckpointError(f"{path} does not fit the current model code: "
                              f"missing {missing}, unexpected {unexpected}")
    return model.to(device).eval(), manifest


def describe(manifest: dict) -> str:
    """One line on where weights came from: schedule, device, wall time, versions."""
    minutes = manifest.get("wall_time_s", 0) / 60
    return (f"{manifest.get('schedule', '?')}; trained on {manifest.get('device', '?')} in "
            f"{minutes:.1f} min with aae_lib {manifest['versions']['aae_lib']}, "
            f"torch {manifest['versions']['torch']}")


def smoke_run(config: TrainConfig, data: MNIST) -> tuple[TrainConfig, MNIST]:
    """A config and data for one quick epoch: 1280 training and 1000 test images (plus the
    10 000 validation images a run with a validation split holds out, so that it measures
    what the full run measures), 100 labels where the model uses labels. Enough for CI to
    prove that a model trains."""
    n_train = 1280 + (VALIDATION_SIZE if config.validation else 0)
    subset = MNIST(data.train_images[:n_train], data.train_labels[:n_train],
                   data.test_images[:1000], data.test_labels[:1000])
    return replace(config, n_labeled=100 if config.n_labeled else None), subset


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
    return replace(config, model=model,
                   **{k: v for k, v in changes.items() if k not in model_fields})


def variant_name(name: str, config: TrainConfig) -> str:
    """``name`` for the book's own config, else ``name-<hash of the config>``, so weights
    trained with other settings never shadow or replace the book's."""
    if config == book_config(name):
        return name
    digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode())
    return f"{name}-{digest.hexdigest()[:8]}"


def load_or_train(name: str, device: str | torch.device = "auto", epochs: int | None = None,
                  retrain: bool = False, smoke: bool | None = None, **changes,
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
    retrain = retrain or os.environ.get("AAE_RETRAIN") == "1"
    smoke = os.environ.get("AAE_SMOKE") == "1" if smoke is None else smoke
    device = resolve_device(str(device))
    config = with_changes(name, changes)
    stem = variant_name(name, config)
    own = user_weights_dir() / ("smoke" if smoke else "")
    if not (retrain or smoke):
        for folder, origin in ((PRETRAINED_DIR, "the committed"), (own, "your own")):
            if weights_path(stem, folder).exists():
                model, manifest = load(stem, device, folder, config)
                print(f"Loaded {origin} weights of {stem}: {describe(manifest)}.")
                return model, manifest
    data = load_mnist(device=device)
    if smoke:
        (config, data), epochs = smoke_run(config, data), 1
    elif epochs is None and device.type == "cpu":
        epochs = CPU_EPOCHS[name]
        print(f"On a CPU: training {epochs} of {config.epochs} epochs, as the committed "
              "weights were (pass epochs= to change it).")
    train_and_export(stem, config, data, device, own / "runs" / stem, own, epochs,
                     ", smoke subset" if smoke else "")
    return load(stem, device, own, config)


def train_and_export(name: str, config: TrainConfig, data: MNIST, device: torch.device,
                     run_dir: Path, out_dir: Path, epochs: int | None, note: str = "",
                     progress: bool = True) -> Trainer:
    """Train (resuming from ``run_dir``) and export the inference weights to ``out_dir``."""
    trainer = Trainer(config, data, device, save_dir=run_dir, progress=progress)
    if trainer.resume():
        print(f"resumed {name} after epoch {trainer.epochs_done - 1}")
    trainer.fit(epochs)
    schedule = (f"{trainer.epochs_done} of the {config.epochs}-epoch schedule "
                f"(lr ÷10 at epochs {', '.join(map(str, config.lr_milestones))}){note}")
    path = export(trainer, weights_path(name, out_dir), schedule)
    print(f"Trained {name}: {trainer.speed_report()}; saved {path}.")
    return trainer


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m aae_lib.pretrained",
                                     description="train and export one of the book's models")
    parser.add_argument("name", choices=sorted(BOOK_MODELS))
    parser.add_argument("--epochs", type=positive_int, help="stop after this many (default: the "
                        "config's full schedule; milestones stay where the schedule puts them)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="fp32")
    parser.add_argument("--runs", type=Path, default=Path("runs"),
                        help="checkpoints of the run (resumed if present)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, help="folder for the exported weights (default "
                       "$AAE_CHECKPOINTS or ~/.cache/aae_lib/checkpoints, where the notebooks "
                       "look for your own weights)")
    where.add_argument("--replace-book-weights", action="store_true",
                       help=f"overwrite the committed weights in {PRETRAINED_DIR}")
    args = parser.parse_args(argv)
    out = PRETRAINED_DIR if args.replace_book_weights else args.out or user_weights_dir()
    config = replace(book_config(args.name), precision=args.precision)
    try:
        device = resolve_device(args.device)
        train_and_export(args.name, config, load_mnist(device=device), device,
                         args.runs / args.name, out, args.epochs)
    except AAEError as error:
        parser.exit(1, f"{parser.prog}: error: {error}\n")


if __name__ == "__main__":
    main()
