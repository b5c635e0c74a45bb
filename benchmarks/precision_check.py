"""Does bfloat16 change a book model's results beyond seed-to-seed noise? Train one of the
book's recipes in fp32 and in bf16 with two seeds each, on one shortened schedule, and compare
the held-out metrics its chapter reports.

    python -m benchmarks.precision_check label_gmm_all --epochs 26 --lr-drop 20 --jobs 2

The schedule keeps the recipe's optimiser and learning rates and divides them by ten once, at
``--lr-drop``, so that the metrics have settled when the runs stop. ``--jobs`` runs that many
trainings side by side, each on ``cores / jobs`` threads. Runs checkpoint into ``--runs`` and
resume there; the report (metrics, their curves, epoch times, the machine) goes to
``results/precision_check-RECIPE.json``.

Two runs of one seed diverge within an epoch whatever their precision, so the check compares
the precisions' means: bf16 is *within noise* for a metric when the difference of the two
means is no larger than the larger of the two within-precision seed gaps.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch

from aae_lib import evaluate
from aae_lib.cli.args import positive_int
from aae_lib.data import load_mnist
from aae_lib.recipes import RECIPES, recipe
from aae_lib.train import Trainer, resolve_device

from .train_speed import RESULTS_DIR, machine, machine_tag

SEEDS = (0, 1)
PRECISIONS = ("fp32", "bf16")
MMD_SEED = 0  # one prior sample and code subsample for every run, so MMD² differs by model only


def held_out_curves(trainer: Trainer) -> dict[str, list[float]]:
    """The per-epoch test and validation metrics of the run."""
    return {
        name: values
        for name, values in trainer.history.items()
        if name.endswith(("/test", "/validation"))
    }


def held_out_metrics(trainer: Trainer) -> dict[str, float]:
    """The last epoch's test and validation metrics; for a 2-D code also MMD² of the test codes
    to the prior (chapter 5's measure of fit)."""
    metrics = {name: values[-1] for name, values in held_out_curves(trainer).items()}
    if trainer.config.model.ncode == 2:
        codes = evaluate.encode_all(trainer.model, trainer.eval_images)
        generator = torch.Generator(trainer.device).manual_seed(MMD_SEED)
        metrics["prior_mmd2/test"] = evaluate.prior_mmd(codes, trainer.model.prior, generator)[
            "mmd2"
        ]
    return metrics


def train_run(
    name: str,
    precision: str,
    seed: int,
    epochs: int,
    lr_drop: int,
    run_dir: Path,
    device: str,
    threads: int,
    data_dir: str | None,
) -> dict:
    """Train (or resume, or read back) one run; its metrics, curves and median epoch time."""
    torch.set_num_threads(threads)
    device = resolve_device(device)
    config = recipe(name, precision=precision, seed=seed, epochs=epochs, lr_milestones=(lr_drop,))
    trainer = Trainer(
        config, load_mnist(data_dir, device=device), device, save_dir=run_dir, progress=False
    )
    trainer.resume()
    trainer.fit()
    return {
        "precision": trainer.precision,
        "seed": seed,
        "threads": threads,
        "metrics": held_out_metrics(trainer),
        "curves": held_out_curves(trainer),
        "median_epoch_seconds": statistics.median(trainer.history["time/epoch_seconds"]),
    }


def compare(runs: dict[str, dict]) -> dict[str, dict]:
    """Per metric: each precision's mean, the seed gaps, and whether bf16 is within noise."""
    verdicts = {}
    for metric in runs[f"fp32/seed{SEEDS[0]}"]["metrics"]:
        values = {p: [runs[f"{p}/seed{s}"]["metrics"][metric] for s in SEEDS] for p in PRECISIONS}
        means = {p: statistics.mean(v) for p, v in values.items()}
        seed_gap = max(max(v) - min(v) for v in values.values())
        difference = abs(means["bf16"] - means["fp32"])
        verdicts[metric] = {
            "fp32_mean": means["fp32"],
            "bf16_mean": means["bf16"],
            "difference": difference,
            "seed_gap": seed_gap,
            "within_noise": difference <= seed_gap,
        }
    return verdicts


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.precision_check", description=__doc__.split("\n")[0]
    )
    parser.add_argument("recipe", choices=sorted(RECIPES))
    parser.add_argument("--epochs", type=positive_int, required=True)
    parser.add_argument(
        "--lr-drop",
        type=positive_int,
        required=True,
        help="the epoch after which every learning rate is divided by 10",
    )
    parser.add_argument("--jobs", type=positive_int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", type=Path, default=Path("runs/precision_check"))
    parser.add_argument("--data-dir")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.lr_drop >= args.epochs:
        parser.error("--lr-drop must come before the last epoch")
    device = resolve_device(args.device)
    threads = max(1, (os.cpu_count() or 1) // args.jobs) if device.type == "cpu" else 1
    jobs = {
        f"{p}/seed{s}": (
            args.recipe,
            p,
            s,
            args.epochs,
            args.lr_drop,
            args.runs / args.recipe / f"{p}-seed{s}",
            str(device),
            threads,
            args.data_dir,
        )
        for s in SEEDS
        for p in PRECISIONS
    }
    if args.jobs == 1:
        runs = {key: train_run(*job) for key, job in jobs.items()}
    else:
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            futures = {key: pool.submit(train_run, *job) for key, job in jobs.items()}
            runs = {key: future.result() for key, future in futures.items()}
    info = machine(device, threads)
    verdicts = compare(runs)
    print(
        f"{args.recipe}, {args.epochs} epochs (÷10 after epoch {args.lr_drop}), "
        f"{machine_tag(info)}, {args.jobs} run(s) at a time"
    )
    for key, run in runs.items():
        print(f"  {key}: {run['median_epoch_seconds']:.1f} s per epoch")
    print(
        f"{'metric':28s} {'fp32 mean':>10s} {'bf16 mean':>10s} {'|diff|':>8s} "
        f"{'seed gap':>8s}  within noise"
    )
    for metric, v in verdicts.items():
        print(
            f"{metric:28s} {v['fp32_mean']:10.4f} {v['bf16_mean']:10.4f} "
            f"{v['difference']:8.4f} {v['seed_gap']:8.4f}  "
            f"{'yes' if v['within_noise'] else 'NO'}"
        )
    within = all(v["within_noise"] for v in verdicts.values())
    print(f"bf16 is {'within' if within else 'NOT within'} seed-to-seed noise")
    report = {
        "recipe": args.recipe,
        "epochs": args.epochs,
        "lr_drop": args.lr_drop,
        "machine": info,
        "jobs": args.jobs,
        "runs": runs,
        "verdicts": verdicts,
        "within_noise": within,
    }
    path = args.json or RESULTS_DIR / f"precision_check-{args.recipe}.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
