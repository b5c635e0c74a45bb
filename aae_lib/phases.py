"""The losses of the training phases, one short function each, as the paper defines them.

The trainer (:class:`aae_lib.train.Trainer`) calls these in order on every minibatch and gives
each loss to its own optimiser. The book shows this file's functions on the page: they are the
whole of what makes an autoencoder adversarial.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .models import AdversarialAutoencoder


def add_input_noise(images: torch.Tensor, std: float, pixel_range: str) -> torch.Tensor:
    """Gaussian noise on the encoder's input; ``std`` is in [0, 1] pixel units, so it is
    doubled for images in [-1, 1]. The paper's semi-supervised recipe uses std 0.3."""
    if not std:
        return images
    scale = 2.0 if pixel_range == "signed" else 1.0
    return images + std * scale * torch.randn_like(images)


def drop_input_pixels(images: torch.Tensor, rate: float) -> torch.Tensor:
    """Dropout on the encoder's input: each pixel zeroed with probability ``rate``, the rest
    scaled by 1 / (1 - rate). The paper's clustering model uses rate 0.2 instead of noise."""
    return F.dropout(images, rate) if rate else images


def reconstruction_loss(
    model: AdversarialAutoencoder,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    decoder_labels: torch.Tensor | None,
    dropout: float = 0.0,
) -> torch.Tensor:
    """Squared error between the clean image and the decoding of its (noisy) input.

    Half the summed squared error per image, averaged over the batch: the Gaussian
    log-likelihood of the pixels up to a constant. A decoder fed the categorical head gets the
    encoder's softmax; one fed the true label gets ``decoder_labels``.
    """
    codes, logits = model.encoder(inputs, dropout=dropout)
    if model.config.decoder_reads_class:
        decoder_labels = logits.softmax(1)
    error = model.decode(codes, decoder_labels).float() - targets
    return 0.5 * error.square().sum(1).mean()


def cluster_head_penalty(heads: torch.Tensor, spacing: float) -> torch.Tensor:
    """Keeps the cluster heads (one per row) apart: every pair closer than ``spacing`` adds
    how much closer it is. Without it nothing stops two heads, and so two classes, from
    sitting on top of each other in the map. Added to the reconstruction loss."""
    distances = torch.pdist(heads.float())
    return (spacing - distances).clamp(min=0).sum()


def vae_losses(
    model: AdversarialAutoencoder, inputs: torch.Tensor, targets: torch.Tensor, dropout: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The VAE's two terms, for comparison: reconstruction from a sampled code, and the KL
    divergence from q(z|x) to the prior.

    The reconstruction term is the AAE's, so that only the regulariser differs. The KL term is
    the prior's: exact for the Gaussian, a one-sample estimate log q(z|x) - log p(z) for others.
    """
    mean, std = model.encoder.posterior(inputs, dropout)
    codes = mean + std * torch.randn_like(std)
    error = model.decode(codes).float() - targets
    reconstruction = 0.5 * error.square().sum(1).mean()
    kl = model.prior.kl_divergence(mean.float(), std.float(), codes.float())
    return reconstruction, kl.mean()


def discriminator_loss(
    discriminator: nn.Module, prior_samples: torch.Tensor, codes: torch.Tensor
) -> torch.Tensor:
    """The discriminator learns to call prior samples real (1) and encoder outputs fake (0).

    Binary cross-entropy summed over the two halves: -log D(z_prior) - log(1 - D(q(x))).
    One forward pass over both halves; the codes are detached, so only D learns here.
    """
    logits = discriminator(torch.cat([prior_samples, codes.detach()])).float()
    targets = torch.cat(
        [
            torch.ones(len(prior_samples), device=logits.device),
            torch.zeros(len(codes), device=logits.device),
        ]
    )
    return 2 * F.binary_cross_entropy_with_logits(logits, targets)


def generator_loss(discriminator: nn.Module, codes: torch.Tensor) -> torch.Tensor:
    """The encoder learns to make the discriminator call its outputs real: -log D(q(x)).

    This is the non-saturating form of the game. Minimising log(1 - D(q(x))) instead, as the
    minimax objective literally says, gives vanishing gradients exactly when the discriminator
    wins, which is when the encoder most needs to learn.
    """
    logits = discriminator(codes).float()
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def classification_loss(
    model: AdversarialAutoencoder, inputs: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of the categorical head on labeled images (semi-supervised phase)."""
    return F.cross_entropy(model.classify(inputs).float(), labels)
