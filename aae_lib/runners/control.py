"""The supervised-only control of Table 2: the semi-supervised model's encoder and classifier
trained on its labeled images alone, with the same optimiser, noise and schedule as its
classification phase. The gap to the semi-supervised model is what the unlabeled images, the
reconstruction and the two adversaries buy.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import torch

from ..cli.args import Parser, add_run_options, natural_int, positive_int, whole_number
from ..config import TrainConfig
from ..data import MNIST, N_CLASSES
from ..files import check_writable
from ..train import Trainer


def train_classifier_alone(
    config: TrainConfig,
    data: MNIST,
    epochs: int,
    device: str | torch.device = "cpu",
    run_dir: Path | None = None,
    precision: str | None = None,
) -> dict:
    """Train on the ``config.n_labeled`` labeled images only; pick the epoch on validation.

    Uses the same class-balanced labels (``config.label_draw_seed``) and, with
    ``config.validation``, the same 50 000 / 10 000 split as the semi-supervised run, through
    the same trainer with its classification phase alone. Checkpoints go to ``run_dir`` (an
    interrupted run resumes). Returns the per-epoch validation and test accuracies, the chosen
    epoch and its test accuracy.
    """
    if not config.validation:
        raise ValueError("the control chooses its epoch on validation: set validation=True")
    trainer = Trainer(
        config,
        data,
        device,
        save_dir=run_dir,
        progress=False,
        precision=precision,
        supervised_only=True,
    )
    trainer.resume()
    trainer.fit(epochs)
    history = {name: trainer.history[name] for name in ("accuracy/validation", "accuracy/test")}
    validation = history["accuracy/validation"]
    best = max(range(len(validation)), key=validation.__getitem__)
    return {**history, "chosen_epoch": best, "test_accuracy": history["accuracy/test"][best]}


def summarize(runs: list[dict], n_labeled: int, epochs: int, device: str) -> dict:
    errors = [100 * (1 - run["test_accuracy"]) for run in runs]
    return {
        "n_labeled": n_labeled,
        "epochs": epochs,
        "device": device,
        "test_error_mean": statistics.mean(errors),
        "test_error_std": statistics.stdev(errors) if len(errors) > 1 else 0.0,
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    """``aae control --seeds 0 1 2``: one control run per label draw, written as JSON after
    each draw (per-epoch accuracies, the chosen epoch, its test error, the wall time)."""
    from .. import checkpoints
    from ..data import load_mnist
    from ..recipes import recipe
    from ..train import device_name, resolve_device

    parser = Parser(prog="aae control", description="the supervised-only control of Table 2")
    parser.add_argument("--seeds", type=natural_int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--n-labeled", type=whole_number(N_CLASSES, " (one label per digit)"), default=1000
    )
    parser.add_argument("--epochs", type=positive_int, default=100)
    add_run_options(parser)
    parser.add_argument("--out", type=Path, default=Path("control.json"))
    args = parser.parse_args(argv)
    configs = {
        seed: recipe("semisupervised_1000", seed=seed, n_labeled=args.n_labeled)
        for seed in args.seeds
    }  # every setting checked before any work
    check_writable(args.out)
    run_dirs = {seed: args.runs / f"control_{args.n_labeled}_seed{seed}" for seed in args.seeds}
    for folder in run_dirs.values():
        checkpoints.ensure_writable(folder)
    device = resolve_device(args.device)
    data, runs = load_mnist(args.data_dir, device=device), []
    for seed, config in configs.items():
        start = time.perf_counter()
        result = train_classifier_alone(
            config, data, args.epochs, device, run_dirs[seed], args.precision
        )
        runs.append({**result, "seed": seed, "seconds": time.perf_counter() - start})
        print(
            f"seed {seed}: test error {100 * (1 - result['test_accuracy']):.2f} % "
            f"(epoch {result['chosen_epoch']} chosen on validation)"
        )
        summary = summarize(runs, args.n_labeled, args.epochs, device_name(device))
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(
        f"test error {summary['test_error_mean']:.2f} ± {summary['test_error_std']:.2f} % "
        f"over {len(runs)} label draws; written to {args.out}"
    )
    return 0


__all__ = ["train_classifier_alone", "summarize"]

if __name__ == "__main__":
    raise SystemExit(main())
