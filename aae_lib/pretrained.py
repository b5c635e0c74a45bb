"""The book's models: their training configs, and the committed weights behind its figures.

Committed weights are the inference half of a model (encoder and decoder, no discriminators) in
float16, beside a manifest with the config, schedule, device, wall time, metrics, versions and
SHA-256. ``load`` refuses weights whose manifest does not match the config the book asks for.

Train and export one of them (resumes an interrupted run)::

    python -m aae_lib.pretrained semisupervised_1000 --epochs 30 --device cuda
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from . import checkpoints
from .data import load_mnist
from .errors import CheckpointError
from .models import AdversarialAutoencoder, ModelConfig
from .train import TrainConfig, Trainer, paper_semisupervised, resolve_device

PRETRAINED_DIR = Path(__file__).parent / "pretrained"

FIG1 = dict(epochs=400, lr_milestones=(100, 300))
BOOK_MODELS: dict[str, TrainConfig] = {
    "unsupervised_gaussian": TrainConfig(model=ModelConfig(prior="gaussian"), **FIG1),
    "unsupervised_gmm": TrainConfig(model=ModelConfig(prior="gmm"), **FIG1),
    "label_gmm_all": TrainConfig(model=ModelConfig(kind="label", prior="gmm"), **FIG1),
    "label_gmm_10k": TrainConfig(model=ModelConfig(kind="label", prior="gmm"), n_labeled=10_000,
                                 validation=True, **FIG1),
    "supervised_ncode2": TrainConfig(model=ModelConfig(kind="supervised"), **FIG1),
    "supervised_ncode10": TrainConfig(model=ModelConfig(kind="supervised", ncode=10), **FIG1),
    "semisupervised_1000": paper_semisupervised(epochs=100),
}


def book_config(name: str) -> TrainConfig:
    if name not in BOOK_MODELS:
        raise KeyError(f"no book model {name!r}; choose one of {', '.join(BOOK_MODELS)}")
    return BOOK_MODELS[name]


def weights_path(name: str, folder: str | Path | None = None) -> Path:
    return Path(folder or PRETRAINED_DIR) / f"{name}.pt"


def export(trainer: Trainer, path: str | Path, schedule: str) -> Path:
    """Save the trainer's encoder and decoder in float16 with a full manifest."""
    state = {k: v.half() if v.is_floating_point() else v
             for k, v in trainer.model.inference_state_dict().items()}
    manifest = {**trainer.manifest(), "schedule": schedule, "dtype": "float16",
                "contents": "encoder and decoder (inference only)"}
    return checkpoints.save(path, state, manifest)


def load(name: str, device: str | torch.device = "cpu", folder: str | Path | None = None,
         ) -> tuple[AdversarialAutoencoder, dict]:
    """The committed model ``name`` in float32 on ``device``, and its manifest."""
    path = weights_path(name, folder)
    expected = {"model": book_config(name).model.to_dict()}
    state, manifest = checkpoints.load(path, expected, map_location="cpu")
    model = AdversarialAutoencoder(book_config(name).model)
    missing, unexpected = model.load_state_dict(
        {k: v.float() for k, v in state.items()}, strict=False)
    if unexpected or any(not k.startswith("discriminators.") for k in missing):
        raise CheckpointError(f"{path} does not fit the current model code: "
                              f"missing {missing}, unexpected {unexpected}")
    return model.to(device).eval(), manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m aae_lib.pretrained",
                                     description="train and export one of the book's models")
    parser.add_argument("name", choices=sorted(BOOK_MODELS))
    parser.add_argument("--epochs", type=int, help="stop after this many (default: the "
                        "config's full schedule; milestones stay where the schedule puts them)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--runs", type=Path, default=Path("runs"),
                        help="checkpoints of the run (resumed if present)")
    parser.add_argument("--out", type=Path, default=PRETRAINED_DIR)
    args = parser.parse_args(argv)
    config = replace(book_config(args.name), precision=args.precision)
    device = resolve_device(args.device)
    trainer = Trainer(config, load_mnist(device=device), device, save_dir=args.runs / args.name)
    if trainer.resume():
        print(f"resumed after epoch {trainer.epochs_done - 1}")
    trainer.fit(args.epochs)
    schedule = (f"{trainer.epochs_done} of the {config.epochs}-epoch schedule "
                f"(lr ÷10 at epochs {', '.join(map(str, config.lr_milestones))})")
    path = export(trainer, weights_path(args.name, args.out), schedule)
    print(f"{trainer.speed_report()}; exported {path}")


if __name__ == "__main__":
    main()
