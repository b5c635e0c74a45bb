"""Train every book model, several at once, and export their weights: the GPU command.

    python -m aae_lib.train_book --device cuda --jobs 4

Each model trains in its own process (started with "spawn", which CUDA needs), so ``--jobs``
models share the device at a time: the book's MLPs are far too small to fill a GPU alone.
Without ``--epochs`` every model runs its recipe's full schedule. Checkpoints go to
``--runs`` (an interrupted run resumes), weights to ``--out`` (default: your own folder, where
the notebooks look; ``--replace-book-weights`` writes the committed ones). At the end a table
gives each model's epochs, wall time and epochs per second, with the device's name.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from pathlib import Path

from .. import pretrained
from ..pretrained import user_weights_dir
from ..recipes import BOOK_MODELS
from .export import positive_int


def train_one(name: str, device_name: str, runs: Path, out: Path, epochs: int | None,
              smoke: bool) -> dict:
    """Train and export one book model in this process; return what the table reports."""
    from ..data import load_mnist
    from ..pretrained import book_config
    from ..train import device_name as describe_device
    from ..train import resolve_device
    from .export import smoke_run, train_and_export

    device = resolve_device(device_name)
    config, data = book_config(name), load_mnist(device=device)
    if smoke:
        (config, data), epochs = smoke_run(config, data), 1
    start = time.perf_counter()
    trainer = train_and_export(name, config, data, device, runs / name, out, epochs,
                               ", smoke subset" if smoke else "", progress=False)
    seconds = time.perf_counter() - start
    return {"name": name, "epochs": trainer.epochs_done, "seconds": seconds,
            "trained_epochs_per_second": trainer.speed / len(trainer.images),
            "device": describe_device(device)}


def report(rows: list[dict], total_seconds: float, jobs: int) -> str:
    lines = [f"{'model':<24}{'epochs':>8}{'wall time':>12}{'epochs/s':>10}  device"]
    for row in rows:
        lines.append(f"{row['name']:<24}{row['epochs']:>8}{row['seconds']:>11.0f}s"
                     f"{row['trained_epochs_per_second']:>10.3f}  {row['device']}")
    lines.append(f"all {len(rows)} models, {jobs} at a time: {total_seconds:.0f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m aae_lib.train_book",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"book models to train (default: all): {', '.join(BOOK_MODELS)}")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--jobs", type=positive_int, default=2, help="models trained at once")
    parser.add_argument("--epochs", type=positive_int,
                        help="stop each model after this many epochs (default: its full schedule)")
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, help="where the weights go (default: "
                       "$AAE_CHECKPOINTS or ~/.cache/aae_lib/checkpoints)")
    where.add_argument("--replace-book-weights", action="store_true",
                       help="overwrite the committed weights")
    parser.add_argument("--smoke", action="store_true",
                        help="one epoch of each model on a small subset (what CI runs)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BOOK_MODELS]
    if unknown:
        parser.error(f"no book model {', '.join(unknown)}; choose from {', '.join(BOOK_MODELS)}")
    out = pretrained.WEIGHTS_DIR if args.replace_book_weights else args.out or user_weights_dir()
    names = args.names or list(BOOK_MODELS)
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        rows = pool.starmap(train_one, [(name, args.device, args.runs, out, args.epochs,
                                         args.smoke) for name in names])
    print(report(rows, time.perf_counter() - start, args.jobs))


if __name__ == "__main__":
    main()
