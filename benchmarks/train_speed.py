"""Training speed, efficiency and peak memory of aae_lib's trainer against a typical public
implementation.

    python -m benchmarks.train_speed [--device auto|cpu|cuda] [--steps N] [--repeats N]
        [--threads N] [--kinds KIND ...] [--precisions fp32 bf16] [--data-dir DIR]
        [--ours-option FIELD=VALUE ...] [--json PATH] [--smoke]

Both sides train the same networks at batch 128, for each model kind of the book. "Ours" is
``aae_lib.train.Trainer`` as the notebooks and CLI drive it: it gets the first ``steps × 128``
training images, so that ``train_epoch()`` is ``steps`` minibatches, and is timed over that one
epoch. The baseline (benchmarks/baseline.py) gets ``WARMUP_STEPS`` more minibatches of images,
so that warm-up and the ``steps`` timed minibatches share one DataLoader epoch, as they would
in a full one. Each side warms up with ``WARMUP_STEPS`` minibatches before the clock starts.
Ours runs once per precision (default: fp32, and bf16 where the device multiplies bf16
natively); the baseline is fp32, as such implementations are.

Every (side, kind, repeat) runs in a fresh child process, the sides in turn (A B C A B C ...),
so machine noise hits all alike and each peak memory is one run's own: the child's peak
resident set (VmHWM, Linux) on the CPU, ``torch.cuda.max_memory_allocated`` on CUDA. The table
gives the median over the repeats and, in brackets, the best run; a speed ratio is the median of
the back-to-back pairs' ratios. On a machine shared with other work, trust the best runs when
the median and the best disagree. Epoch times are a full 60 000-image epoch at that speed.

**Efficiency** is a run's matrix-product throughput over the machine's peak for that dtype.
The throughput is the FLOPs of the step's matrix products, forward and backward, counted by
``torch.utils.flop_counter.FlopCounterMode`` while a step runs (2·M·K·N per product; a linear
layer costs its forward product, plus one as large for its weight gradient, plus one for its
input gradient where autograd needs that: not for an encoder's first layer, not for a
discriminator's weights in the generator step; ``step_flops`` documents the sum for Fig 2 by
hand), divided by the run's time. The peak is the best of ``benchmarks.peaks.PEAK_SHAPES``
measured by a child of this same run, with the same thread count, once per repeat.

``--ours-option`` sets TrainConfig fields for ours only (e.g. ``seed=1``), so the same script
compares trainer options against the fixed baseline; ``precision=X`` is ``--precisions X``.
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
from torch.utils.flop_counter import FlopCounterMode

from aae_lib.data import MNIST, N_CLASSES, batch_indices, find_mnist, read_idx
from aae_lib.precision import DTYPES, cpu_flags, cpu_model, native_bf16
from aae_lib.recipes import label_conditioned, reference_semisupervised, supervised, unsupervised
from aae_lib.train import TrainConfig, Trainer
from benchmarks.peaks import PEAK_SHAPES, peak_matmul_gflops

BATCH_SIZE = 128
WARMUP_STEPS = 2  # the first steps allocate optimiser state and pick kernels
EPOCH_IMAGES = 60_000  # a full MNIST training epoch, for the epoch times
FIG2 = "fig2-gmm"  # the model whose epoch time and efficiency the summary gives
RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parents[1]

# The paper's Fig 2 models are the reference's "Fig 1" (its README numbers them so).
KINDS = {
    "fig2-gaussian": TrainConfig(model=unsupervised("gaussian")),
    FIG2: TrainConfig(model=unsupervised("gmm")),
    "label": TrainConfig(model=label_conditioned("gmm")),
    "supervised": TrainConfig(model=supervised()),
    "semisupervised": reference_semisupervised(n_labeled=1000),
}


# ----------------------------------------------------------------------------- options
def parse_option(text: str) -> tuple[str, object]:
    """``FIELD=VALUE`` for a TrainConfig field; VALUE is a Python literal or else a string."""
    name, sep, value = text.partition("=")
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    if not sep or name not in names:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not FIELD=VALUE for a TrainConfig field ({', '.join(names)})"
        )
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
        fewest = int(torch.bincount(train_labels, minlength=N_CLASSES).min())
        config = dataclasses.replace(config, n_labeled=min(config.n_labeled, N_CLASSES * fewest))
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


def matmul_flops(step) -> int:
    """FLOPs of the matrix products, forward and backward, of ``step()`` (2·M·K·N each)."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def step_flops(trainer: Trainer, index: torch.Tensor) -> float:
    """Matrix-product FLOPs of one of ``trainer``'s steps on ``index``, averaged over a cycle
    of ``classify_every`` steps (one of which classifies).

    For Fig 2's model (batch B, image D = 784, hidden H = 1000, code c = 2), by hand:
    reconstruction 3·(enc + dec) − 2·B·D·H with enc = dec = 2·B·(D·H + H·H + H·c) (no input
    gradient for the image); the shared encoder forward, enc; the discriminator step on 2B
    codes, 3·dis(2B) − 2·2B·c·H with dis(n) = 2·n·(c·H + H·H + H); the generator step,
    2·dis(B) (frozen weights: input gradients only) + 2·enc − 2·B·D·H. 5.77 GFLOP at B = 128,
    as tests/test_benchmarks.py checks against this counter.
    """
    cycle = trainer.config.classify_every if trainer.config.classify else 1
    return sum(matmul_flops(lambda s=s: trainer.train_step(index, s)) for s in range(cycle)) / cycle


def ours_trainer(
    kind: str, mnist_dir: Path, steps: int, device: torch.device, options: dict
) -> Trainer:
    """A warmed-up Trainer whose ``train_epoch()`` is ``steps`` minibatches."""
    data = read_mnist(mnist_dir, steps * BATCH_SIZE)
    config = kind_config(kind, data.train_labels, options)
    trainer = Trainer(config, data, device, progress=False)
    warmup = batch_indices(len(data.train_labels), config.batch_size, trainer.generator, device)
    for step, index in enumerate(warmup[:WARMUP_STEPS]):
        trainer.train_step(index, step)
    return trainer


def time_ours(
    kind: str, mnist_dir: Path, steps: int, device: torch.device, options: dict
) -> tuple[int, float, float]:
    """Examples, seconds and matrix-product FLOPs per example of one timed epoch."""
    trainer = ours_trainer(kind, mnist_dir, steps, device, options)
    synchronize(device)
    start = time.perf_counter()
    trainer.train_epoch()
    synchronize(device)
    seconds = time.perf_counter() - start
    index = batch_indices(
        len(trainer.images), trainer.config.batch_size, trainer.generator, device
    )[0]
    return len(trainer.images), seconds, step_flops(trainer, index) / len(index)


def time_baseline(
    kind: str, mnist_dir: Path, torchvision_dir: Path, steps: int, device: torch.device
) -> tuple[int, float, float]:
    # Imported here so that only the baseline's child process loads torchvision.
    from benchmarks.baseline import BaselineTrainer, forever

    n_train = (WARMUP_STEPS + steps) * BATCH_SIZE
    labels = read_idx(mnist_dir / "train-labels-idx1-ubyte").long()
    baseline = BaselineTrainer(
        kind_config(kind, labels[:n_train]), torchvision_dir, n_train, device
    )
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
    seconds = time.perf_counter() - start
    images, labels = next(batches)
    flops = matmul_flops(lambda: baseline.train_step(images, labels))
    return examples, seconds, flops / len(images)


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
    if spec["side"] == "peak":
        return {
            p: peak_matmul_gflops(DTYPES[p], device, spec["shapes"]) for p in spec["precisions"]
        }
    mnist_dir = Path(spec["mnist_dir"])
    if spec["side"] == "baseline":
        examples, seconds, flops = time_baseline(
            spec["kind"], mnist_dir, Path(spec["torchvision_dir"]), spec["steps"], device
        )
    else:
        examples, seconds, flops = time_ours(
            spec["kind"],
            mnist_dir,
            spec["steps"],
            device,
            {**spec["options"], "precision": spec["precision"]},
        )
    return {
        "examples": examples,
        "seconds": seconds,
        "examples_per_second": examples / seconds,
        "matmul_flops_per_example": flops,
        "gflops": flops * examples / seconds / 1e9,
        "peak_memory_bytes": peak_memory(device),
    }


def run_child(spec: dict) -> dict:
    """``measure(spec)`` in a fresh interpreter, so its time and memory are its own."""
    command = [sys.executable, "-m", "benchmarks.train_speed", "--measure", json.dumps(spec)]
    completed = subprocess.run(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, check=True
    )
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
    return f"{cpu_model()}, {os.cpu_count()} cores"


def machine(device: torch.device, threads: int) -> dict:
    """What every number depends on: the CPU (or GPU), its capability and the threads used."""
    bf16_flags = sorted(cpu_flags() & {"avx512_bf16", "amx_bf16", "amx_tile", "bf16"})
    info = {
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_bf16_flags": bf16_flags,
        "threads": threads,
        "native_bf16": native_bf16(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def machine_tag(info: dict) -> str:
    """``[CPU name, AVX512+avx512_bf16, 1 thread]`` (a GPU's name first, if any): printed
    beside every number."""
    flags = "".join(f"+{f}" for f in info["cpu_bf16_flags"])
    threads = f"{info['threads']} thread{'s' if info['threads'] != 1 else ''}"
    gpu = f"{info['gpu']}; " if "gpu" in info else ""
    return f"[{gpu}{info['cpu']}, {info['cpu_capability']}{flags}, {threads}]"


def summarise(runs: list[dict], peak: float | None) -> dict:
    """Median and best speed over the repeats; slow spells only ever lower a run's speed."""
    speeds = [r["examples_per_second"] for r in runs]
    peaks = [r["peak_memory_bytes"] for r in runs if r["peak_memory_bytes"] is not None]
    gflops = statistics.median(r["gflops"] for r in runs)
    best_gflops = max(r["gflops"] for r in runs)
    return {
        "examples_per_second": statistics.median(speeds),
        "best_examples_per_second": max(speeds),
        "epoch_seconds": EPOCH_IMAGES / statistics.median(speeds),
        "best_epoch_seconds": EPOCH_IMAGES / max(speeds),
        "matmul_gflop_per_step": runs[0]["matmul_flops_per_example"] * BATCH_SIZE / 1e9,
        "gflops": gflops,
        "best_gflops": best_gflops,
        "efficiency": gflops / peak if peak else None,
        "best_efficiency": best_gflops / peak if peak else None,
        "peak_memory_bytes": statistics.median(peaks) if peaks else None,
        "runs": runs,
    }


def compare(sides: dict[str, list[dict]], peaks: dict[str, float]) -> dict:
    """Every side's figures, and each ours side's ratios to the baseline.

    ``speed_ratio`` is the median over the interleaved pairs: a pair ran back to back, so its
    ratio cancels slow spells that the ratio of two medians would keep. ``best_speed_ratio``
    compares the best runs, the least disturbed on a machine shared with other work.
    """
    row = {side: summarise(runs, peaks.get(side_precision(side))) for side, runs in sides.items()}
    baseline = row["baseline"]
    for side, figures in row.items():
        if side == "baseline":
            continue
        ratios = [
            o["examples_per_second"] / b["examples_per_second"]
            for o, b in zip(sides[side], sides["baseline"], strict=True)
        ]
        figures["speed_ratio"] = statistics.median(ratios)
        figures["speed_ratios"] = ratios
        figures["best_speed_ratio"] = (
            figures["best_examples_per_second"] / baseline["best_examples_per_second"]
        )
        figures["memory_ratio"] = None
        if figures["peak_memory_bytes"] and baseline["peak_memory_bytes"]:
            figures["memory_ratio"] = figures["peak_memory_bytes"] / baseline["peak_memory_bytes"]
    return row


def efficiency_peaks(peaks: dict[str, float], bf16_native: bool) -> dict[str, float]:
    """The peaks that sides' efficiencies are fractions of. Emulated bf16 has no hardware peak:
    the probe's shapes and a step's other shapes run at unrelated speeds (a Fig 2 step can
    exceed such a "peak" by far), so a bf16 side gets no efficiency there."""
    return {p: g for p, g in peaks.items() if p != "bf16" or bf16_native}


def side_precision(side: str) -> str:
    return "fp32" if side == "baseline" else side.removeprefix("ours-")


def format_table(report: dict) -> str:
    tag = machine_tag(report["machine"])

    def mib(value):
        return "n/a" if value is None else f"{value / 2**20:,.0f}"

    def percent(value):
        return "n/a" if value is None else f"{100 * value:.0f} %"

    peaks = ", ".join(f"{p} {g:,.0f}" for p, g in report["peak_gflops"].items())
    lines = [
        f"Training speed at batch {report['batch_size']}: {report['steps']} timed steps, "
        f"median (best) of {report['repeats']} runs; torch {report['torch']}",
        f"machine: {tag}; {report['device_type']}",
        f"ours options: {report['ours_options'] or 'none'}; "
        f"peak memory: {report['memory_measure']}",
        f"peak matmul GFLOP/s measured in this run: {peaks} {tag}",
        "",
        f"{'kind':<15}{'side':<11}{'ex/s':>15}{'epoch s':>9}{'vs baseline':>15}"
        f"{'GFLOP/step':>11}{'GFLOP/s':>9}{'of peak':>15}{'peak MiB':>9}  machine",
    ]
    for kind, row in report["kinds"].items():
        for side, f in row.items():
            ratio = (
                f"{f['speed_ratio']:.2f}x ({f['best_speed_ratio']:.2f}x)"
                if "speed_ratio" in f
                else ""
            )
            lines.append(
                f"{kind:<15}{side:<11}"
                f"{f['examples_per_second']:>8,.0f} ({f['best_examples_per_second']:,.0f})"
                f"{f['epoch_seconds']:>9.1f}{ratio:>15}{f['matmul_gflop_per_step']:>11.2f}"
                f"{f['gflops']:>9.1f}"
                f"{percent(f['efficiency']) + ' (' + percent(f['best_efficiency']) + ')':>15}"
                f"{mib(f['peak_memory_bytes']):>9}  {tag}"
            )
    if FIG2 in report["kinds"]:
        row = report["kinds"][FIG2]
        lines += [
            "",
            f"Fig 2 (mixture prior, batch {report['batch_size']}), "
            f"{report['machine']['threads']} thread(s):",
        ]
        for side, f in row.items():
            versus = f", {f['speed_ratio']:.2f}x the baseline" if "speed_ratio" in f else ""
            of_peak = (
                f"{percent(f['efficiency'])} of the {side_precision(side)} peak"
                if f["efficiency"] is not None
                else f"no {side_precision(side)} peak: emulated here"
            )
            lines.append(f"  {side}: {f['epoch_seconds']:.1f} s per epoch{versus}, {of_peak} {tag}")
    return "\n".join(lines)


def default_json_path(device: torch.device, precisions: list[str]) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", f"{device.type} {device_name(device)}".lower()).strip("-")
    return RESULTS_DIR / f"train_speed-{slug}-{'-'.join(precisions)}.json"


# ----------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.train_speed", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--steps", type=int, default=20, help="timed minibatches per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side and kind")
    parser.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="torch threads per run (default: torch's, which follows "
        "OMP_NUM_THREADS); 1 is steadier on a machine shared with other work",
    )
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument(
        "--precisions",
        nargs="+",
        choices=("fp32", "bf16"),
        default=None,
        help="ours' precisions (default: fp32, and bf16 where it is native)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder holding MNIST (default: aae_lib's data folder)",
    )
    parser.add_argument(
        "--ours-option",
        type=parse_option,
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="TrainConfig field for ours only; repeatable",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the results (default: benchmarks/results/"
        "train_speed-<device>-<precisions>.json)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="2 steps, 1 repeat: checks that it runs, measures nothing",
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # a child's run, as JSON
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps, args.repeats = 2, 1
    if min(args.steps, args.repeats, args.threads) < 1:
        parser.error("--steps, --repeats and --threads must be positive")
    options = dict(args.ours_option)
    if "precision" in options:
        args.precisions = [options.pop("precision")]
        args.ours_option = list(options.items())
    for kind in args.kinds:  # refuse bad values here rather than in every child
        try:
            for precision in args.precisions or ["fp32"]:
                dataclasses.replace(KINDS[kind], **options, precision=precision)
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
    precisions = args.precisions or (["fp32", "bf16"] if native_bf16(device) else ["fp32"])
    sides = [f"ours-{p}" for p in precisions] + ["baseline"]
    options = dict(args.ours_option)
    mnist_dir = find_mnist(args.data_dir).resolve()
    shapes = PEAK_SHAPES + (((4096, 4096, 4096),) if device.type == "cuda" else ())
    peak_runs: list[dict] = []
    runs: dict[str, dict[str, list]] = {k: {s: [] for s in sides} for k in args.kinds}
    with tempfile.TemporaryDirectory(prefix="aae-benchmark-") as scratch:
        from benchmarks.baseline import torchvision_root  # not at the top: see time_baseline

        torchvision_dir = torchvision_root(mnist_dir, Path(scratch))
        common = {"device": str(device), "threads": args.threads}
        for repeat in range(args.repeats):
            print(
                f"repeat {repeat + 1}/{args.repeats}: peak matmul throughput",
                file=sys.stderr,
                flush=True,
            )
            peak_runs.append(
                run_child(
                    {
                        **common,
                        "side": "peak",
                        "shapes": shapes,
                        "precisions": sorted({"fp32", *precisions}),
                    }
                )
            )
            for kind in args.kinds:
                for side in sides:
                    print(
                        f"repeat {repeat + 1}/{args.repeats}: {kind} {side}",
                        file=sys.stderr,
                        flush=True,
                    )
                    runs[kind][side].append(
                        run_child(
                            {
                                **common,
                                "side": side,
                                "precision": side_precision(side),
                                "kind": kind,
                                "mnist_dir": str(mnist_dir),
                                "torchvision_dir": str(torchvision_dir),
                                "steps": args.steps,
                                "options": options,
                            }
                        )
                    )

    peaks = {p: max(r[p]["peak"] for r in peak_runs) for p in peak_runs[0]}
    efficiency = efficiency_peaks(peaks, native_bf16(device))
    report = {
        "machine": machine(device, args.threads),
        "device": device_name(device),
        "device_type": device.type,
        "torch": torch.__version__,
        "torchvision": metadata.version("torchvision"),
        "python": platform.python_version(),
        "torch_threads": args.threads,
        "batch_size": BATCH_SIZE,
        "steps": args.steps,
        "warmup_steps": WARMUP_STEPS,
        "repeats": args.repeats,
        "ours_options": options,
        "precisions": precisions,
        "peak_gflops": peaks,
        "peak_runs": peak_runs,
        "memory_measure": (
            "torch.cuda.max_memory_allocated per child"
            if device.type == "cuda"
            else "peak resident set (VmHWM) per child process"
        ),
        "kinds": {kind: compare(kind_runs, efficiency) for kind, kind_runs in runs.items()},
        "wall_seconds": time.perf_counter() - started,
    }
    print(format_table(report))
    path = args.json or default_json_path(device, precisions)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path} ({report['wall_seconds']:.0f} s)")
    return report


if __name__ == "__main__":
    main()
