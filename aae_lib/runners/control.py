"""The supervised-only control of Table 2: the semi-supervised model's encoder and classifier
trained on its labeled images alone, with the same optimiser, noise and schedule as its
classification phase. The gap to the semi-supervised model is what the unlabeled images, the
reconstruction and the two adversaries buy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from .. import evaluate
from ..data import MNIST, batch_indices, labeled_view
from ..models import AdversarialAutoencoder
from ..phases import add_input_noise, classification_loss
from ..train import TrainConfig


def train_classifier_alone(config: TrainConfig, data: MNIST, epochs: int,
                           device: str | torch.device = "cpu") -> dict:
    """Train on the ``config.n_labeled`` labeled images only; pick the epoch on validation.

    Uses the same class-balanced labels (``config.label_draw_seed``) and, with
    ``config.validation``, the same 50 000 / 10 000 split as the semi-supervised run. Returns
    the per-epoch validation and test accuracies, the chosen epoch and its test accuracy.
    """
    if not config.validation:
        raise ValueError("the control chooses its epoch on validation: set validation=True")
    device = torch.device(device)
    torch.manual_seed(config.seed)
    generator = torch.Generator(device).manual_seed(config.seed)
    view = labeled_view(data.to(device), config.n_labeled, True, config.label_draw_seed)
    model = AdversarialAutoencoder(config.model).to(device)
    optimizer = torch.optim.SGD(model.encoder.parameters(), lr=config.phase_lr("classification"),
                                momentum=config.phase_momentum("classification"))
    images, labels = view.images[view.labeled], view.labels[view.labeled]
    history: dict[str, list[float]] = {"accuracy/validation": [], "accuracy/test": []}
    for epoch in range(epochs):
        for group in optimizer.param_groups:
            group["lr"] = config.phase_lr("classification", epoch)
        model.train()
        for index in batch_indices(len(images), config.batch_size, generator, device):
            inputs = add_input_noise(model.prepare(images[index]), config.noise_std,
                                     config.model.pixel_range)
            loss = classification_loss(model, inputs, labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        history["accuracy/validation"].append(
            evaluate.accuracy(model, view.validation_images, view.validation_labels))
        history["accuracy/test"].append(
            evaluate.accuracy(model, view.test_images, view.test_labels))
    best = max(range(epochs), key=history["accuracy/validation"].__getitem__)
    return {**history, "chosen_epoch": best, "test_accuracy": history["accuracy/test"][best]}


def main(argv: list[str] | None = None) -> None:
    """``python -m aae_lib.control --seeds 0 1 2``: one control run per label draw, written as
    JSON (per-epoch accuracies, the chosen epoch, its test error, the wall time)."""
    from ..data import load_mnist
    from ..recipes import recipe
    from ..train import device_name, resolve_device

    parser = argparse.ArgumentParser(prog="python -m aae_lib.control",
                                     description="the supervised-only control of Table 2")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-labeled", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("control.json"))
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    data, runs = load_mnist(device=device), []
    for seed in args.seeds:
        start = time.perf_counter()
        config = recipe("semisupervised_1000", seed=seed, n_labeled=args.n_labeled)
        result = train_classifier_alone(config, data, args.epochs, device)
        runs.append({**result, "seed": seed, "seconds": time.perf_counter() - start})
        print(f"seed {seed}: test error {100 * (1 - result['test_accuracy']):.2f} % "
              f"(epoch {result['chosen_epoch']} chosen on validation)")
    errors = [100 * (1 - run["test_accuracy"]) for run in runs]
    summary = {"n_labeled": args.n_labeled, "epochs": args.epochs, "device": device_name(device),
               "test_error_mean": statistics.mean(errors),
               "test_error_std": statistics.stdev(errors) if len(errors) > 1 else 0.0,
               "runs": runs}
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"test error {summary['test_error_mean']:.2f} ± {summary['test_error_std']:.2f} % "
          f"over {len(runs)} label draws; written to {args.out}")


__all__ = ["train_classifier_alone"]

if __name__ == "__main__":
    main()
