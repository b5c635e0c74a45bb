"""Training: the phases of one minibatch, and the trainer that runs epochs of them.

Per minibatch, as in the reference: a reconstruction step, then for each adversary of the model
a discriminator step (or ``discriminator_steps`` of them) and a generator step, then (if the
run uses labels for it) a classification step on a labeled minibatch. Each phase has its own
optimiser; the losses are the functions of :mod:`aae_lib.phases`.

Speed: the data set lives on the training device as uint8 and is batched by index; losses are
summed on the device and read every few dozen steps, so the step loop rarely waits for the
device. Checkpoints, divergence checks and code snapshots are in :mod:`aae_lib.bookkeeping`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import torch

from . import bookkeeping, checkpoints, evaluate
from .bookkeeping import device_name, plural
from .config import REFERENCE_WEIGHTS, RESUMABLE_CHANGES, TrainConfig
from .data import MNIST, batch_indices, labeled_view
from .errors import AAEError
from .models import AdversarialAutoencoder, Adversary, label_condition
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


class Trainer:
    """Trains one model on MNIST held on ``device``; checkpoints into ``save_dir`` if given.

    ``precision`` overrides the config's for this run (a resumed run otherwise keeps the
    precision it started with); ``supervised_only`` trains the classification phase alone on
    the labeled images (Table 2's supervised-only control).
    """

    def __init__(
        self,
        config: TrainConfig,
        data: MNIST,
        device: str | torch.device = "cpu",
        save_dir: str | Path | None = None,
        keep_every: int = 10,
        progress: bool = True,
        on_epoch_end: Callable[[Trainer], None] | None = None,
        precision: str | None = None,
        supervised_only: bool = False,
    ):
        self.device = torch.device(device)
        self.asked_precision = precision
        self.precision = resolve_precision(precision or config.precision, self.device)
        self.config = config
        self.supervised_only = supervised_only
        if supervised_only and not config.classify:
            raise ValueError("supervised_only trains the classification phase: set classify")
        self.save_dir = Path(save_dir) if save_dir is not None else None
        self.keep_every = keep_every
        self.progress = progress
        self.on_epoch_end = on_epoch_end
        bookkeeping.check_fits(config.model, self.device)
        torch.manual_seed(config.seed)
        self.generator = torch.Generator(self.device).manual_seed(config.seed)
        self.model = AdversarialAutoencoder(config.model).to(self.device)
        phases = ["classification"] if supervised_only else config.phases
        self.optimizers = {phase: self._optimizer(phase) for phase in phases}
        self.history: dict[str, list[float]] = defaultdict(list)
        self.code_snapshots: list[torch.Tensor] = []  # 2-D models: test codes after each epoch
        self.resumptions: list[dict] = []  # settings changed when the run was resumed
        self.epochs_done = 0
        self.speed = float("nan")  # examples per second over the last fit()
        self.epochs_trained = 0  # by the last fit()
        view = labeled_view(
            data.to(self.device), config.n_labeled, config.validation, config.label_draw_seed
        )
        self.images, self.labels, self.labeled_index = view.images, view.labels, view.labeled
        self.eval_images, self.eval_labels = view.test_images, view.test_labels
        self.validation_images, self.validation_labels = (
            view.validation_images,
            view.validation_labels,
        )
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
        return torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"
        )

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

    def regularization_step(
        self, adversary: Adversary, inputs: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
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
            order = batch_indices(
                len(self.labeled_index), self.config.batch_size, self.generator, self.device
            )
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
            loss = loss + cluster_head_penalty(
                model.cluster_heads.weight.T, cfg.model.cluster_head_spacing
            )
        losses = {"reconstruction": self._step("reconstruction", loss)}
        for adversary in cfg.model.adversaries:
            d_loss, g_loss = self.regularization_step(adversary, inputs, labels)
            losses[f"discriminator_{adversary.judges}"] = d_loss
            losses[f"generator_{adversary.judges}"] = g_loss
        if cfg.classify and step % cfg.classify_every == 0:
            losses["classification"] = self.classification_step(self._next_labeled_batch())
        return losses

    def classification_step(self, labeled: torch.Tensor) -> torch.Tensor:
        """One step of the categorical head on the labeled images at ``labeled``."""
        inputs = self._noisy(self.model.prepare(self.images[labeled]))
        with self._autocast():
            loss = classification_loss(self.model, inputs, self.labels[labeled])
        return self._step("classification", loss)

    # ----------------------------------------------------------------------------- epochs
    def epoch_batches(self) -> list[torch.Tensor]:
        """One epoch's minibatches: of every training image, or of the labeled ones alone."""
        if self.supervised_only:
            order = batch_indices(
                len(self.labeled_index), self.config.batch_size, self.generator, self.device
            )
            return [self.labeled_index[b] for b in order]
        return batch_indices(len(self.images), self.config.batch_size, self.generator, self.device)

    def train_epoch(self) -> dict[str, float]:
        self.model.train()
        self._set_learning_rates(self.epochs_done)
        totals = bookkeeping.LossTotals(self.save_dir, self.epochs_done, self.config.lr)
        batches = self.epoch_batches()
        for step, index in enumerate(self._progress_bar(batches)):
            if self.supervised_only:
                losses = {"classification": self.classification_step(index)}
            else:
                losses = self.train_step(index, step)
            totals.add(losses, step)
        totals.check(len(batches) - 1)
        return totals.means()

    def _progress_bar(self, batches):
        if not self.progress:
            return batches
        from tqdm.auto import tqdm

        return tqdm(
            batches,
            desc=f"epoch {self.epochs_done}/{self.config.epochs}",
            unit="batch",
            leave=False,
        )

    def evaluate(self, model: AdversarialAutoencoder | None = None) -> dict[str, float]:
        """Metrics of ``model`` (default: the one being trained) on the held-out images
        (validation set if any, and always the test set)."""
        model = self.model if model is None else model
        classifier = self.config.classify
        metrics = evaluate.summary(model, self.eval_images, self.eval_labels, "test", classifier)
        if self.config.validation:
            metrics.update(
                evaluate.summary(
                    model, self.validation_images, self.validation_labels, "validation", classifier
                )
            )
        if self.config.classify:
            labeled = self.labeled_index
            metrics["accuracy/train"] = evaluate.accuracy(
                model, self.images[labeled], self.labels[labeled]
            )
        elif self.config.model.n_classes and self.config.validation:  # clusters, no labels
            held_out = (
                self.validation_images,
                self.validation_labels,
                self.eval_images,
                self.eval_labels,
            )
            metrics["cluster_error/test"] = evaluate.cluster_error(model, *held_out)[0]
            metrics["majority_cluster_error/test"] = evaluate.majority_cluster_error(
                model, *held_out
            )
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
            trained = (
                sum(len(b) for b in self.epoch_batches())
                if self.supervised_only
                else len(self.images)
            )
            examples += trained
            seconds += elapsed
            record = {
                **losses,
                **self.evaluate(),
                "time/epoch_seconds": elapsed,
                "time/examples_per_second": trained / elapsed,
            }
            for name, value in record.items():
                self.history[name].append(value)
            snapshot = bookkeeping.code_snapshot(self)
            if snapshot is not None:
                self.code_snapshots.append(snapshot)
            self.epochs_done += 1
            self.epochs_trained += 1
            if self.save_dir is not None:
                self.save()
            if self.on_epoch_end is not None:
                self.on_epoch_end(self)
        if seconds:
            self.speed = examples / seconds
        return dict(self.history)

    # ----------------------------------------------------------------------------- records
    def epoch_summary(self) -> str:
        return bookkeeping.epoch_summary(self)

    def speed_report(self) -> str:
        return bookkeeping.speed_report(self)

    def manifest(self) -> dict:
        return bookkeeping.run_manifest(self)

    def save(self) -> Path:
        return bookkeeping.save_epoch(self, self.keep_every)

    def load(self, path: str | Path, resume: bool = True) -> dict:
        """Restore a checkpoint; ``resume`` also restores optimisers, random streams, history
        and precision. A resumed run may change ``RESUMABLE_CHANGES``; the manifest records
        what changed and when."""
        return bookkeeping.restore(self, path, resume)

    def resume(self) -> bool:
        """Continue from the newest complete checkpoint in ``save_dir``, if there is one."""
        return bookkeeping.resume_latest(self)


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; asking for a missing one fails."""
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if available[d]))
    if name not in available:
        raise AAEError(f"unknown device {name!r}; choose auto, cpu, cuda or mps")
    if not available[name]:
        raise AAEError(f"device {name!r} is not available on this machine")
    return torch.device(name)


__all__ = [
    "TrainConfig",
    "Trainer",
    "resolve_device",
    "device_name",
    "plural",
    "REFERENCE_WEIGHTS",
    "RESUMABLE_CHANGES",
]
