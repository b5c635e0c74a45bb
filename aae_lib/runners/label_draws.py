"""How much Table 2's error depends on which images are labeled: one run of a semi-supervised
recipe per seed, each seed drawing its own class-balanced labels, validation split and initial
weights. Every run keeps the recipe's schedule for a fixed number of epochs, so no choice is
made on the test set; the summary is the final test error's mean and standard deviation.

    aae draws semisupervised_1000 --seeds 0 1 2 --epochs 100

Checkpoints go to ``--runs`` (an interrupted run resumes; a finished one is only read back),
the summary to ``--out`` as JSON, rewritten after every draw, so a finished draw is never lost
to a later failure. A draw already recorded in ``--out`` for the same recipe and
epochs is kept as recorded, so a summary can grow by new seeds on another machine, where the
earlier draws' checkpoints are gone. The committed model is one of the draws when its seed and
epoch count match: it is read from its manifest's history, not retrained. Each draw records the
machine that trained it.

``--training-seed T`` keeps each seed's labels and validation split but starts every run from
the initial weights and batch order of seed ``T``: whether a draw's error belongs to its labels
or to the luck of its training.

    aae draws semisupervised_100 --seeds 2 3 --epochs 61 --training-seed 10
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import torch

from .. import checkpoints
from ..data import MNIST
from ..errors import AAEError
from ..evaluate import confusion_counts
from ..precision import cpu_model
from ..train import TrainConfig, Trainer, device_name

TRACKED = ("accuracy/validation", "accuracy/test")


def train_draw(
    config: TrainConfig,
    data: MNIST,
    epochs: int,
    run_dir: Path,
    device: str | torch.device = "cpu",
    precision: str | None = None,
) -> dict:
    """Train (or resume) one draw for ``epochs`` epochs; return its seed (the labels') and
    training seed, per-epoch validation and test accuracy, the final test confusion counts
    (``[digit][class]``: where a draw's errors concentrate) and the seconds spent training
    (evaluation excluded)."""
    trainer = Trainer(config, data, device, save_dir=run_dir, progress=False, precision=precision)
    trainer.resume()
    trainer.fit(epochs)
    history = trainer.history
    return {
        "seed": config.label_draw_seed,
        "training_seed": config.seed,
        "epochs": trainer.epochs_done,
        **{name: history[name] for name in TRACKED},
        "confusion/test": confusion_counts(
            trainer.model, trainer.eval_images, trainer.eval_labels
        ).tolist(),
        "train_seconds": sum(history["time/epoch_seconds"]),
        "device": device_name(trainer.device),
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
    }


def committed_draw(name: str, seed: int, epochs: int) -> dict | None:
    """The committed model of recipe ``name`` as a draw, if it is this seed's run of ``epochs``
    epochs (its manifest keeps every epoch's accuracies); else None."""
    from ..pretrained import weights_path

    path = weights_path(name)
    if not path.exists():
        return None
    manifest = checkpoints.read_manifest(path)
    if (manifest["seed"], manifest["epochs_done"]) != (seed, epochs):
        return None
    history = manifest["history"]
    return {
        "seed": seed,
        "epochs": epochs,
        **{name: history[name] for name in TRACKED},
        "train_seconds": sum(history["time/epoch_seconds"]),
        "device": manifest["device"],
    }


def recorded_draws(
    out: Path, name: str, epochs: int, training_seed: int | None = None
) -> dict[int, dict]:
    """The draws an earlier summary at ``out`` holds for this recipe, epoch count and training
    seed, by seed; none if there is no such summary. A summary of another recipe, length or
    training seed is an error, so that it is never overwritten by mistake."""
    if not out.exists():
        return {}
    try:
        summary = json.loads(out.read_text())
        held = (summary["recipe"], summary["epochs"], summary.get("training_seed"))
        runs = {run["seed"]: run for run in summary["runs"]}
    except (ValueError, KeyError, TypeError):
        raise AAEError(
            f"{out} is not a summary of label draws (damaged or cut short?); "
            "move it away or choose another --out"
        ) from None
    if held != (name, epochs, training_seed):
        raise AAEError(
            f"{out} holds {describe(*held)}, not "
            f"{describe(name, epochs, training_seed)}; choose another --out"
        )
    return runs


def describe(name: str, epochs: int, training_seed: int | None) -> str:
    """A summary's kind of draws, in words."""
    trained = "" if training_seed is None else f", each trained from seed {training_seed}"
    return f"{name} draws of {epochs} epochs{trained}"


def final_test_error(run: dict) -> float:
    """A draw's test error in percent after its last epoch."""
    return 100 * (1 - run["accuracy/test"][-1])


def summarize(runs: list[dict]) -> dict:
    """Mean and sample standard deviation of the draws' final test errors, in percent."""
    errors = [final_test_error(run) for run in runs]
    return {
        "test_error_mean": statistics.mean(errors),
        "test_error_std": statistics.stdev(errors) if len(errors) > 1 else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    from .. import checkpoints
    from ..cli.args import Parser, add_run_options, natural_int, positive_int
    from ..data import load_mnist
    from ..files import check_writable
    from ..recipes import RECIPES, recipe
    from ..train import resolve_device

    parser = Parser(prog="aae draws", description=__doc__.split("\n")[0])
    parser.add_argument(
        "name",
        choices=[name for name, config in RECIPES.items() if config.classify and config.validation],
    )
    parser.add_argument("--seeds", type=natural_int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=positive_int, required=True)
    add_run_options(parser)
    parser.add_argument(
        "--out",
        type=Path,
        help="default: NAME_draws.json; NAME_draws_trainingT.json with --training-seed T",
    )
    parser.add_argument(
        "--training-seed",
        type=natural_int,
        help="initial weights and batch order of this seed for every draw "
        "(default: each draw's own seed)",
    )
    args = parser.parse_args(argv)
    training = args.training_seed
    suffix = "" if training is None else f"_training{training}"
    out = args.out or Path(f"{args.name}_draws{suffix}.json")
    recorded = recorded_draws(out, args.name, args.epochs, training)
    check_writable(out)
    run_dirs = {seed: args.runs / f"{args.name}_seed{seed}{suffix}" for seed in args.seeds}
    for seed, folder in run_dirs.items():
        if seed not in recorded:
            checkpoints.ensure_writable(folder)
    device = resolve_device(args.device)
    to_train = set(args.seeds) - set(recorded)
    data = load_mnist(args.data_dir, device=device) if to_train else None
    runs = []
    for seed in args.seeds:
        run = recorded.get(seed)
        if run is None and training is None:
            run = committed_draw(args.name, seed, args.epochs)
        source = "recorded" if seed in recorded else "committed" if run else "trained"
        if run is None:
            seeds = dict(seed=seed) if training is None else dict(seed=training, label_seed=seed)
            run = train_draw(
                recipe(args.name, **seeds),
                data,
                args.epochs,
                run_dirs[seed],
                device,
                args.precision,
            )
        runs.append(run)
        print(
            f"seed {seed} ({source}): test error {final_test_error(run):.2f} % after "
            f"{run['epochs']} epochs ({run['train_seconds'] / 60:.0f} min of training)"
        )
        summary = {
            "recipe": args.name,
            "epochs": args.epochs,
            "training_seed": training,
            **summarize(runs),
            "runs": runs,
        }
        out.write_text(json.dumps(summary, indent=1) + "\n")
    print(
        f"test error {summary['test_error_mean']:.2f} ± {summary['test_error_std']:.2f} % "
        f"over {len(runs)} label draws; written to {out}"
    )
    return 0


__all__ = [
    "train_draw",
    "committed_draw",
    "recorded_draws",
    "describe",
    "final_test_error",
    "summarize",
]

if __name__ == "__main__":
    raise SystemExit(main())
