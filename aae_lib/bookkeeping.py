"""What the trainer calls around the algorithm: divergence checks, code snapshots, the
checkpoint record of a run (save, restore, resume) and the memory check before a model is built.

None of this changes what is learnt; :mod:`aae_lib.train` reads top to bottom without it.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from . import checkpoints, evaluate
from .config import RESUMABLE_CHANGES, TrainConfig
from .errors import AAEError, TrainingDiverged
from .models import ModelConfig

if TYPE_CHECKING:
    from .train import Trainer

# A loss this large has left any sane range (reconstruction is at most 0.5 * 784 * 4 = 1568;
# cross-entropies of a working model are a few units), so training has diverged.
LOSS_LIMIT = 1e4
DIVERGENCE_CHECK_STEPS = 50
SNAPSHOT_IMAGES = 1000  # test images whose 2-D codes are recorded every epoch
# Bytes per parameter while training: fp32 weights, their gradients and Adam's two moments.
TRAINING_BYTES_PER_PARAMETER = 16


# ----------------------------------------------------------------------------- divergence
class LossTotals:
    """Running sums of each phase's loss over an epoch, kept on the device; the mean is read
    (one device sync) every ``DIVERGENCE_CHECK_STEPS`` steps and at the end of the epoch."""

    def __init__(self, save_dir: Path | None, epoch: int, lr: float):
        self.totals: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.save_dir, self.epoch, self.lr = save_dir, epoch, lr

    def add(self, losses: dict[str, torch.Tensor], step: int) -> None:
        for name, loss in losses.items():
            self.totals[name] = self.totals[name] + loss if name in self.totals else loss
            self.counts[name] += 1
        if (step + 1) % DIVERGENCE_CHECK_STEPS == 0:
            self.check(step)

    def means(self) -> dict[str, float]:
        return {f"loss/{n}": total.item() / self.counts[n] for n, total in self.totals.items()}

    def check(self, step: int) -> None:
        """Stop at a non-finite or exploding mean loss, saying how to retry."""
        names = list(self.totals)
        if not names:
            return
        means = torch.stack([self.totals[n] / self.counts[n] for n in names]).float().cpu()
        bad = [
            (n, float(m))
            for n, m in zip(names, means, strict=True)
            if not (math.isfinite(m) and abs(m) < LOSS_LIMIT)
        ]
        if not bad:
            return
        name, value = bad[0]
        kept = checkpoints.latest_complete(self.save_dir) if self.save_dir else None
        where = (
            f"the last good checkpoint (epoch {kept}) is kept; resume from it with a lower "
            "learning rate (a resumed run may change it)"
            if kept is not None
            else "no checkpoint was written; start again with a lower learning rate"
        )
        raise TrainingDiverged(
            f"training diverged in epoch {self.epoch}, step {step}: the mean {name} loss "
            f"is {value:.3g} (limit {LOSS_LIMIT:g}) at lr {self.lr:g}; {where}"
        )


# ----------------------------------------------------------------------------- snapshots
def code_snapshot(trainer: Trainer) -> torch.Tensor | None:
    """A 2-D model's codes of the first test images (for replaying training); else None."""
    if trainer.config.model.ncode != 2:
        return None
    images = trainer.eval_images[:SNAPSHOT_IMAGES]
    return evaluate.represent_all(trainer.model, images).half().cpu()


# ----------------------------------------------------------------------------- memory
def available_memory(device: torch.device) -> int | None:
    """Bytes the device can still hold, where that can be known."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "cpu" and hasattr(os, "sysconf"):
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            return None
    return None


def check_fits(config: ModelConfig, device: torch.device) -> None:
    """Refuse, before anything is allocated, a model whose training state cannot fit."""
    needed = config.parameter_count() * TRAINING_BYTES_PER_PARAMETER
    available = available_memory(device)
    if available is not None and needed > available:
        raise AAEError(
            f"a model of ncode {config.ncode} and hidden {config.hidden} needs about "
            f"{needed / 2**30:.1f} GiB to train ({config.parameter_count():,} parameters); "
            f"{device.type} has {available / 2**30:.1f} GiB free: choose smaller sizes"
        )


# ----------------------------------------------------------------------------- checkpoints
def run_state(trainer: Trainer) -> dict:
    """Everything an exact resume needs: weights, optimisers, random streams, history."""
    rng = {"torch": torch.get_rng_state(), "generator": trainer.generator.get_state()}
    if trainer.device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(trainer.device)
    return {
        "model": trainer.model.state_dict(),
        "optimizers": {k: o.state_dict() for k, o in trainer.optimizers.items()},
        "rng": rng,
        "history": dict(trainer.history),
        "labeled_queue": list(trainer._labeled_queue),
        "code_snapshots": list(trainer.code_snapshots),
    }


def run_manifest(trainer: Trainer) -> dict:
    manifest = {
        "config": trainer.config.to_dict(),
        "model": trainer.config.model.to_dict(),
        "epoch": trainer.epochs_done - 1,
        "epochs_done": trainer.epochs_done,
        "seed": trainer.config.seed,
        "device": device_name(trainer.device),
        "precision": trainer.precision,
        "resumptions": trainer.resumptions,
        "wall_time_s": sum(trainer.history.get("time/epoch_seconds", [])),
        "metrics": {k: v[-1] for k, v in trainer.history.items() if v},
    }
    if trainer.supervised_only:
        manifest["supervised_only"] = True
    return manifest


def save_epoch(trainer: Trainer, keep_every: int) -> Path:
    """Checkpoint the last epoch; drop the previous one unless it is a keeper."""
    epoch = trainer.epochs_done - 1
    path = checkpoints.save(
        checkpoints.epoch_path(trainer.save_dir, epoch), run_state(trainer), run_manifest(trainer)
    )
    previous = epoch - 1
    if previous >= 0 and previous % keep_every:
        checkpoints.remove(checkpoints.epoch_path(trainer.save_dir, previous))
    return path


def restore(trainer: Trainer, path: str | Path, resume: bool) -> dict:
    """Load a checkpoint into ``trainer``; ``resume`` also restores optimisers, random
    streams, history and the run's precision, and records what the resume changed."""
    config, defaults = trainer.config.to_dict(), TrainConfig().to_dict()
    expected = {"model": config["model"], **({"config": config} if resume else {})}
    state, manifest = checkpoints.load(
        path,
        expected,
        ignore=RESUMABLE_CHANGES,
        map_location=trainer.device,
        defaults={"model": defaults["model"], "config": defaults},
    )
    trainer.model.load_state_dict(state["model"])
    if not resume:
        return manifest
    for name, optimizer in trainer.optimizers.items():
        optimizer.load_state_dict(state["optimizers"][name])
    torch.set_rng_state(state["rng"]["torch"])
    trainer.generator.set_state(state["rng"]["generator"])
    if "cuda" in state["rng"]:
        torch.cuda.set_rng_state(state["rng"]["cuda"], trainer.device)
    trainer.history = defaultdict(list, state["history"])
    trainer._labeled_queue = list(state["labeled_queue"])
    trainer.code_snapshots = list(state["code_snapshots"])
    trainer.epochs_done = manifest["epochs_done"]
    trainer.resumptions = list(manifest.get("resumptions", []))
    changes = checkpoints.config_differences(
        {k: manifest["config"].get(k) for k in RESUMABLE_CHANGES if k != "epochs"},
        {k: config[k] for k in RESUMABLE_CHANGES if k != "epochs"},
    )
    recorded = manifest.get("precision", trainer.precision)
    if trainer.asked_precision in (None, "auto"):
        trainer.precision = recorded  # decided once, when the run started
    elif trainer.precision != recorded:
        changes.append(
            f"precision: checkpoint has {recorded!r}, this run has {trainer.precision!r}"
        )
    if changes:
        trainer.resumptions.append({"epoch": trainer.epochs_done, "changes": changes})
    return manifest


def resume_latest(trainer: Trainer) -> bool:
    """Continue from the newest complete checkpoint in ``trainer.save_dir``, if there is one.

    What an interrupted save left behind (a half-written file, weights without their
    manifest) is removed first, and the fallback to an older epoch is reported.
    """
    if trainer.save_dir is None:
        return False
    for message in checkpoints.clean_incomplete(trainer.save_dir):
        print(message)
    epoch = checkpoints.latest_complete(trainer.save_dir)
    if epoch is None:
        return False
    restore(trainer, checkpoints.epoch_path(trainer.save_dir, epoch), resume=True)
    return True


# ----------------------------------------------------------------------------- reports
def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def epoch_summary(trainer: Trainer) -> str:
    """One line on the last epoch: losses and the held-out metrics."""
    last = {k: v[-1] for k, v in trainer.history.items() if not k.startswith("time/")}
    parts = [f"{k.removeprefix('loss/')} {v:.4g}" for k, v in last.items()]
    seconds = trainer.history["time/epoch_seconds"][-1]
    return (
        f"epoch {trainer.epochs_done - 1}/{trainer.config.epochs}: {', '.join(parts)} "
        f"({seconds:.0f} s)"
    )


def speed_report(trainer: Trainer) -> str:
    """One line on the last fit(): epochs trained, device, precision, examples/s."""
    if not trainer.epochs_trained:
        return f"{plural(trainer.epochs_done, 'epoch')} already done: nothing left to train"
    return (
        f"trained {plural(trainer.epochs_trained, 'epoch')} on "
        f"{device_name(trainer.device)} ({trainer.precision}) at "
        f"{trainer.speed:,.0f} examples/s"
    )
