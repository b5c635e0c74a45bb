"""Training: the phases of one minibatch, and the trainer that runs epochs of them.

Per minibatch, as in the reference: a reconstruction step, then for each regularised output a
discriminator step and a generator step on the same prior batch, then (semi-supervised) a
classification step on a labeled minibatch. Each phase has its own optimiser.

Speed: the data set lives on the training device as uint8 and is batched by index; losses are
summed on the device and read once per epoch, so the step loop never waits for the device.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
from torch.nn import functional as F

from . import checkpoints, evaluate
from .data import MNIST, balanced_subset, batch_indices, train_validation_split
from .errors import AAEError, TrainingDiverged
from .models import N_CLASSES, UNLABELED, AdversarialAutoencoder, ModelConfig

# The reference's loss weights. A weight scales its phase's learning rate relative to these
# values: the reference feeds each weighted loss to its own Adam, which is blind to a constant
# factor on the loss, so its weight flags did nothing. Here the defaults reproduce the
# reference exactly and any other value really changes how fast that phase learns.
REFERENCE_WEIGHTS = {"reconstruction": 1.0, "generator_z": 6.0, "discriminator_z": 6.0,
                     "classification": 1.0, "generator_y": 6.0, "discriminator_y": 6.0}


@dataclass(frozen=True)
class TrainConfig:
    """A training run. Defaults are the reference's (seed README) hyperparameters."""

    model: ModelConfig = field(default_factory=ModelConfig)
    epochs: int = 100
    batch_size: int = 128
    optimizer: str = "adam"  # "adam" (reference) or "sgd" (paper)
    lr: float = 2e-4  # reconstruction, and every phase whose own lr is None
    adversarial_lr: float | None = None
    classification_lr: float | None = None
    momentum: float = 0.5  # Adam's beta1 or SGD's momentum
    adversarial_momentum: float | None = None
    lr_milestones: tuple[int, ...] = (100, 300)  # epochs at which every lr is divided by 10
    weights: dict[str, float] = field(default_factory=lambda: dict(REFERENCE_WEIGHTS))
    noise_std: float = 0.0  # std of input noise in [0, 1] pixel units (paper: 0.3)
    dropout_keep: float = 1.0
    n_labeled: int | None = None  # label / semisupervised kinds; None = every label
    validation: bool = False  # hold out 10 000 training images for validation
    classify_every: int = 1  # semi-supervised: classification step every n minibatches
    seed: int = 0
    precision: str = "fp32"  # "bf16": bfloat16 autocast for the forward passes (speed option)

    def __post_init__(self):
        problems = []
        if self.precision not in ("fp32", "bf16"):
            problems.append(f"precision must be fp32 or bf16, not {self.precision!r}")
        if self.optimizer not in ("adam", "sgd"):
            problems.append(f"optimizer must be adam or sgd, not {self.optimizer!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.classify_every < 1:
            problems.append("epochs, batch size and classify_every must be positive")
        if not 0.0 < self.dropout_keep <= 1.0:
            problems.append(f"dropout keep probability must be in (0, 1], not {self.dropout_keep}")
        if self.noise_std < 0:
            problems.append(f"noise std must be non-negative, not {self.noise_std}")
        unknown = set(self.weights) - set(REFERENCE_WEIGHTS)
        if unknown:
            problems.append(f"unknown loss weights {sorted(unknown)}")
        if any(w <= 0 for w in self.weights.values()):
            problems.append("loss weights must be positive")
        if self.n_labeled is not None and self.n_labeled < N_CLASSES:
            problems.append(f"n_labeled must be at least {N_CLASSES}, not {self.n_labeled}")
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict:
        """A flat JSON-able dict, as stored in manifests."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        values["lr_milestones"] = list(self.lr_milestones)
        return {**values, "model": self.model.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        values = dict(values)
        model = ModelConfig(**values.pop("model"))
        return cls(model=model, **{**values, "lr_milestones": tuple(values["lr_milestones"])})

    def phase_lr(self, phase: str) -> float:
        base = {"reconstruction": self.lr,
                "classification": self.classification_lr}.get(phase, self.adversarial_lr)
        weight = self.weights.get(phase, REFERENCE_WEIGHTS[phase])
        return (self.lr if base is None else base) * weight / REFERENCE_WEIGHTS[phase]

    def phase_momentum(self, phase: str) -> float:
        adversarial = phase.startswith(("generator", "discriminator"))
        if adversarial and self.adversarial_momentum is not None:
            return self.adversarial_momentum
        return self.momentum


def paper_semisupervised(**overrides) -> TrainConfig:
    """The paper's semi-supervised recipe (REFERENCE.md §3/§5): SGD, [0, 1] pixels, batch 100."""
    model = ModelConfig(kind="semisupervised", ncode=10, pixel_range="unit")
    settings = dict(model=model, optimizer="sgd", batch_size=100, lr=0.01, adversarial_lr=0.1,
                    classification_lr=0.1, momentum=0.9, adversarial_momentum=0.1,
                    lr_milestones=(50, 1000), noise_std=0.3, n_labeled=1000, epochs=100)
    return TrainConfig(**{**settings, **overrides})


def reference_semisupervised(**overrides) -> TrainConfig:
    """The reference's Fig 8 run: Adam 2e-4, ÷10 at epochs 150 and 200, 250 epochs."""
    model = ModelConfig(kind="semisupervised", ncode=10)
    settings = dict(model=model, lr_milestones=(150, 200), epochs=250, n_labeled=1280,
                    noise_std=0.3)
    return TrainConfig(**{**settings, **overrides})


class Trainer:
    """Trains one model on MNIST held on ``device``; checkpoints into ``save_dir`` if given."""

    def __init__(self, config: TrainConfig, data: MNIST, device: str | torch.device = "cpu",
                 save_dir: str | Path | None = None, keep_every: int = 10,
                 progress: bool = True, on_epoch_end: Callable[[Trainer], None] | None = None):
        self.config = config
        self.device = torch.device(device)
        self.save_dir = Path(save_dir) if save_dir is not None else None
        self.keep_every = keep_every
        self.progress = progress
        self.on_epoch_end = on_epoch_end
        torch.manual_seed(config.seed)
        self.generator = torch.Generator(self.device).manual_seed(config.seed)
        self.model = AdversarialAutoencoder(config.model).to(self.device)
        self.optimizers = self._make_optimizers()
        self.history: dict[str, list[float]] = defaultdict(list)
        self.epochs_done = 0
        self.speed = float("nan")  # examples per second over the last fit()
        self._prepare_data(data.to(self.device))

    # ----------------------------------------------------------------------------- set-up
    def _prepare_data(self, data: MNIST) -> None:
        cfg = self.config
        train = torch.arange(len(data.train_labels), device=self.device)
        self.eval_images, self.eval_labels = data.test_images, data.test_labels
        if cfg.validation:
            train, held_out = (i.to(self.device) for i in train_validation_split(
                len(train), 10_000, cfg.seed))
            self.validation_images = data.train_images[held_out]
            self.validation_labels = data.train_labels[held_out]
        self.images = data.train_images[train]
        true_labels = data.train_labels[train]
        kind = cfg.model.kind
        if kind in ("label", "semisupervised") and cfg.n_labeled is not None:
            labeled = balanced_subset(true_labels.cpu(), cfg.n_labeled, cfg.seed).to(self.device)
        else:
            labeled = torch.arange(len(true_labels), device=self.device)
        self.labeled_index = labeled
        # What the model may see: true digits where labeled, UNLABELED elsewhere.
        self.labels = torch.full_like(true_labels, UNLABELED)
        self.labels[labeled] = true_labels[labeled]
        self._labeled_queue: list[torch.Tensor] = []  # semi-supervised: batches left this pass

    def _make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        model = self.model
        encoder, decoder = list(model.encoder.parameters()), list(model.decoder.parameters())
        groups = {"reconstruction": encoder + decoder,
                  "discriminator_z": list(model.discriminators["z"].parameters()),
                  "generator_z": encoder}
        if model.config.kind == "semisupervised":
            groups.update({"discriminator_y": list(model.discriminators["y"].parameters()),
                           "generator_y": encoder, "classification": encoder})
        return {phase: self._optimizer(params, phase) for phase, params in groups.items()}

    def _optimizer(self, params, phase: str) -> torch.optim.Optimizer:
        cfg = self.config
        lr, momentum = cfg.phase_lr(phase), cfg.phase_momentum(phase)
        if cfg.optimizer == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=momentum, foreach=True)
        return torch.optim.Adam(params, lr=lr, betas=(momentum, 0.999), fused=True)

    def _set_learning_rates(self, epoch: int) -> None:
        decay = 0.1 ** sum(epoch >= m for m in self.config.lr_milestones)
        for phase, optimizer in self.optimizers.items():
            for group in optimizer.param_groups:
                group["lr"] = self.config.phase_lr(phase) * decay

    # ----------------------------------------------------------------------------- phases
    def _noisy(self, images: torch.Tensor) -> torch.Tensor:
        if not self.config.noise_std:
            return images
        scale = 2.0 if self.config.model.pixel_range == "signed" else 1.0
        return images + self.config.noise_std * scale * torch.randn_like(images)

    def _autocast(self):
        """bfloat16 matrix products for the forward passes; weights and optimisers stay fp32.

        Entered per forward pass, never around an optimiser step, so autocast's cache of cast
        weights cannot outlive the weights it copied.
        """
        return torch.autocast(self.device.type, dtype=torch.bfloat16,
                              enabled=self.config.precision == "bf16")

    @staticmethod
    def _step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def _reconstruction_phase(self, inputs, targets, labels) -> torch.Tensor:
        model = self.model
        with self._autocast():
            codes, logits = model.encoder(inputs, dropout=1.0 - self.config.dropout_keep)
            if model.config.kind == "supervised":
                condition = labels
            else:
                condition = logits.softmax(1) if logits is not None else None
            error = model.decode(codes, condition).float() - targets
            loss = 0.5 * error.square().sum(1).mean()
        self._step(self.optimizers["reconstruction"], loss)
        return loss.detach()

    def _adversarial_phase(self, name: str, fake: torch.Tensor, real: torch.Tensor,
                           condition: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """One discriminator step, then one generator step; prior samples are the "real" side."""
        discriminator = self.model.discriminators[name]
        if condition is not None:
            fake, real = torch.cat([fake, condition], 1), torch.cat([real, condition], 1)
        n = len(real)
        targets = torch.cat([torch.ones(n, device=real.device),
                             torch.zeros(len(fake), device=real.device)])
        with self._autocast():
            logits = discriminator(torch.cat([real, fake.detach()])).float()
            d_loss = 2 * F.binary_cross_entropy_with_logits(logits, targets)  # mean real + fake
        self._step(self.optimizers[f"discriminator_{name}"], d_loss)
        discriminator.requires_grad_(False)  # the generator step needs no discriminator grads
        with self._autocast():
            fooled = discriminator(fake).float()
            g_loss = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
        self._step(self.optimizers[f"generator_{name}"], g_loss)
        discriminator.requires_grad_(True)
        return d_loss.detach(), g_loss.detach()

    def _next_labeled_batch(self) -> torch.Tensor:
        """Indices of a labeled minibatch; the labeled set is reshuffled whenever it runs out."""
        if not self._labeled_queue:
            order = batch_indices(len(self.labeled_index), self.config.batch_size,
                                  self.generator, self.device)
            self._labeled_queue = [self.labeled_index[b] for b in order][::-1]
        return self._labeled_queue.pop()

    def _classification_phase(self) -> torch.Tensor:
        index = self._next_labeled_batch()
        inputs = self._noisy(self.model.prepare(self.images[index]))
        with self._autocast():
            loss = F.cross_entropy(self.model.encoder(inputs)[1].float(), self.labels[index])
        self._step(self.optimizers["classification"], loss)
        return loss.detach()

    def train_step(self, index: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        """All phases on one minibatch; returns the losses as device tensors (no sync)."""
        model, cfg = self.model, self.config
        targets = model.prepare(self.images[index])
        inputs = self._noisy(targets)
        labels = self.labels[index]
        losses = {"reconstruction": self._reconstruction_phase(inputs, targets, labels)}
        with self._autocast():
            codes = model.encoder(inputs)[0]
        if model.config.kind == "label":
            real = model.prior.sample_for_labels(labels, self.generator)
        else:
            real = model.prior.sample(len(index), self.generator)
        losses["discriminator_z"], losses["generator_z"] = self._adversarial_phase(
            "z", codes, real, model.discriminator_condition(labels))
        if model.config.kind == "semisupervised":
            with self._autocast():  # the z generator step has moved the encoder
                class_probabilities = model.encoder(inputs)[1].float().softmax(1)
            real = model.class_prior.sample(len(index), self.generator)
            losses["discriminator_y"], losses["generator_y"] = self._adversarial_phase(
                "y", class_probabilities, real, None)
            if step % cfg.classify_every == 0:
                losses["classification"] = self._classification_phase()
        return losses

    # ----------------------------------------------------------------------------- epochs
    def train_epoch(self) -> dict[str, float]:
        self.model.train()
        self._set_learning_rates(self.epochs_done)
        totals: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = defaultdict(int)
        batches = batch_indices(len(self.images), self.config.batch_size, self.generator,
                                self.device)
        for step, index in enumerate(self._progress_bar(batches)):
            for name, loss in self.train_step(index, step).items():
                totals[name] = totals[name] + loss if name in totals else loss
                counts[name] += 1
        return {f"loss/{name}": total.item() / counts[name] for name, total in totals.items()}

    def _progress_bar(self, batches):
        if not self.progress:
            return batches
        from tqdm.auto import tqdm

        return tqdm(batches, desc=f"epoch {self.epochs_done}/{self.config.epochs}",
                    unit="batch", leave=False)

    def evaluate(self) -> dict[str, float]:
        """Metrics on the held-out images (validation set if any, and always the test set)."""
        metrics = evaluate.summary(self.model, self.eval_images, self.eval_labels, split="test")
        if self.config.validation:
            metrics.update(evaluate.summary(self.model, self.validation_images,
                                            self.validation_labels, split="validation"))
        if self.config.model.kind == "semisupervised":
            labeled = self.labeled_index
            metrics["accuracy/train"] = evaluate.accuracy(self.model, self.images[labeled],
                                                          self.labels[labeled])
        return metrics

    def fit(self, epochs: int | None = None) -> dict[str, list[float]]:
        """Train until ``epochs`` (default: the config's) epochs are done, checkpointing each."""
        target = self.config.epochs if epochs is None else epochs
        examples, seconds = 0, 0.0
        while self.epochs_done < target:
            start = time.perf_counter()
            losses = self.train_epoch()
            elapsed = time.perf_counter() - start
            examples += len(self.images)
            seconds += elapsed
            bad = [name for name, value in losses.items() if not math.isfinite(value)]
            if bad:
                raise TrainingDiverged(
                    f"epoch {self.epochs_done}: {', '.join(bad)} became {losses[bad[0]]}; "
                    "the last good checkpoint is kept — lower the learning rate and resume")
            record = {**losses, **self.evaluate(), "time/epoch_seconds": elapsed,
                      "time/examples_per_second": len(self.images) / elapsed}
            for name, value in record.items():
                self.history[name].append(value)
            self.epochs_done += 1
            if self.save_dir is not None:
                self.save()
            if self.on_epoch_end is not None:
                self.on_epoch_end(self)
        if seconds:
            self.speed = examples / seconds
        return dict(self.history)

    def speed_report(self) -> str:
        if math.isnan(self.speed):
            return f"{self.epochs_done} epochs were already done: nothing left to train"
        return (f"trained {self.epochs_done} epochs on {device_name(self.device)} at "
                f"{self.speed:,.0f} examples/s")

    # ----------------------------------------------------------------------------- checkpoints
    def state(self) -> dict:
        rng = {"torch": torch.get_rng_state(), "generator": self.generator.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {"model": self.model.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "rng": rng, "history": dict(self.history),
                "labeled_queue": list(self._labeled_queue)}

    def manifest(self) -> dict:
        return {"config": self.config.to_dict(), "model": self.config.model.to_dict(),
                "epoch": self.epochs_done - 1, "epochs_done": self.epochs_done,
                "seed": self.config.seed, "device": device_name(self.device),
                "wall_time_s": sum(self.history.get("time/epoch_seconds", [])),
                "metrics": {k: v[-1] for k, v in self.history.items() if v}}

    def save(self) -> Path:
        """Checkpoint the last epoch; drop the previous one unless it is a keeper."""
        epoch = self.epochs_done - 1
        path = checkpoints.save(checkpoints.epoch_path(self.save_dir, epoch), self.state(),
                                self.manifest())
        previous = epoch - 1
        if previous >= 0 and previous % self.keep_every:
            for suffix in (".pt", ".json"):
                checkpoints.epoch_path(self.save_dir, previous).with_suffix(suffix).unlink(
                    missing_ok=True)
        return path

    def load(self, path: str | Path, resume: bool = True) -> dict:
        """Restore a checkpoint; ``resume`` also restores optimisers, RNG and history."""
        config = self.config.to_dict()
        expected = {"model": config["model"], **({"config": config} if resume else {})}
        # A resumed run may train for more (or fewer) epochs than the checkpointed one.
        state, manifest = checkpoints.load(path, expected, ignore=("epochs",),
                                           map_location=self.device)
        self.model.load_state_dict(state["model"])
        if resume:
            for name, optimizer in self.optimizers.items():
                optimizer.load_state_dict(state["optimizers"][name])
            torch.set_rng_state(state["rng"]["torch"])
            self.generator.set_state(state["rng"]["generator"])
            if "cuda" in state["rng"]:
                torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
            self.history = defaultdict(list, state["history"])
            self._labeled_queue = list(state["labeled_queue"])
            self.epochs_done = manifest["epochs_done"]
        return manifest

    def resume(self) -> bool:
        """Continue from the newest checkpoint in ``save_dir``, if there is one."""
        epochs = checkpoints.saved_epochs(self.save_dir) if self.save_dir else []
        if not epochs:
            return False
        self.load(checkpoints.epoch_path(self.save_dir, epochs[-1]))
        return True


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; asking for a missing one fails."""
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": torch.backends.mps.is_available()}
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if available[d]))
    if name not in available:
        raise AAEError(f"unknown device {name!r}; choose auto, cpu, cuda or mps")
    if not available[name]:
        raise AAEError(f"device {name!r} is not available on this machine")
    return torch.device(name)


__all__ = ["TrainConfig", "Trainer", "paper_semisupervised", "reference_semisupervised",
           "resolve_device", "REFERENCE_WEIGHTS"]
