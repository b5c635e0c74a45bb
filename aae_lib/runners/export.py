"""Train one of the book's models and export its inference weights.

Into your own folder by default (resumes an interrupted run); replacing the book's committed
weights takes ``--replace-book-weights``::

    aae export semisupervised_1000 --epochs 30 --device cuda
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import torch

from .. import checkpoints
from ..data import MNIST, VALIDATION_SIZE
from ..errors import AAEError
from ..pretrained import (
    book_config,
    dequantize,
    quantize,
    weights_path,
)
from ..recipes import BOOK_MODELS
from ..train import TrainConfig, Trainer, resolve_device


def export(trainer: Trainer, path: str | Path, schedule: str) -> Path:
    """Save the trainer's encoder and decoder as ``quantize`` stores them, with a full
    manifest: the training's own metrics and ``stored_metrics``, those of the stored weights."""
    state = quantize(trainer.model.inference_state_dict())
    stored_model = copy.deepcopy(trainer.model)
    stored_model.load_state_dict(dequantize(state), strict=False)
    stored_metrics = trainer.evaluate(stored_model)
    if trainer.code_snapshots:
        state["code_snapshots"] = torch.stack(trainer.code_snapshots)
    manifest = {
        **trainer.manifest(),
        "schedule": schedule,
        "dtype": "int8",
        "contents": "encoder and decoder (inference only)",
        "stored_metrics": stored_metrics,
        "history": dict(trainer.history),
    }
    return checkpoints.save(path, state, manifest)


def smoke_run(config: TrainConfig, data: MNIST) -> tuple[TrainConfig, MNIST]:
    """A config and data for one quick epoch: 1280 training and 1000 test images (plus the
    10 000 validation images a run with a validation split holds out, so that it measures
    what the full run measures), 100 labels where the model uses labels. Enough for CI to
    prove that a model trains."""
    n_train = 1280 + (VALIDATION_SIZE if config.validation else 0)
    subset = MNIST(
        data.train_images[:n_train],
        data.train_labels[:n_train],
        data.test_images[:1000],
        data.test_labels[:1000],
    )
    return replace(config, n_labeled=100 if config.n_labeled else None), subset


def train_and_export(
    name: str,
    config: TrainConfig,
    data: MNIST,
    device: torch.device,
    run_dir: Path,
    out_dir: Path,
    epochs: int | None,
    note: str = "",
    progress: bool = True,
) -> Trainer:
    """Train (resuming from ``run_dir``) and export the inference weights to ``out_dir``."""
    trainer = Trainer(config, data, device, save_dir=run_dir, progress=progress)
    return _train_and_export(trainer, name, out_dir, epochs, note)


def _train_and_export(
    trainer: Trainer, name: str, out_dir: Path, epochs: int | None, note: str = ""
) -> Trainer:
    config = trainer.config
    if trainer.resume():
        print(f"resumed {name} after epoch {trainer.epochs_done - 1}")
    trainer.fit(epochs)
    if trainer.epochs_done < 1:
        raise AAEError(f"{name}: no epoch was trained, so nothing is exported")
    schedule = (
        f"{trainer.epochs_done} of the {config.epochs}-epoch schedule "
        f"(lr ÷10 at epochs {', '.join(map(str, config.lr_milestones))}){note}"
    )
    path = export(trainer, weights_path(name, out_dir), schedule)
    print(f"Trained {name}: {trainer.speed_report()}; saved {path}.")
    return trainer


def main(argv: list[str] | None = None) -> int:
    from ..cli.args import (
        Parser,
        add_run_options,
        add_weights_destination,
        open_trainer,
        positive_int,
        weights_destination,
    )
    from ..files import check_writable

    parser = Parser(prog="aae export", description="train and export one of the book's models")
    parser.add_argument("name", choices=sorted(BOOK_MODELS))
    parser.add_argument(
        "--epochs",
        type=positive_int,
        help="stop after this many (default: the "
        "config's full schedule; milestones stay where the schedule puts them)",
    )
    add_run_options(parser, runs_help="checkpoints of the run (resumed if present)")
    add_weights_destination(parser)
    args = parser.parse_args(argv)
    out = weights_destination(args)
    config = book_config(args.name)
    device = resolve_device(args.device)
    check_writable(weights_path(args.name, out))  # before training, not after it
    folder = args.runs / args.name
    trainer = open_trainer(config, folder, device, args.data_dir, precision=args.precision)
    _train_and_export(trainer, args.name, out, args.epochs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
