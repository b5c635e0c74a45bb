"""Does bfloat16 change results beyond seed-to-seed noise? Train the same model in fp32 and in
bf16 with two seeds each and compare held-out metrics.

    python -m benchmarks.precision_check [--kind fig2-gmm] [--epochs 2] [--data-dir DIR]

bf16 counts as "within noise" when, for every metric, the gap between precisions at the same
seed is no larger than the gap between the two fp32 seeds (printed as a verdict, and JSON).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from aae_lib.data import load_mnist
from aae_lib.train import Trainer, resolve_device

from .train_speed import KINDS, RESULTS_DIR

SEEDS = (0, 1)


def final_metrics(history: dict[str, list[float]]) -> dict[str, float]:
    return {k: v[-1] for k, v in history.items() if "/test" in k or k.startswith("loss/")}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kind", default="fig2-gmm", choices=sorted(KINDS))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    data = load_mnist(args.data_dir, device=device)
    runs = {}
    for precision in ("fp32", "bf16"):
        for seed in SEEDS:
            config = dataclasses.replace(KINDS[args.kind], precision=precision, seed=seed,
                                         epochs=args.epochs)
            trainer = Trainer(config, data, device, progress=False)
            start = time.perf_counter()
            runs[f"{precision}/seed{seed}"] = final_metrics(trainer.fit())
            print(f"{precision} seed {seed}: {time.perf_counter() - start:.0f} s, "
                  f"{trainer.speed:,.0f} examples/s")
    seed_gap = {k: abs(runs["fp32/seed0"][k] - runs["fp32/seed1"][k]) for k in runs["fp32/seed0"]}
    precision_gap = {k: max(abs(runs[f"fp32/seed{s}"][k] - runs[f"bf16/seed{s}"][k])
                            for s in SEEDS) for k in seed_gap}
    print(f"\n{'metric':34s} {'fp32 s0':>9s} {'fp32 s1':>9s} {'bf16 s0':>9s} {'bf16 s1':>9s}"
          f"  precision gap / seed gap")
    for k in seed_gap:
        values = " ".join(f"{runs[r][k]:9.4f}" for r in runs)
        ratio = precision_gap[k] / seed_gap[k] if seed_gap[k] else float("inf")
        print(f"{k:34s} {values}  {ratio:.2f}")
    within = all(precision_gap[k] <= seed_gap[k] for k in seed_gap)
    print(f"\nbf16 is {'within' if within else 'NOT within'} seed-to-seed noise "
          f"after {args.epochs} epochs of {args.kind}")
    report = {"kind": args.kind, "epochs": args.epochs, "device": str(device), "runs": runs,
              "within_noise": within}
    path = args.json or RESULTS_DIR / f"precision_check-{args.kind}.json"
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    return report


if __name__ == "__main__":
    main()
