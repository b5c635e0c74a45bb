"""An adversarial autoencoder described by what it is made of.

Every model of the paper is the same three parts wired differently:

- the **encoder** maps an image to a code z, and, if ``n_classes`` is set, also to logits of a
  categorical head y;
- the **decoder** maps back to an image from z alone (``decoder_input="code"``), from z and the
  true digit as a one-hot (``"code+label"``), from z and the categorical head's softmax
  (``"code+class"``), or from z plus a learned position ("cluster head") of the softmax's
  class in the code space (``"cluster_heads"``: the paper's dimensionality reduction);
- each **adversary** judges one output of the encoder (``"z"`` against the model's prior, or
  ``"y"`` against one-hot samples of a uniform categorical), optionally seeing the image's label
  beside it (an 11-way one-hot: 10 digits + unlabeled, prior samples drawn from that digit's
  part of the prior).

A variational autoencoder is the same encoder (with a Gaussian head) and decoder with
``regularizer="kl"``: no adversary, a KL term to the prior instead, for the paper's comparison.

The recipes in :mod:`aae_lib.recipes` name the paper's models as such configurations; the
trainer loops over the adversaries and never asks which experiment it runs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .data import IMAGE_SIZE, N_CLASSES, PixelRange, pixels_to_float
from .networks import Decoder, Discriminator, Encoder
from .priors import PRIOR_NAMES, PRIORS, CategoricalPrior, Prior

DECODER_INPUTS = ("code", "code+label", "code+class", "cluster_heads")
REGULARIZERS = ("adversarial", "kl")
JUDGED_OUTPUTS = ("z", "y")


@dataclass(frozen=True)
class Adversary:
    """A discriminator and the encoder output it judges ("z" or "y")."""

    judges: str = "z"
    sees_label: bool = False

    def __post_init__(self):
        if self.judges not in JUDGED_OUTPUTS:
            raise ValueError(f"an adversary judges 'z' or 'y', not {self.judges!r}")
        if self.sees_label and self.judges != "z":
            raise ValueError("only the code adversary can see labels")


@dataclass(frozen=True)
class ModelConfig:
    """What a set of weights depends on: a checkpoint loads only into an equal config."""

    ncode: int = 2
    prior: str = "gaussian"
    adversaries: tuple[Adversary, ...] = (Adversary(),)
    n_classes: int = 0
    decoder_input: str = "code"
    hidden: int = 1000
    encoder_head: str = "deterministic"
    pixel_range: PixelRange = "signed"
    mixture_radius: float = 1.4  # the "gmm" prior's distance of each component from the origin
    regularizer: str = "adversarial"  # "kl": a VAE, with the same networks and prior
    # "cluster_heads" decoders: pairs of heads closer than this are pushed apart
    cluster_head_spacing: float = 0.0
    # Batch norm on every encoder layer, code and class logits included (the paper's
    # clustering encoder); the decoder and the discriminators never have it.
    encoder_batch_norm: bool = False

    def __post_init__(self):
        if self.prior not in PRIOR_NAMES:
            raise ValueError(
                f"unknown prior {self.prior!r}; choose one of {', '.join(PRIOR_NAMES)}"
            )
        if self.decoder_input not in DECODER_INPUTS:
            raise ValueError(
                f"unknown decoder input {self.decoder_input!r}; choose one of "
                f"{', '.join(DECODER_INPUTS)}"
            )
        if self.n_classes < 0 or self.hidden < 1:
            raise ValueError("n_classes must be non-negative and hidden positive")
        judged = [a.judges for a in self.adversaries]
        if len(set(judged)) != len(judged):
            raise ValueError(f"one adversary per output, got {judged}")
        needs_head = "y" in judged or self.decoder_input in ("code+class", "cluster_heads")
        if needs_head and not self.n_classes:
            raise ValueError(
                f"a 'y' adversary or a {self.decoder_input!r} decoder needs n_classes > 0"
            )
        if (self.cluster_head_spacing > 0) != (self.decoder_input == "cluster_heads"):
            raise ValueError(
                "a 'cluster_heads' decoder needs a positive cluster_head_spacing, "
                "and only it has one"
            )
        if self.decoder_input == "code+label" and self.n_classes:
            raise ValueError("a decoder given the true label has no use for a categorical head")
        if self.regularizer not in REGULARIZERS:
            raise ValueError(
                f"unknown regularizer {self.regularizer!r}; choose one of {', '.join(REGULARIZERS)}"
            )
        vae = self.regularizer == "kl"
        if vae and (self.adversaries or self.n_classes or self.encoder_head != "gaussian"):
            raise ValueError(
                "a VAE (regularizer 'kl') has a Gaussian encoder head, no "
                "adversaries and no categorical head"
            )
        if not vae and not self.adversaries:
            raise ValueError("an adversarial autoencoder needs at least one adversary")
        if not (math.isfinite(self.mixture_radius) and self.mixture_radius > 0):
            raise ValueError(
                f"mixture_radius must be a finite number > 0, not {self.mixture_radius}"
            )
        self.make_prior()  # rejects shapes the prior cannot have

    def make_prior(self) -> Prior:
        return PRIORS[self.prior].build(self.ncode, mixture_radius=self.mixture_radius)

    def to_dict(self) -> dict:
        """A JSON-able dict, as stored in manifests (lists where the config has tuples)."""
        return {**asdict(self), "adversaries": [asdict(a) for a in self.adversaries]}

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        values = dict(values)
        values["adversaries"] = tuple(Adversary(**a) for a in values.get("adversaries", ()))
        return cls(**values)

    def parameter_count(self) -> int:
        """About how many parameters the model has (its linear layers), without building it."""
        h, z = self.hidden, self.ncode

        def mlp(widths: list[int]) -> int:
            return sum((a + 1) * b for a, b in zip(widths, widths[1:], strict=False))

        heads = z * (2 if self.encoder_head == "gaussian" else 1) + self.n_classes
        encoder = mlp([IMAGE_SIZE, h, h]) + (h + 1) * heads
        decoder = mlp([z + self.decoder_features, h, h, IMAGE_SIZE]) + self.n_classes * z
        judged = {"z": z, "y": self.n_classes}
        adversaries = sum(
            mlp([judged[a.judges] + (N_CLASSES + 1) * a.sees_label, h, h, 1])
            for a in self.adversaries
        )
        return encoder + decoder + adversaries

    @property
    def label_conditioned(self) -> bool:
        """Whether a code adversary sees labels (prior samples follow the label)."""
        return any(a.sees_label for a in self.adversaries)

    @property
    def decoder_features(self) -> int:
        """Inputs the decoder takes beside the code (cluster heads are added to it instead)."""
        return {
            "code": 0,
            "code+label": N_CLASSES,
            "code+class": self.n_classes,
            "cluster_heads": 0,
        }[self.decoder_input]

    @property
    def label_classes(self) -> int:
        """How many classes a label given to the decoder can name: the categorical head's,
        or the ten digits for a decoder given the true label."""
        return self.n_classes or N_CLASSES

    @property
    def decoder_reads_class(self) -> bool:
        """Whether the decoder is given the encoder's own class probabilities."""
        return self.decoder_input in ("code+class", "cluster_heads")


class AdversarialAutoencoder(nn.Module):
    """Encoder, decoder and the discriminators that shape the distribution of their outputs."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.prior = config.make_prior()
        self.encoder = Encoder(
            config.ncode,
            config.hidden,
            config.encoder_head,
            n_classes=config.n_classes,
            batch_norm=config.encoder_batch_norm,
        )
        self.decoder = Decoder(
            config.ncode + config.decoder_features, config.hidden, config.pixel_range
        )
        self.discriminators = nn.ModuleDict(
            {
                a.judges: Discriminator(self.judged_features(a), config.hidden)
                for a in config.adversaries
            }
        )
        self.class_prior = CategoricalPrior(config.n_classes) if config.n_classes else None
        # One learned point of the code space per class: the map shows class c around head c.
        self.cluster_heads = (
            nn.Linear(config.n_classes, config.ncode, bias=False)
            if config.decoder_input == "cluster_heads"
            else None
        )

    def judged_features(self, adversary: Adversary) -> int:
        size = self.config.ncode if adversary.judges == "z" else self.config.n_classes
        return size + (N_CLASSES + 1 if adversary.sees_label else 0)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, 784) -> floats in this model's pixel range."""
        return pixels_to_float(images, self.config.pixel_range)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Codes of float images in the model's pixel range."""
        return self.encoder(images)[0]

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of the categorical head."""
        if not self.config.n_classes:
            raise ValueError("this model has no categorical head")
        return self.encoder(images)[1]

    def decoder_code(self, codes: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """What the decoder reads: the code, completed by ``labels`` (digit or class indices,
        or probabilities) when the decoder takes more than the code.

        For cluster heads this is the model's low-dimensional representation of the image:
        the code plus the probability-weighted heads of the classes.
        """
        if self.config.decoder_input == "code":
            return codes
        if labels is None:
            raise ValueError(f"this decoder's input is {self.config.decoder_input}: pass labels")
        if not labels.is_floating_point():
            labels = F.one_hot(labels.to(codes.device), self.config.label_classes)
        labels = labels.to(codes.dtype)
        if self.cluster_heads is not None:
            return codes + self.cluster_heads(labels)
        return torch.cat([codes, labels], dim=1)

    def decode(self, codes: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images from codes (and ``labels``, as :meth:`decoder_code` combines them)."""
        return self.decoder(self.decoder_code(codes, labels))

    def represent(self, images: torch.Tensor) -> torch.Tensor:
        """The encoder's summary of float images as the decoder reads it (for a cluster-head
        model: code plus heads, the 2-D map; otherwise the code)."""
        codes, logits = self.encoder(images)
        if self.config.decoder_input == "cluster_heads":
            return self.decoder_code(codes, logits.softmax(1))
        return codes

    def reconstruct(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Encode and decode; a decoder fed the class head gets the encoder's own softmax."""
        codes, logits = self.encoder(images)
        if self.config.decoder_reads_class:
            labels = logits.softmax(1)
        return self.decode(codes, labels)

    def sample(
        self, n: int, generator: torch.Generator, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Images decoded from prior samples; ``labels`` choose the prior's part for a
        label-conditioned model, and the decoder's label or class where it takes one."""
        if labels is not None and self.config.label_conditioned:
            codes = self.prior.sample_for_labels(labels, generator)
        else:
            codes = self.prior.sample(n, generator)
        if self.config.decoder_input != "code" and labels is None:
            labels = torch.randint(
                self.config.label_classes, (n,), generator=generator, device=generator.device
            )
        return self.decode(codes, labels if self.config.decoder_input != "code" else None)

    def inference_state_dict(self) -> dict[str, torch.Tensor]:
        """Encoder, decoder (and cluster heads): all a reader needs to draw the figures."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("discriminators.")}


def label_condition(labels: torch.Tensor) -> torch.Tensor:
    """The 11-way one-hot a label-seeing adversary gets: 10 digits, and 10 = unlabeled."""
    return F.one_hot(labels, N_CLASSES + 1).float()


__all__ = [
    "Adversary",
    "AdversarialAutoencoder",
    "ModelConfig",
    "label_condition",
]
