"""The multilayer perceptrons of the reference implementation (two hidden layers of 1000)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .data import IMAGE_SIZE, PixelRange, check_pixel_range


def mlp(sizes: list[int], activation: type[nn.Module], **activation_args) -> nn.Sequential:
    """Linear layers of the given widths with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        if i:
            layers.append(activation(**activation_args))
        layers.append(nn.Linear(fan_in, fan_out))
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """Image -> code z (and class logits for the semi-supervised model).

    ``head="deterministic"`` is the paper's encoder; ``head="gaussian"`` is the reference's
    reparameterised one, z = mu + softplus(s) * eps, which returns mu outside training.
    Dropout acts only when the caller passes a rate, because the reference applies it in the
    reconstruction phase alone.

    ``batch_norm`` normalises every layer of the encoder, the code and the class logits
    included, as the paper's clustering encoder does: each logit then has zero mean and unit
    spread over a minibatch, so no class can be dropped from every image of it. In evaluation
    the running statistics are used (buffers, saved with the weights).
    """

    def __init__(
        self,
        ncode: int,
        hidden: int = 1000,
        head: str = "deterministic",
        n_classes: int = 0,
        batch_norm: bool = False,
    ):
        super().__init__()
        if head not in ("deterministic", "gaussian"):
            raise ValueError(f"unknown encoder head {head!r}; choose deterministic or gaussian")
        self.head = head
        self.hidden1 = nn.Linear(IMAGE_SIZE, hidden)
        self.hidden2 = nn.Linear(hidden, hidden)
        self.z_mean = nn.Linear(hidden, ncode)
        self.z_scale = nn.Linear(hidden, ncode) if head == "gaussian" else None
        self.class_logits = nn.Linear(hidden, n_classes) if n_classes else None
        # Created only when asked for, so that models without them keep their state-dict keys.
        self.norms = (
            nn.ModuleDict(
                {
                    "hidden1": nn.BatchNorm1d(hidden),
                    "hidden2": nn.BatchNorm1d(hidden),
                    "z": nn.BatchNorm1d(ncode),
                    **({"class_logits": nn.BatchNorm1d(n_classes)} if n_classes else {}),
                }
            )
            if batch_norm
            else None
        )

    def _normed(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return self.norms[name](x) if self.norms is not None else x

    def _features(self, x: torch.Tensor, dropout: float) -> torch.Tensor:
        h = F.relu(self._normed("hidden1", self.hidden1(x)))
        h = F.dropout(h, dropout) if dropout else h
        h = F.relu(self._normed("hidden2", self.hidden2(h)))
        return F.dropout(h, dropout) if dropout else h

    def forward(self, x: torch.Tensor, dropout: float = 0.0):
        h = self._features(x, dropout)
        z = self._normed("z", self.z_mean(h))
        if self.z_scale is not None and self.training:
            z = z + F.softplus(self.z_scale(h)) * torch.randn_like(z)
        logits = (
            self._normed("class_logits", self.class_logits(h))
            if self.class_logits is not None
            else None
        )
        return z, logits

    def posterior(self, x: torch.Tensor, dropout: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of the Gaussian head's q(z|x) (what a VAE needs)."""
        if self.z_scale is None:
            raise ValueError("a deterministic encoder has no posterior spread")
        h = self._features(x, dropout)
        return self._normed("z", self.z_mean(h)), F.softplus(self.z_scale(h))


class Decoder(nn.Module):
    """Code (plus a one-hot or soft class vector, if any) -> image in the pixel range."""

    def __init__(self, in_features: int, hidden: int = 1000, pixel_range: PixelRange = "signed"):
        super().__init__()
        check_pixel_range(pixel_range, "Decoder")
        self.net = mlp([in_features, hidden, hidden, IMAGE_SIZE], nn.ReLU)
        self.squash = torch.tanh if pixel_range == "signed" else torch.sigmoid

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.squash(self.net(code))


class Discriminator(nn.Module):
    """Code (plus conditioning one-hot) -> logit of "drawn from the prior".

    LeakyReLU(0.2), as the reference's code has (its README says ReLU). No batch norm: it
    stalls the discriminator at chance level on this task.
    """

    def __init__(self, in_features: int, hidden: int = 1000):
        super().__init__()
        self.net = mlp([in_features, hidden, hidden, 1], nn.LeakyReLU, negative_slope=0.2)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.net(code).squeeze(-1)
