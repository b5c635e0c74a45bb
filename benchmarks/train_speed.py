"""Training speed and peak memory of aae_lib's trainer against a typical public implementation.

    python -m benchmarks.train_speed [--device auto|cpu|cuda] [--steps N] [--repeats N]
        [--threads N] [--kinds KIND ...] [--data-dir DIR] [--ours-option FIELD=VALUE ...]
        [--json PATH] [--smoke]

Both sides train the same networks at batch 128, for each model kind of the book. "Ours" is
``aae_lib.train.Trainer`` as the notebooks and CLI drive it: it gets the first ``steps × 128``
training images, so that ``train_epoch()`` is ``steps`` minibatches, and is timed over that one
epoch. The baseline (benchmarks/baseline.py) gets ``WARMUP_STEPS`` more minibatches of images,
so that warm-up and the ``steps`` timed minibatches share one DataLoader epoch, as they would
in a full one. Each side warms up with ``WARMUP_STEPS`` minibatches before the clock starts.

Every (implementation, kind, repeat) runs in a fresh child process, ours and the baseline in
turn (A B A B ...), so machine noise hits both alike and each peak memory is one run's own:
the child's peak resident set (VmHWM, Linux) on the CPU, ``torch.cuda.max_memory_allocated``
on CUDA. The table gives the median over the repeats and, in brackets, the best run; the
speed ratio is the median of the back-to-back pairs' ratios. On a machine shared with other
work, trust the best runs when the median and the best disagree.

``--ours-option`` sets TrainConfig fields for ours only (e.g. ``precision=bf16``), so the same
script compares trainer options against the fixed baseline.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import itertools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import torch

from aae_lib.data import MNIST, batch_indices, find_mnist, read_idx
from aae_lib.models import ModelConfig
from aae_lib.train import TrainConfig, Trainer, reference_semisupervised

BATCH_SIZE = 128
WARMUP_STEPS = 2  # the first steps allocate optimiser state and pick kernels
IMPLEMENTATIONS = ("ours", "baseline")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parents[1]

KINDS = {
    "fig1-gaussian": TrainConfig(model=ModelConfig(kind="unsupervised", prior="gaussian")),
    "fig1-gmm": TrainConfig(model=ModelConfig(kind="unsupervised", prior="gmm")),
    "label": TrainConfig(model=ModelConfig(kind="label", prior="gmm")),
    "supervised": TrainConfig(model=ModelConfig(kind="supervised")),
    "semisupervised": reference_semisupervised(n_labeled=1000),
}


# ----------------------------------------------------------------------------- options
def parse_option(text: str) -> tuple[str, object]:
    """``FIELD=VALUE`` for a TrainConfig field; VALUE is a Python literal or else a string."""
    name, sep, value = text.partition("=")
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    if not sep or name not in names:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not FIELD=VALUE for a TrainConfig field ({', '.join(names)})")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def kind_config(kind: str, train_labels: torch.Tensor, options: dict | None = None) -> TrainConfig:
    """The kind's config at batch 128 for this training split, with ``options`` applied.

    The labeled set shrinks when a short split holds fewer than n_labeled / 10 of some digit;
    its size only changes how often the labeled batches are reshuffled.
    """
    config = dataclasses.replace(KINDS[kind], batch_size=BATCH_SIZE)
    if config.n_labeled is not None:
        fewest = int(torch.bincount(train_labels, minlength=10).min())
        config = dataclasses.replace(config, n_labeled=min(config.n_labeled, 10 * fewest))
    return dataclasses.replace(config, **(options or {}))


# ----------------------------------------------------------------------------- one run
def read_mnist(mnist_dir: Path, n_train: int) -> MNIST:
    """The first ``n_train`` training images and the whole test set, from verified files."""

    def split(prefix: str, limit: int | None = None):
        images = read_idx(mnist_dir / f"{prefix}-images-idx3-ubyte")[:limit]
        labels = read_idx(mnist_dir / f"{prefix}-labels-idx1-ubyte")[:limit]
        return images.reshape(len(images), -1), labels.long()

    return MNIST(*split("train", n_train), *split("t10k"))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ours_trainer(kind: str, mnist_dir: Path, steps: int, device: torch.device,
                 options: dict) -> Trainer:
    """A warmed-up Trainer whose ``train_epoch()`` is ``steps`` minibatches."""
    data = read_mnist(mnist_dir, steps * BATCH_SIZE)
    config = kind_config(kind, data.train_labels, options)
    trainer = Trainer(config, data, device, progress=False)
    warmup = batch_indices(len(data.train_labels), config.batch_size, trainer.generator, device)
    for step, index in enumerate(warmup[:WARMUP_STEPS]):
        trainer.train_step(index, step)
    return trainer


def time_ours(kind: str, mnist_dir: Path, steps: int, device: torch.device,
              options: dict) -> tuple[int, float]:
    trainer = ours_trainer(kind, mnist_dir, steps, device, options)
    synchronize(device)
    start = time.perf_counter()
    trainer.train_epoch()
    synchronize(device)
    return len(trainer.images), time.perf_counter() - start


def time_baseline(kind: str, mnist_dir: Path, torchvision_dir: Path, steps: int,
                  device: torch.device) -> tuple[int, float]:
    # Imported here so that only the baseline's child process loads torchvision.
    from benchmarks.baseline import BaselineTrainer, forever

    n_train = (WARMUP_STEPS + steps) * BATCH_SIZE
    labels = read_idx(mnist_dir / "train-labels-idx1-ubyte").long()
    baseline = BaselineTrainer(kind_config(kind, labels[:n_train]), torchvision_dir, n_train,
                               device)
    baseline.model.train()
    batches = forever(baseline.loader)  # endless, so that tiny test data still gives `steps`
    for images, labels in itertools.islice(batches, WARMUP_STEPS):
        baseline.train_step(images, labels)
    synchronize(device)
    examples, start = 0, time.perf_counter()
    for images, labels in itertools.islice(batches, steps):
        baseline.train_step(images, labels)
        examples += len(images)
    synchronize(device)
    return examples, time.perf_counter() - start


def peak_memory(device: torch.device) -> int | None:
    """This process's peak: CUDA memory allocated, or resident set size (Linux only)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s*(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def measure(spec: dict) -> dict:
    """One timed run, as a child process performs it; ``spec`` is what run_child sends."""
    device = torch.device(spec["device"])
    torch.set_num_threads(spec["threads"])
    mnist_dir = Path(spec["mnist_dir"])
    if spec["implementation"] == "ours":
        examples, seconds = time_ours(spec["kind"], mnist_dir, spec["steps"], device,
                                      spec["options"])
    else:
        examples, seconds = time_baseline(spec["kind"], mnist_dir, Path(spec["torchvision_dir"]),
                                          spec["steps"], device)
    return {"examples": examples, "seconds": seconds, "examples_per_second": examples / seconds,
            "peak_memory_bytes": peak_memory(device)}


def run_child(spec: dict) -> dict:
    """``measure(spec)`` in a fresh interpreter, so its time and memory are its own."""
    command = [sys.executable, "-m", "benchmarks.train_speed", "--measure", json.dumps(spec)]
    completed = subprocess.run(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
                               check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- report
def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available on this machine")
    return torch.device(name)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    model = match.group(1).strip() if match else platform.processor() or "unknown CPU"
    return f"{model}, {os.cpu_count()} cores"


def summarise(runs: list[dict]) -> dict:
    """Median and best speed over the repeats; slow spells only ever lower a run's speed."""
    speeds = [r["examples_per_second"] for r in runs]
    peaks = [r["peak_memory_bytes"] for r in runs if r["peak_memory_bytes"] is not None]
    return {"examples_per_second": statistics.median(speeds),
            "best_examples_per_second": max(speeds),
            "peak_memory_bytes": statistics.median(peaks) if peaks else None, "runs": runs}


def compare(ours_runs: list[dict], baseline_runs: list[dict]) -> dict:
    """Both sides' figures and their ratios.

    ``speed_ratio`` is the median over the interleaved pairs: a pair ran back to back, so its
    ratio cancels slow spells that the ratio of two medians would keep. ``best_speed_ratio``
    compares the best runs, the least disturbed on a machine shared with other work.
    """
    ours, baseline = summarise(ours_runs), summarise(baseline_runs)
    ratios = [o["examples_per_second"] / b["examples_per_second"]
              for o, b in zip(ours_runs, baseline_runs, strict=True)]
    memory_ratio = None
    if ours["peak_memory_bytes"] and baseline["peak_memory_bytes"]:
        memory_ratio = ours["peak_memory_bytes"] / baseline["peak_memory_bytes"]
    return {"ours": ours, "baseline": baseline, "speed_ratio": statistics.median(ratios),
            "speed_ratios": ratios,
            "best_speed_ratio": ours["best_examples_per_second"]
            / baseline["best_examples_per_second"],
            "memory_ratio": memory_ratio}


def format_table(report: dict) -> str:
    def mib(value):
        return "n/a" if value is None else f"{value / 2**20:,.0f}"

    def speed(side):
        return f"{side['examples_per_second']:,.0f} ({side['best_examples_per_second']:,.0f})"

    lines = [f"Training speed at batch {report['batch_size']}: {report['steps']} timed steps, "
             f"median (best) of {report['repeats']} runs",
             f"device: {report['device']} ({report['device_type']}, "
             f"{report['torch_threads']} threads); torch {report['torch']}",
             f"ours options: {report['ours_options'] or 'none'}; "
             f"peak memory: {report['memory_measure']}",
             "",
             f"{'kind':<16}{'ours ex/s':>17}{'baseline ex/s':>17}{'ours/baseline':>17}"
             f"{'peak MiB ours/baseline':>25}"]
    for kind, row in report["kinds"].items():
        ratio = f"{row['speed_ratio']:.2f}x ({row['best_speed_ratio']:.2f}x)"
        memory = (f"{mib(row['ours']['peak_memory_bytes'])} / "
                  f"{mib(row['baseline']['peak_memory_bytes'])}")
        lines.append(f"{kind:<16}{speed(row['ours']):>17}{speed(row['baseline']):>17}"
                     f"{ratio:>17}{memory:>25}")
    return "\n".join(lines)


def default_json_path(device: torch.device) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", f"{device.type} {device_name(device)}".lower()).strip("-")
    return RESULTS_DIR / f"train_speed-{slug}.json"


# ----------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_speed",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--steps", type=int, default=20, help="timed minibatches per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side and kind")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch threads per run (default: one per core); 1 is steadier on "
                             "a machine shared with other work")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder holding MNIST (default: aae_lib's data folder)")
    parser.add_argument("--ours-option", type=parse_option, action="append", default=[],
                        metavar="FIELD=VALUE", help="TrainConfig field for ours only; repeatable")
    parser.add_argument("--json", type=Path, default=None,
                        help="where to write the results (default: benchmarks/results/"
                             "train_speed-<device>.json)")
    parser.add_argument("--smoke", action="store_true",
                        help="2 steps, 1 repeat: checks that it runs, measures nothing")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # a child's run, as JSON
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps, args.repeats = 2, 1
    if min(args.steps, args.repeats, args.threads) < 1:
        parser.error("--steps, --repeats and --threads must be positive")
    for kind in args.kinds:  # refuse bad values here rather than in every child
        try:
            dataclasses.replace(KINDS[kind], **dict(args.ours_option))
        except ValueError as error:
            parser.error(f"--ours-option: {error}")
    return args


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    if args.measure:
        print(json.dumps(measure(json.loads(args.measure))))
        return None

    started = time.perf_counter()
    device = resolve_device(args.device)
    options = dict(args.ours_option)
    mnist_dir = find_mnist(args.data_dir).resolve()
    runs: dict[str, dict[str, list]] = {k: {i: [] for i in IMPLEMENTATIONS} for k in args.kinds}
    with tempfile.TemporaryDirectory(prefix="aae-benchmark-") as scratch:
        from benchmarks.baseline import torchvision_root  # not at the top: see time_baseline

        torchvision_dir = torchvision_root(mnist_dir, Path(scratch))
        for repeat in range(args.repeats):
            for kind in args.kinds:
                for implementation in IMPLEMENTATIONS:
                    print(f"repeat {repeat + 1}/{args.repeats}: {kind} {implementation}",
                          file=sys.stderr, flush=True)
                    runs[kind][implementation].append(run_child({
                        "implementation": implementation, "kind": kind,
                        "mnist_dir": str(mnist_dir), "torchvision_dir": str(torchvision_dir),
                        "steps": args.steps, "device": str(device), "threads": args.threads,
                        "options": options}))

    report = {
        "device": device_name(device), "device_type": device.type,
        "torch": torch.__version__, "torchvision": metadata.version("torchvision"),
        "python": platform.python_version(), "torch_threads": args.threads,
        "batch_size": BATCH_SIZE, "steps": args.steps, "warmup_steps": WARMUP_STEPS,
        "repeats": args.repeats, "ours_options": options,
        "memory_measure": ("torch.cuda.max_memory_allocated per child" if device.type == "cuda"
                           else "peak resident set (VmHWM) per child process"),
        "kinds": {kind: compare(sides["ours"], sides["baseline"])
                  for kind, sides in runs.items()},
        "wall_seconds": time.perf_counter() - started,
    }
    print(format_table(report))
    path = args.json or default_json_path(device)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path} ({report['wall_seconds']:.0f} s)")
    return report


if __name__ == "__main__":
    main()
