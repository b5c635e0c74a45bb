"""Train every book model, several at once, and export their weights: the GPU command.

    aae train-book --device cuda --jobs 4

Each model trains in its own process (started with "spawn", which CUDA needs), so ``--jobs``
models share the device at a time: the book's MLPs are far too small to fill a GPU alone.
Without ``--epochs`` every model runs its recipe's full schedule. Checkpoints go to
``--runs`` (an interrupted run resumes), weights to ``--out`` (default: your own folder, where
the notebooks look; ``--replace-book-weights`` writes the committed ones). At the end a table
gives each model's epochs, wall time and epochs per second, with the device's name; a model
that failed is reported in its row, and the others still train and are summarised.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import replace
from pathlib import Path

from ..cli.args import (
    Parser,
    add_run_options,
    add_weights_destination,
    positive_int,
    weights_destination,
)
from ..recipes import BOOK_MODELS


def train_one(
    name: str,
    device_name: str,
    runs: Path,
    out: Path,
    epochs: int | None,
    smoke: bool,
    precision: str | None = None,
    data_dir: Path | None = None,
) -> dict:
    """Train and export one book model in this process; return what the table reports, or
    the error that stopped it, in one line."""
    try:
        return _train_one(name, device_name, runs, out, epochs, smoke, precision, data_dir)
    except KeyboardInterrupt:
        raise
    except Exception as error:  # reported in the model's row; the others go on
        return {"name": name, "error": f"{type(error).__name__}: {error}".splitlines()[0]}


def _train_one(
    name: str,
    device_name: str,
    runs: Path,
    out: Path,
    epochs: int | None,
    smoke: bool,
    precision: str | None,
    data_dir: Path | None,
) -> dict:
    from ..data import load_mnist
    from ..pretrained import book_config
    from ..train import device_name as describe_device
    from ..train import resolve_device
    from .export import smoke_run, train_and_export

    device = resolve_device(device_name)
    config, data = book_config(name), load_mnist(data_dir, device=device)
    if precision is not None:
        config = replace(config, precision=precision)
    if smoke:
        (config, data), epochs = smoke_run(config, data), 1
    start = time.perf_counter()
    trainer = train_and_export(
        name,
        config,
        data,
        device,
        runs / name,
        out,
        epochs,
        ", smoke subset" if smoke else "",
        progress=False,
    )
    seconds = time.perf_counter() - start
    return {
        "name": name,
        "epochs": trainer.epochs_done,
        "seconds": seconds,
        "trained_epochs_per_second": trainer.speed / len(trainer.images),
        "device": describe_device(device),
    }


def report(rows: list[dict], total_seconds: float, jobs: int) -> str:
    lines = [f"{'model':<24}{'epochs':>8}{'wall time':>12}{'epochs/s':>10}  device"]
    for row in rows:
        if "error" in row:
            lines.append(f"{row['name']:<24}  failed: {row['error']}")
            continue
        lines.append(
            f"{row['name']:<24}{row['epochs']:>8}{row['seconds']:>11.0f}s"
            f"{row['trained_epochs_per_second']:>10.3f}  {row['device']}"
        )
    failed = sum("error" in row for row in rows)
    lines.append(
        f"all {len(rows)} models, {jobs} at a time: {total_seconds:.0f} s"
        + (f"; {failed} failed" if failed else "")
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from .. import checkpoints
    from ..train import resolve_device

    parser = Parser(prog="aae train-book", description=__doc__.split("\n")[0])
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"book models to train (default: all): {', '.join(BOOK_MODELS)}",
    )
    add_run_options(parser)
    add_weights_destination(parser)
    parser.add_argument("--jobs", type=positive_int, default=2, help="models trained at once")
    parser.add_argument(
        "--epochs",
        type=positive_int,
        help="stop each model after this many epochs (default: its full schedule)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="one epoch of each model on a small subset (what CI runs)",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BOOK_MODELS]
    if unknown:
        parser.error(f"no book model {', '.join(unknown)}; choose from {', '.join(BOOK_MODELS)}")
    out = weights_destination(args)
    names = args.names or list(BOOK_MODELS)
    resolve_device(args.device)  # a device this machine lacks is refused here, once
    checkpoints.ensure_writable(out)
    for name in names:
        checkpoints.ensure_writable(args.runs / name)
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        rows = pool.starmap(
            train_one,
            [
                (
                    name,
                    args.device,
                    args.runs,
                    out,
                    args.epochs,
                    args.smoke,
                    args.precision,
                    args.data_dir,
                )
                for name in names
            ],
        )
    print(report(rows, time.perf_counter() - start, args.jobs))
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
