"""How far bf16 training efficiency can rise on this machine: the trainer's step as it runs,
and with its overheads removed one at a time.

    python -m benchmarks.bf16_ceiling [--kind fig2-gmm] [--steps N] [--repeats N] [--data-dir D]

Each variant times ``steps`` minibatches of ``benchmarks.train_speed``'s trainer after its
warm-up; the variants run in turn, ``repeats`` times, in this one process, and the best run of
each counts. Efficiency is the step's matrix-product FLOPs per second over the peak this
process measures for the variant's dtype, as in ``benchmarks.train_speed``.

- ``fp32`` and ``bf16``: the trainer as the book and the CLI run it.
- ``bf16, no optimiser``: the optimiser steps skipped (weights never change), so the time left
  is matrix products, autocast's casts and elementwise work.
- ``bf16 weights``: the model itself in bf16 (no casts; bf16 gradients and Adam state, half
  the optimiser's memory traffic). Not a way to train the book's models, whose weights and
  optimiser state must stay fp32; it bounds what removing every cast could give.
- ``bf16 weights, no optimiser``: matrix products and elementwise work alone.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from aae_lib.data import batch_indices, find_mnist
from benchmarks.peaks import peak_matmul_gflops
from benchmarks.train_speed import KINDS, machine, machine_tag, ours_trainer, step_flops

VARIANTS = ("fp32", "bf16", "bf16, no optimiser", "bf16 weights", "bf16 weights, no optimiser")


def variant_trainer(variant: str, kind: str, steps: int, data_dir: Path | None = None):
    """A warmed-up trainer on the CPU changed as ``variant`` says."""
    precision = "fp32" if variant == "fp32" else "bf16"
    trainer = ours_trainer(
        kind, find_mnist(data_dir), steps, torch.device("cpu"), {"precision": precision}
    )
    if variant.startswith("bf16 weights"):
        trainer.model.to(torch.bfloat16)
        trainer.optimizers = {phase: trainer._optimizer(phase) for phase in trainer.optimizers}
    if variant.endswith("no optimiser"):
        for optimizer in trainer.optimizers.values():
            optimizer.step = lambda: None
    trainer.train_epoch()  # the fresh optimisers' state and the variant's kernels warm up
    return trainer


def seconds_per_step(trainer, steps: int) -> float:
    start = time.perf_counter()
    trainer.train_epoch()
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bf16_ceiling", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--kind", choices=KINDS, default="fig2-gmm")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    trainers = {
        variant: variant_trainer(variant, args.kind, args.steps, args.data_dir)
        for variant in VARIANTS
    }
    fp32 = trainers["fp32"]
    index = batch_indices(len(fp32.images), fp32.config.batch_size, fp32.generator, "cpu")[0]
    flops = step_flops(fp32, index)
    best = dict.fromkeys(VARIANTS, float("inf"))
    peaks = {torch.float32: 0.0, torch.bfloat16: 0.0}
    for _ in range(args.repeats):
        for dtype in peaks:
            peaks[dtype] = max(peaks[dtype], peak_matmul_gflops(dtype, "cpu")["peak"])
        for variant, trainer in trainers.items():
            best[variant] = min(best[variant], seconds_per_step(trainer, args.steps))
    print(
        f"{args.kind}, batch {fp32.config.batch_size}, {flops / 1e9:.2f} GFLOP of matrix "
        f"products per step {machine_tag(machine(torch.device('cpu'), torch.get_num_threads()))}"
    )
    print(f"peak: fp32 {peaks[torch.float32]:.0f} GFLOP/s, bf16 {peaks[torch.bfloat16]:.0f}")
    for variant, seconds in best.items():
        peak = peaks[torch.float32 if variant == "fp32" else torch.bfloat16]
        print(
            f"{variant:28s} {1e3 * seconds:6.1f} ms per step, efficiency "
            f"{100 * flops / seconds / 1e9 / peak:3.0f} %"
        )


if __name__ == "__main__":
    main()
