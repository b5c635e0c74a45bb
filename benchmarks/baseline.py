"""The yardstick: AAE training written the way most public PyTorch implementations are.

torchvision's MNIST through ``ToTensor``/``Normalize``, a shuffling ``DataLoader``, one Adam per
phase, every loss read back with ``.item()`` each step, one-hot labels made per batch and prior
samples drawn on the CPU and copied to the device. The networks are aae_lib's own and the phases
are those of ``aae_lib.train.Trainer.train_step``, in the same order, so the two differ in how
the work is fed and orchestrated, not in the math (tests/test_benchmarks.py checks that).

DataLoader settings follow pytorch/examples' mnist/main.py, the pattern most implementations
copy: default workers on the CPU, ``num_workers=1, pin_memory=True`` on CUDA.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

from aae_lib.data import MNIST_SHA256, N_CLASSES, balanced_subset
from aae_lib.models import AdversarialAutoencoder, ModelConfig
from aae_lib.train import TrainConfig

LR = 2e-4
BETAS = (0.5, 0.999)


def torchvision_root(mnist_dir: Path, root: Path) -> Path:
    """Lay out ``root/MNIST/raw`` as torchvision expects, linking to already verified files."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in MNIST_SHA256:
        link = raw / name
        if not link.exists():
            link.symlink_to((Path(mnist_dir) / name).resolve())
    return root


def model_kind(model: ModelConfig) -> str:
    """Which of the book's four models ``model`` is, as a typical implementation branches."""
    if model.decoder_input == "code+class":
        return "semisupervised"
    if model.decoder_input == "code+label":
        return "supervised"
    return "label" if model.label_conditioned else "unsupervised"


def forever(loader: Iterable) -> Iterator:
    """Batches without end, reshuffled each pass (``itertools.cycle`` would replay the first)."""
    while True:
        yield from loader


class BaselineTrainer:
    """Trains ``config.model`` on the first ``n_train`` images under ``root`` (torchvision layout).

    Uses the config's model, batch size, input noise, labeled-set size and seed; the optimiser
    is the reference's Adam for every phase, as in the kinds the benchmark compares. The label
    kind sees every label.
    """

    def __init__(
        self, config: TrainConfig, root: Path, n_train: int, device: str | torch.device = "cpu"
    ):
        self.config = config
        self.kind = model_kind(config.model)
        self.device = torch.device(device)
        torch.manual_seed(config.seed)
        self.prior_rng = torch.Generator().manual_seed(config.seed)
        self.model = AdversarialAutoencoder(config.model).to(self.device)

        transform = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]
        )
        self.dataset = datasets.MNIST(root, train=True, download=False, transform=transform)
        train = Subset(self.dataset, range(min(n_train, len(self.dataset))))
        cuda = {"num_workers": 1, "pin_memory": True} if self.device.type == "cuda" else {}
        self.loader = DataLoader(train, batch_size=config.batch_size, shuffle=True, **cuda)

        model = self.model
        encoder = list(model.encoder.parameters())
        self.reconstruction_optimizer = self._adam(encoder + list(model.decoder.parameters()))
        self.discriminator_z_optimizer = self._adam(model.discriminators["z"].parameters())
        self.generator_z_optimizer = self._adam(encoder)
        if self.kind == "semisupervised":
            self.discriminator_y_optimizer = self._adam(model.discriminators["y"].parameters())
            self.generator_y_optimizer = self._adam(encoder)
            self.classifier_optimizer = self._adam(encoder)
            targets = self.dataset.targets[: len(train)]
            labeled = balanced_subset(targets, config.n_labeled or len(targets), config.seed)
            labeled_set = Subset(self.dataset, labeled.tolist())
            self.labeled_batches = forever(
                DataLoader(labeled_set, batch_size=config.batch_size, shuffle=True, **cuda)
            )

    @staticmethod
    def _adam(params) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=LR, betas=BETAS)

    def _noisy(self, images: torch.Tensor) -> torch.Tensor:
        """Input noise; its std is in [0, 1] pixel units, hence doubled for [-1, 1] pixels."""
        if not self.config.noise_std:
            return images
        return images + 2 * self.config.noise_std * torch.randn_like(images)

    def _sample_prior(self, labels: torch.Tensor) -> torch.Tensor:
        prior = self.model.prior
        if self.kind == "label":
            codes = prior.sample_for_labels(labels, self.prior_rng)
        else:
            codes = prior.sample(len(labels), self.prior_rng)
        return codes.to(self.device)

    def _adversarial_step(
        self, discriminator, d_optimizer, g_optimizer, fake, real, condition=None
    ) -> tuple[float, float]:
        """Discriminator step (prior samples are "real"), then generator step; returns losses."""
        if condition is not None:
            fake, real = torch.cat([fake, condition], 1), torch.cat([real, condition], 1)
        d_real = discriminator(real)
        d_fake = discriminator(fake.detach())
        d_loss = F.binary_cross_entropy_with_logits(
            d_real, torch.ones_like(d_real)
        ) + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        d_optimizer.zero_grad()
        d_loss.backward()
        d_optimizer.step()

        g_fake = discriminator(fake)
        g_loss = F.binary_cross_entropy_with_logits(g_fake, torch.ones_like(g_fake))
        g_optimizer.zero_grad()
        g_loss.backward()
        g_optimizer.step()
        return d_loss.item(), g_loss.item()

    def train_step(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        """One DataLoader batch through every phase; returns the logged losses."""
        model, kind = self.model, self.kind
        images = images.view(len(images), -1).to(self.device)
        inputs = self._noisy(images)
        losses = {}

        codes, logits = model.encoder(inputs)
        if kind == "supervised":
            one_hot = F.one_hot(labels.to(self.device), N_CLASSES).float()
            codes = torch.cat([codes, one_hot], 1)
        elif kind == "semisupervised":
            codes = torch.cat([codes, logits.softmax(1)], 1)
        reconstruction = model.decoder(codes)
        loss = 0.5 * (reconstruction - images).pow(2).sum(1).mean()
        self.reconstruction_optimizer.zero_grad()
        loss.backward()
        self.reconstruction_optimizer.step()
        losses["reconstruction"] = loss.item()

        codes, _ = model.encoder(inputs)
        condition = None
        if kind == "label":
            condition = F.one_hot(labels.to(self.device), N_CLASSES + 1).float()
        losses["discriminator_z"], losses["generator_z"] = self._adversarial_step(
            model.discriminators["z"],
            self.discriminator_z_optimizer,
            self.generator_z_optimizer,
            codes,
            self._sample_prior(labels),
            condition,
        )

        if kind == "semisupervised":
            _, logits = model.encoder(inputs)
            classes = torch.randint(N_CLASSES, (len(images),), generator=self.prior_rng)
            real = F.one_hot(classes, N_CLASSES).float().to(self.device)
            losses["discriminator_y"], losses["generator_y"] = self._adversarial_step(
                model.discriminators["y"],
                self.discriminator_y_optimizer,
                self.generator_y_optimizer,
                logits.softmax(1),
                real,
            )

            labeled_images, labeled_labels = next(self.labeled_batches)
            labeled_inputs = self._noisy(
                labeled_images.view(len(labeled_images), -1).to(self.device)
            )
            _, logits = model.encoder(labeled_inputs)
            loss = F.cross_entropy(logits, labeled_labels.to(self.device))
            self.classifier_optimizer.zero_grad()
            loss.backward()
            self.classifier_optimizer.step()
            losses["classification"] = loss.item()
        return losses
