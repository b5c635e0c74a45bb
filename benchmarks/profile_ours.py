"""Where one epoch of aae_lib's trainer spends its time, by operator.

    python -m benchmarks.profile_ours [--kind fig2-gmm] [--steps N] [--device auto|cpu|cuda]
        [--data-dir DIR] [--ours-option FIELD=VALUE ...] [--rows N]

Profiles the trainer exactly as benchmarks.train_speed times it (same data, warm-up and
options) with torch.profiler, recording input shapes, and prints the operators that take the
most time of their own (self time): CPU time on the CPU, device time on CUDA, then one line
per step by category: matrix products, dtype casts (autocast's weight casts and the casts of
bf16 gradients back to fp32), optimiser, and the rest (elementwise, losses, indexing).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from torch.profiler import ProfilerActivity, profile

from aae_lib.data import find_mnist
from benchmarks.train_speed import KINDS, ours_trainer, parse_option, resolve_device, synchronize

CATEGORIES = {"aten::mm": "matmul", "aten::addmm": "matmul", "aten::copy_": "dtype casts"}


def by_category(averages, steps: int, attribute: str) -> dict[str, float]:
    """Self time per step in ms, summed by category (optimiser: any operator named adam/sgd)."""
    totals: dict[str, float] = {}
    for event in averages:
        name = event.key
        if name in CATEGORIES:
            category = CATEGORIES[name]
        elif "adam" in name.lower() or "sgd" in name.lower():
            category = "optimiser"
        else:
            category = "other"
        totals[category] = totals.get(category, 0.0) + getattr(event, attribute) / 1e3 / steps
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.profile_ours", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--kind", choices=KINDS, default="fig2-gmm")
    parser.add_argument("--steps", type=int, default=20, help="profiled minibatches")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument(
        "--ours-option",
        type=parse_option,
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="TrainConfig field; repeatable",
    )
    parser.add_argument("--rows", type=int, default=15, help="operators to list")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    trainer = ours_trainer(
        args.kind, find_mnist(args.data_dir), args.steps, device, dict(args.ours_option)
    )
    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    synchronize(device)
    with profile(activities=activities, record_shapes=True) as profiler:
        trainer.train_epoch()
        synchronize(device)
    sort_by = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(f"{args.kind}, {args.steps} steps of batch {trainer.config.batch_size} on {device}")
    print(profiler.key_averages().table(sort_by=sort_by, row_limit=args.rows))
    print(
        profiler.key_averages(group_by_input_shape=True).table(
            sort_by=sort_by, row_limit=args.rows, max_name_column_width=30
        )
    )
    attribute = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    categories = by_category(profiler.key_averages(), args.steps, attribute)
    total = sum(categories.values())
    precision = getattr(trainer, "precision", trainer.config.precision)
    print(
        f"per step ({precision}): {total:.1f} ms; "
        + ", ".join(
            f"{name} {ms:.1f} ms ({100 * ms / total:.0f} %)" for name, ms in categories.items()
        )
    )


if __name__ == "__main__":
    main()
