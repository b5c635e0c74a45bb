"""The four adversarial autoencoders of the paper as one configurable module.

=================  ==========================================  ============================
kind               what the discriminator / decoder see        paper figure (seed figure)
=================  ==========================================  ============================
unsupervised       D(z); decoder(z)                            Fig 2/3 (seed Fig 1/3)
label              D(z, one-hot of 11: 10 digits + unlabeled)  Fig 4 (seed Fig 3, labels)
supervised         D(z); decoder(z, one-hot digit)             Fig 6/7 (seed Fig 6)
semisupervised     D_z(z), D_y(y); decoder(z, softmax y)       Fig 8, Table 2 (seed Fig 8)
=================  ==========================================  ============================
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .data import pixels_to_float
from .networks import Decoder, Discriminator, Encoder
from .priors import PRIOR_NAMES, UNLABELED, CategoricalPrior, make_prior

KINDS = ("unsupervised", "label", "supervised", "semisupervised")
N_CLASSES = 10


@dataclass(frozen=True)
class ModelConfig:
    """What a set of weights depends on: a checkpoint loads only into an equal config."""

    kind: str = "unsupervised"
    ncode: int = 2
    prior: str = "gaussian"
    hidden: int = 1000
    encoder_head: str = "deterministic"
    pixel_range: str = "signed"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown model kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.prior not in PRIOR_NAMES:
            raise ValueError(f"unknown prior {self.prior!r}; choose one of "
                             f"{', '.join(PRIOR_NAMES)}")
        make_prior(self.prior, self.ncode)  # rejects shapes the prior cannot have

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def decoder_sees_label(self) -> bool:
        return self.kind in ("supervised", "semisupervised")


class AdversarialAutoencoder(nn.Module):
    """Encoder, decoder and the discriminators that shape the code distribution."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        semi = config.kind == "semisupervised"
        self.prior = make_prior(config.prior, config.ncode)
        self.encoder = Encoder(config.ncode, config.hidden, config.encoder_head,
                               n_classes=N_CLASSES if semi else 0)
        label_features = N_CLASSES if config.decoder_sees_label else 0
        self.decoder = Decoder(config.ncode + label_features, config.hidden, config.pixel_range)
        condition = N_CLASSES + 1 if config.kind == "label" else 0
        self.discriminators = nn.ModuleDict({"z": Discriminator(config.ncode + condition,
                                                                config.hidden)})
        if semi:
            self.discriminators["y"] = Discriminator(N_CLASSES, config.hidden)
            self.class_prior = CategoricalPrior(N_CLASSES)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, 784) -> floats in this model's pixel range."""
        return pixels_to_float(images, self.config.pixel_range)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Codes of float images in the model's pixel range."""
        return self.encoder(images)[0]

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits (semi-supervised model only)."""
        if self.config.kind != "semisupervised":
            raise ValueError(f"a {self.config.kind} model has no classifier")
        return self.encoder(images)[1]

    def decode(self, codes: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images from codes; ``labels`` are digit indices or class probabilities (N, 10)."""
        if self.config.decoder_sees_label:
            if labels is None:
                raise ValueError(f"a {self.config.kind} model decodes from a code and a label")
            if not labels.is_floating_point():
                labels = F.one_hot(labels.to(codes.device), N_CLASSES).to(codes.dtype)
            codes = torch.cat([codes, labels], dim=1)
        return self.decoder(codes)

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """Encode and decode; the semi-supervised model decodes with its own class estimate."""
        codes, logits = self.encoder(images)
        if self.config.kind == "supervised":
            raise ValueError("a supervised model needs the true labels: use decode(encode(x), y)")
        return self.decode(codes, logits.softmax(1) if logits is not None else None)

    def sample(self, n: int, generator: torch.Generator,
               labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images decoded from prior samples; ``labels`` choose mixture components or digits."""
        if labels is not None and self.config.kind == "label":
            codes = self.prior.sample_for_labels(labels, generator)
        else:
            codes = self.prior.sample(n, generator)
        if self.config.decoder_sees_label and labels is None:
            labels = torch.randint(N_CLASSES, (n,), generator=generator, device=generator.device)
        return self.decode(codes, labels if self.config.decoder_sees_label else None)

    def discriminator_condition(self, labels: torch.Tensor) -> torch.Tensor | None:
        """The 11-way one-hot the label-conditioned discriminator sees (10 = unlabeled)."""
        if self.config.kind != "label":
            return None
        return F.one_hot(labels, N_CLASSES + 1).float()

    def inference_state_dict(self) -> dict[str, torch.Tensor]:
        """Encoder and decoder weights: all a reader needs to draw the figures."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("discriminators.")}


__all__ = ["AdversarialAutoencoder", "ModelConfig", "KINDS", "N_CLASSES", "UNLABELED"]
