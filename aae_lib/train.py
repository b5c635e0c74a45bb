"""Training: the phases of one minibatch, and the trainer that runs epochs of them.

Per minibatch, as in the reference: a reconstruction step, then for each adversary of the model
a discriminator step (or ``discriminator_steps`` of them) and a generator step, then (if the
run uses labels for it) a classification step on a labeled minibatch. Each phase has its own
optimiser; the losses are the functions of :mod:`aae_lib.phases`.

Speed: the data set lives on the training device as uint8 and is batched by index; losses are
summed on the device and read every ``DIVERGENCE_CHECK_STEPS`` steps, so the step loop rarely
waits for the device.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch

from . import checkpoints, evaluate
from .data import MNIST, batch_indices, labeled_view
from .errors import AAEError, TrainingDiverged
from .models import AdversarialAutoencoder, Adversary, ModelConfig, label_condition
from .phases import (
    add_input_noise,
    classification_loss,
    cluster_head_penalty,
    discriminator_loss,
    drop_input_pixels,
    generator_loss,
    reconstruction_loss,
    vae_losses,
)
from .precision import resolve_precision

# The reference's loss weights. A weight scales its phase's learning rate relative to these
# values: the reference feeds each weighted loss to its own Adam, which is blind to a constant
# factor on the loss, so its weight flags did nothing. Here the defaults reproduce the
# reference exactly and any other value really changes how fast that phase learns.
REFERENCE_WEIGHTS = {"reconstruction": 1.0, "generator_z": 6.0, "discriminator_z": 6.0,
                     "classification": 1.0, "generator_y": 6.0, "discriminator_y": 6.0}

# A loss this large has left any sane range (reconstruction is at most 0.5 * 784 * 4 = 1568;
# cross-entropies of a working model are a few units), so training has diverged.
LOSS_LIMIT = 1e4
DIVERGENCE_CHECK_STEPS = 50
# Settings that a resumed run may change; the manifest records each change and when. Moving a
# milestone lets a run drop its learning rate when its curves have flattened.
RESUMABLE_CHANGES = ("epochs", "lr", "adversarial_lr", "classification_lr", "weights",
                     "lr_milestones")
SNAPSHOT_IMAGES = 1000  # test images whose 2-D codes are recorded every epoch


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
    # Fraction of the encoder's input pixels zeroed in training (the paper's clustering: 0.2)
    input_dropout: float = 0.0
    dropout_keep: float = 1.0
    n_labeled: int | None = None  # labels the model may see; None = every label
    classify: bool = False  # a classification phase on the labeled images (semi-supervised)
    validation: bool = False  # hold out 10 000 training images for validation
    classify_every: int = 1  # classification step every n minibatches
    # Discriminator steps per generator step (the k of Goodfellow et al. 2014). The reference
    # and the paper take one; a stronger adversary can push more of a feature out of the code.
    discriminator_steps: int = 1
    seed: int = 0
    # The labeled images and the validation split; None: ``seed``. A separate seed keeps one
    # label draw while the initial weights and the batch order change.
    label_seed: int | None = None
    # "bf16": bfloat16 autocast for the forward passes; "auto": bf16 where the hardware does it
    # natively and a start-up probe finds it faster, fp32 elsewhere (aae_lib.precision)
    precision: str = "auto"

    def __post_init__(self):
        problems = []
        if self.precision not in ("auto", "fp32", "bf16"):
            problems.append(f"precision must be auto, fp32 or bf16, not {self.precision!r}")
        if self.optimizer not in ("adam", "sgd"):
            problems.append(f"optimizer must be adam or sgd, not {self.optimizer!r}")
        for name in ("epochs", "batch_size", "classify_every", "discriminator_steps"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, not {getattr(self, name)}")
        rates = {"lr": self.lr, "adversarial_lr": self.adversarial_lr,
                 "classification_lr": self.classification_lr, "momentum": self.momentum,
                 "adversarial_momentum": self.adversarial_momentum}
        for name, value in rates.items():
            if value is not None and not (math.isfinite(value) and value >= 0):
                problems.append(f"{name} must be a finite number >= 0, not {value}")
        for name in ("lr", "adversarial_lr", "classification_lr"):
            if rates[name] == 0:
                problems.append(f"{name} is 0: nothing would be trained")
        if not 0.0 < self.dropout_keep <= 1.0:
            problems.append(f"dropout keep probability must be in (0, 1], not {self.dropout_keep}")
        if not 0.0 <= self.input_dropout < 1.0:
            problems.append(f"input dropout must be in [0, 1), not {self.input_dropout}")
        if not (math.isfinite(self.noise_std) and self.noise_std >= 0):
            problems.append(f"noise std must be a finite number >= 0, not {self.noise_std}")
        unknown = set(self.weights) - set(REFERENCE_WEIGHTS)
        if unknown:
            problems.append(f"unknown loss weights {sorted(unknown)}")
        bad_weights = {k: w for k, w in self.weights.items()
                       if not (math.isfinite(w) and w > 0)}
        if bad_weights:
            problems.append(f"loss weights must be finite and positive, not {bad_weights}")
        if self.n_labeled is not None and self.n_labeled < self.model.n_classes:
            problems.append(f"n_labeled must be at least one per class, not {self.n_labeled}")
        if self.classify and self.model.n_classes != 10:
            problems.append("a classification phase needs a categorical head of 10 classes")
        if self.model.decoder_input == "code+label" and self.n_labeled is not None:
            problems.append("a decoder given the true label needs every label: n_labeled None")
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
        model = ModelConfig.from_dict(values.pop("model"))
        return cls(model=model, **{**values, "lr_milestones": tuple(values["lr_milestones"])})

    @property
    def label_draw_seed(self) -> int:
        """The seed that draws the labeled images and the validation split."""
        return self.seed if self.label_seed is None else self.label_seed

    @property
    def phases(self) -> list[str]:
        """The optimised phases, in the order they run on a minibatch."""
        names = ["reconstruction"]
        for adversary in self.model.adversaries:
            names += [f"discriminator_{adversary.judges}", f"generator_{adversary.judges}"]
        return names + (["classification"] if self.classify else [])

    def phase_lr(self, phase: str, epoch: int = 0) -> float:
        """The phase's learning rate in ``epoch``: divided by 10 at each milestone passed."""
        base = {"reconstruction": self.lr,
                "classification": self.classification_lr}.get(phase, self.adversarial_lr)
        weight = self.weights.get(phase, REFERENCE_WEIGHTS[phase])
        decay = 0.1 ** sum(epoch >= m for m in self.lr_milestones)
        return (self.lr if base is None else base) * weight / REFERENCE_WEIGHTS[phase] * decay

    def phase_momentum(self, phase: str) -> float:
        adversarial = phase.startswith(("generator", "discriminator"))
        if adversarial and self.adversarial_momentum is not None:
            return self.adversarial_momentum
        return self.momentum


class Trainer:
    """Trains one model on MNIST held on ``device``; checkpoints into ``save_dir`` if given."""

    def __init__(self, config: TrainConfig, data: MNIST, device: str | torch.device = "cpu",
                 save_dir: str | Path | None = None, keep_every: int = 10,
                 progress: bool = True, on_epoch_end: Callable[[Trainer], None] | None = None):
        self.device = torch.device(device)
        self.precision = resolve_precision(config.precision, self.device)
        self.config = config
        self.save_dir = Path(save_dir) if save_dir is not None else None
        self.keep_every = keep_every
        self.progress = progress
        self.on_epoch_end = on_epoch_end
        torch.manual_seed(config.seed)
        self.generator = torch.Generator(self.device).manual_seed(config.seed)
        self.model = AdversarialAutoencoder(config.model).to(self.device)
        self.optimizers = {phase: self._optimizer(phase) for phase in config.phases}
        self.history: dict[str, list[float]] = defaultdict(list)
        self.code_snapshots: list[torch.Tensor] = []  # 2-D models: test codes after each epoch
        self.resumptions: list[dict] = []  # settings changed when the run was resumed
        self.epochs_done = 0
        self.speed = float("nan")  # examples per second over the last fit()
        self.epochs_trained = 0  # by the last fit()
        view = labeled_view(data.to(self.device), config.n_labeled, config.validation,
                            config.label_draw_seed)
        self.images, self.labels, self.labeled_index = view.images, view.labels, view.labeled
        self.eval_images, self.eval_labels = view.test_images, view.test_labels
        self.validation_images, self.validation_labels = view.validation_images, \
            view.validation_labels
        self._labeled_queue: list[torch.Tensor] = []  # labeled batches left in this pass

    def _optimizer(self, phase: str) -> torch.optim.Optimizer:
        """Each phase updates its own parameters with its own optimiser."""
        model, cfg = self.model, self.config
        if phase == "reconstruction":
            heads = [] if model.cluster_heads is None else list(model.cluster_heads.parameters())
            params = list(model.encoder.parameters()) + list(model.decoder.parameters()) + heads
        elif phase.startswith("discriminator_"):
            params = list(model.discriminators[phase.removeprefix("discriminator_")].parameters())
        else:  # the generator steps and classification move the encoder only
            params = list(model.encoder.parameters())
        lr, momentum = cfg.phase_lr(phase), cfg.phase_momentum(phase)
        if cfg.optimizer == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=momentum, foreach=True)
        return torch.optim.Adam(params, lr=lr, betas=(momentum, 0.999), fused=True)

    def _set_learning_rates(self, epoch: int) -> None:
        for phase, optimizer in self.optimizers.items():
            for group in optimizer.param_groups:
                group["lr"] = self.config.phase_lr(phase, epoch)

    # ----------------------------------------------------------------------------- one step
    def _noisy(self, images: torch.Tensor) -> torch.Tensor:
        """The encoder's training input: the image with the run's noise and input dropout."""
        noisy = add_input_noise(images, self.config.noise_std, self.config.model.pixel_range)
        return drop_input_pixels(noisy, self.config.input_dropout)

    def _autocast(self):
        """bfloat16 matrix products for the forward passes; weights and optimisers stay fp32.

        Entered per forward pass, never around an optimiser step, so autocast's cache of cast
        weights cannot outlive the weights it copied.
        """
        return torch.autocast(self.device.type, dtype=torch.bfloat16,
                              enabled=self.precision == "bf16")

    def _step(self, phase: str, loss: torch.Tensor) -> torch.Tensor:
        optimizer = self.optimizers[phase]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    def prior_samples(self, adversary: Adversary, labels: torch.Tensor) -> torch.Tensor:
        """The "real" side of an adversary's game: one-hot class samples for the class head;
        for the code, prior samples, from each labeled image's own part of the prior if the
        adversary sees labels (unlabeled images get samples of the whole prior)."""
        if adversary.judges == "y":
            return self.model.class_prior.sample(len(labels), self.generator)
        if adversary.sees_label:
            return self.model.prior.sample_for_labels(labels, self.generator)
        return self.model.prior.sample(len(labels), self.generator)

    def regularization_step(self, adversary: Adversary, inputs: torch.Tensor,
                            labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``discriminator_steps`` discriminator steps, then one generator step, for one
        adversary; returns the mean discriminator loss and the generator loss.

        The encoder does not move between the discriminator steps, so each of them judges the
        same codes of this minibatch against fresh prior samples."""
        model = self.model
        discriminator = model.discriminators[adversary.judges]
        with self._autocast():
            codes, logits = model.encoder(inputs)
        fake = codes if adversary.judges == "z" else logits.float().softmax(1)
        condition = label_condition(labels) if adversary.sees_label else None
        if condition is not None:
            fake = torch.cat([fake, condition], 1)
        d_losses = []
        for _ in range(self.config.discriminator_steps):
            real = self.prior_samples(adversary, labels)
            if condition is not None:
                real = torch.cat([real, condition], 1)
            with self._autocast():
                d_loss = discriminator_loss(discriminator, real, fake)
            d_losses.append(self._step(f"discriminator_{adversary.judges}", d_loss))
        discriminator.requires_grad_(False)  # the generator step needs no discriminator grads
        with self._autocast():
            g_loss = generator_loss(discriminator, fake)
        g_loss = self._step(f"generator_{adversary.judges}", g_loss)
        discriminator.requires_grad_(True)
        return torch.stack(d_losses).mean(), g_loss

    def _next_labeled_batch(self) -> torch.Tensor:
        """Indices of a labeled minibatch; the labeled set is reshuffled whenever it runs out."""
        if not self._labeled_queue:
            order = batch_indices(len(self.labeled_index), self.config.batch_size,
                                  self.generator, self.device)
            self._labeled_queue = [self.labeled_index[b] for b in order][::-1]
        return self._labeled_queue.pop()

    def train_step(self, index: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        """All phases on one minibatch; returns the losses as device tensors (no sync)."""
        model, cfg = self.model, self.config
        targets = model.prepare(self.images[index])
        inputs = self._noisy(targets)
        labels = self.labels[index]
        dropout = 1.0 - cfg.dropout_keep
        if cfg.model.regularizer == "kl":  # the VAE: one step on reconstruction + KL
            with self._autocast():
                reconstruction, kl = vae_losses(model, inputs, targets, dropout)
            self._step("reconstruction", reconstruction + kl)
            return {"reconstruction": reconstruction.detach(), "kl": kl.detach()}
        with self._autocast():
            loss = reconstruction_loss(model, inputs, targets, labels, dropout)
        if model.cluster_heads is not None:
            loss = loss + cluster_head_penalty(model.cluster_heads.weight.T,
                                               cfg.model.cluster_head_spacing)
        losses = {"reconstruction": self._step("reconstruction", loss)}
        for adversary in cfg.model.adversaries:
            d_loss, g_loss = self.regularization_step(adversary, inputs, labels)
            losses[f"discriminator_{adversary.judges}"] = d_loss
            losses[f"generator_{adversary.judges}"] = g_loss
        if cfg.classify and step % cfg.classify_every == 0:
            labeled = self._next_labeled_batch()
            labeled_inputs = self._noisy(model.prepare(self.images[labeled]))
            with self._autocast():
                loss = classification_loss(model, labeled_inputs, self.labels[labeled])
            losses["classification"] = self._step("classification", loss)
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
            if (step + 1) % DIVERGENCE_CHECK_STEPS == 0:
                self._check_divergence(totals, counts, step)
        self._check_divergence(totals, counts, len(batches) - 1)
        return {f"loss/{name}": total.item() / counts[name] for name, total in totals.items()}

    def _check_divergence(self, totals: dict[str, torch.Tensor], counts: dict[str, int],
                          step: int) -> None:
        """Stop at a non-finite or exploding mean loss: one device sync per call."""
        names = list(totals)
        means = torch.stack([totals[n] / counts[n] for n in names]).float().cpu()
        bad = [(n, float(m)) for n, m in zip(names, means, strict=True)
               if not (math.isfinite(m) and abs(m) < LOSS_LIMIT)]
        if not bad:
            return
        name, value = bad[0]
        kept = checkpoints.latest_complete(self.save_dir) if self.save_dir else None
        where = (f"the last good checkpoint (epoch {kept}) is kept; resume from it with a lower "
                 "learning rate (a resumed run may change it)" if kept is not None else
                 "no checkpoint was written; start again with a lower learning rate")
        raise TrainingDiverged(
            f"training diverged in epoch {self.epochs_done}, step {step}: the mean {name} loss "
            f"is {value:.3g} (limit {LOSS_LIMIT:g}) at lr {self.config.lr:g}; {where}")

    def _progress_bar(self, batches):
        if not self.progress:
            return batches
        from tqdm.auto import tqdm

        return tqdm(batches, desc=f"epoch {self.epochs_done}/{self.config.epochs}",
                    unit="batch", leave=False)

    def evaluate(self, model: AdversarialAutoencoder | None = None) -> dict[str, float]:
        """Metrics of ``model`` (default: the one being trained) on the held-out images
        (validation set if any, and always the test set)."""
        model = self.model if model is None else model
        classifier = self.config.classify
        metrics = evaluate.summary(model, self.eval_images, self.eval_labels, "test", classifier)
        if self.config.validation:
            metrics.update(evaluate.summary(model, self.validation_images,
                                            self.validation_labels, "validation", classifier))
        if self.config.classify:
            labeled = self.labeled_index
            metrics["accuracy/train"] = evaluate.accuracy(model, self.images[labeled],
                                                          self.labels[labeled])
        elif self.config.model.n_classes and self.config.validation:  # clusters, no labels
            held_out = (self.validation_images, self.validation_labels, self.eval_images,
                        self.eval_labels)
            metrics["cluster_error/test"] = evaluate.cluster_error(model, *held_out)[0]
            metrics["majority_cluster_error/test"] = evaluate.majority_cluster_error(
                model, *held_out)
            metrics["clusters_in_use/test"] = evaluate.clusters_in_use(model, self.eval_images)
        return metrics

    def fit(self, epochs: int | None = None) -> dict[str, list[float]]:
        """Train until ``epochs`` (default: the config's) epochs are done, checkpointing each."""
        target = self.config.epochs if epochs is None else epochs
        if self.save_dir is not None:
            checkpoints.ensure_writable(self.save_dir)
        examples, seconds, self.epochs_trained = 0, 0.0, 0
        while self.epochs_done < target:
            start = time.perf_counter()
            losses = self.train_epoch()
            elapsed = time.perf_counter() - start
            examples += len(self.images)
            seconds += elapsed
            record = {**losses, **self.evaluate(), "time/epoch_seconds": elapsed,
                      "time/examples_per_second": len(self.images) / elapsed}
            for name, value in record.items():
                self.history[name].append(value)
            if self.config.model.ncode == 2:
                self.code_snapshots.append(evaluate.represent_all(
                    self.model, self.eval_images[:SNAPSHOT_IMAGES]).half().cpu())
            self.epochs_done += 1
            self.epochs_trained += 1
            if self.save_dir is not None:
                self.save()
            if self.on_epoch_end is not None:
                self.on_epoch_end(self)
        if seconds:
            self.speed = examples / seconds
        return dict(self.history)

    def epoch_summary(self) -> str:
        """One line on the last epoch: losses and the held-out metrics."""
        last = {k: v[-1] for k, v in self.history.items() if not k.startswith("time/")}
        parts = [f"{k.removeprefix('loss/')} {v:.4g}" for k, v in last.items()]
        seconds = self.history["time/epoch_seconds"][-1]
        return f"epoch {self.epochs_done - 1}/{self.config.epochs}: {', '.join(parts)} " \
               f"({seconds:.0f} s)"

    def speed_report(self) -> str:
        """One line on the last fit(): epochs trained, device, precision, examples/s."""
        if not self.epochs_trained:
            return f"{plural(self.epochs_done, 'epoch')} already done: nothing left to train"
        return (f"trained {plural(self.epochs_trained, 'epoch')} on {device_name(self.device)} "
                f"({self.precision}) at {self.speed:,.0f} examples/s")

    # ----------------------------------------------------------------------------- checkpoints
    def state(self) -> dict:
        rng = {"torch": torch.get_rng_state(), "generator": self.generator.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {"model": self.model.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "rng": rng, "history": dict(self.history),
                "labeled_queue": list(self._labeled_queue),
                "code_snapshots": list(self.code_snapshots)}

    def manifest(self) -> dict:
        return {"config": self.config.to_dict(), "model": self.config.model.to_dict(),
                "epoch": self.epochs_done - 1, "epochs_done": self.epochs_done,
                "seed": self.config.seed, "device": device_name(self.device),
                "precision": self.precision, "resumptions": self.resumptions,
                "wall_time_s": sum(self.history.get("time/epoch_seconds", [])),
                "metrics": {k: v[-1] for k, v in self.history.items() if v}}

    def save(self) -> Path:
        """Checkpoint the last epoch; drop the previous one unless it is a keeper."""
        epoch = self.epochs_done - 1
        path = checkpoints.save(checkpoints.epoch_path(self.save_dir, epoch), self.state(),
                                self.manifest())
        previous = epoch - 1
        if previous >= 0 and previous % self.keep_every:
            checkpoints.remove(checkpoints.epoch_path(self.save_dir, previous))
        return path

    def load(self, path: str | Path, resume: bool = True) -> dict:
        """Restore a checkpoint; ``resume`` also restores optimisers, RNG and history.

        A resumed run may change the settings in ``RESUMABLE_CHANGES`` (a lower learning rate
        after a divergence, more epochs, an earlier milestone); the manifest records what
        changed and when.
        """
        config, defaults = self.config.to_dict(), TrainConfig().to_dict()
        expected = {"model": config["model"], **({"config": config} if resume else {})}
        state, manifest = checkpoints.load(path, expected, ignore=RESUMABLE_CHANGES,
                                           map_location=self.device,
                                           defaults={"model": defaults["model"],
                                                     "config": defaults})
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
            self.code_snapshots = list(state["code_snapshots"])
            self.epochs_done = manifest["epochs_done"]
            self.resumptions = list(manifest.get("resumptions", []))
            changes = checkpoints.config_differences(
                {k: manifest["config"].get(k) for k in RESUMABLE_CHANGES if k != "epochs"},
                {k: config[k] for k in RESUMABLE_CHANGES if k != "epochs"})
            if changes:
                self.resumptions.append({"epoch": self.epochs_done, "changes": changes})
        return manifest

    def resume(self) -> bool:
        """Continue from the newest complete checkpoint in ``save_dir``, if there is one.

        What an interrupted save left behind (a half-written file, weights without their
        manifest) is removed first, and the fallback to an older epoch is reported.
        """
        if self.save_dir is None:
            return False
        for message in checkpoints.clean_incomplete(self.save_dir):
            print(message)
        epoch = checkpoints.latest_complete(self.save_dir)
        if epoch is None:
            return False
        self.load(checkpoints.epoch_path(self.save_dir, epoch))
        return True


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


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


__all__ = ["TrainConfig", "Trainer", "resolve_device", "REFERENCE_WEIGHTS"]
