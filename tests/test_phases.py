"""Every loss of aae_lib.phases on inputs built by hand, against values worked out here.

Each test is written so that a plausible wrong version fails: real and fake targets swapped,
a missing ``detach``, the wrong factor, a sign error in the KL, the wrong reduction.
"""

import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from aae_lib import phases
from aae_lib.priors import GaussianPrior, PinwheelMixture


class IdentityDiscriminator(nn.Module):
    """D(z) = z for 1-D z, one logit per code as the package's discriminators give."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))

    def forward(self, z):
        return (z * self.weight).squeeze(1)


def identity_discriminator() -> nn.Module:
    return IdentityDiscriminator()


def softplus(x: float) -> float:  # -log(sigmoid(-x))
    return math.log1p(math.exp(x))


def test_the_discriminator_calls_prior_samples_real_and_codes_fake():
    real = torch.tensor([[2.0], [0.5]])
    fake = torch.tensor([[-1.0], [3.0]])
    loss = phases.discriminator_loss(identity_discriminator(), real, fake)
    # -log D(real) averaged over the real half, plus -log(1 - D(fake)) over the fake half
    expected = (softplus(-2.0) + softplus(-0.5)) / 2 + (softplus(-1.0) + softplus(3.0)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_the_discriminator_loss_does_not_reach_the_encoder():
    codes = torch.tensor([[-1.0], [3.0]], requires_grad=True)
    discriminator = identity_discriminator()
    phases.discriminator_loss(discriminator, torch.tensor([[2.0], [0.5]]), codes).backward()
    assert codes.grad is None  # detached: only the discriminator learns in this phase
    assert discriminator.weight.grad is not None and discriminator.weight.grad.abs().sum() > 0


def test_the_generator_wants_its_codes_called_real_and_moves_them():
    codes = torch.tensor([[-1.0], [2.0]], requires_grad=True)
    loss = phases.generator_loss(identity_discriminator(), codes)
    assert loss.item() == pytest.approx((softplus(1.0) + softplus(-2.0)) / 2, rel=1e-6)
    loss.backward()
    # d/dz of mean(-log sigmoid(z)) = -(1 - sigmoid(z)) / n: pushes each code towards "real"
    expected = -(1 - torch.sigmoid(codes.detach())) / 2
    assert torch.allclose(codes.grad, expected)


def fake_model(codes, outputs, logits=None, reads_class=False):
    """A model whose encoder and decoder return fixed tensors, to test a loss alone."""
    decoded = {}

    def decode(z, labels=None):
        decoded["labels"] = labels
        return outputs

    model = SimpleNamespace(
        encoder=lambda inputs, dropout=0.0: (codes, logits),
        decode=decode,
        classify=lambda inputs: logits,
        config=SimpleNamespace(decoder_reads_class=reads_class),
    )
    return model, decoded


def test_reconstruction_is_half_the_summed_squared_error_averaged_over_images():
    targets = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 2.0]])
    model, _ = fake_model(torch.zeros(2, 2), torch.zeros(2, 3))
    loss = phases.reconstruction_loss(model, targets, targets, None)
    assert loss.item() == pytest.approx(0.5 * (5.0 + 4.0) / 2)


def test_reconstruction_encodes_the_noisy_input_and_compares_with_the_clean_image():
    noisy, clean = torch.full((2, 3), 5.0), torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 2.0]])
    model, _ = fake_model(torch.zeros(2, 2), torch.zeros(2, 3))
    seen = {}

    def encoder(inputs, dropout=0.0):
        seen.update(inputs=inputs, dropout=dropout)
        return torch.zeros(2, 2), None

    model.encoder = encoder
    loss = phases.reconstruction_loss(model, noisy, clean, None, dropout=0.3)
    assert seen["inputs"] is noisy and seen["dropout"] == 0.3
    assert loss.item() == pytest.approx(0.5 * (5.0 + 4.0) / 2)  # the clean image's error


def test_a_decoder_that_reads_the_class_gets_the_encoders_softmax():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    model, decoded = fake_model(torch.zeros(2, 2), torch.zeros(2, 3), logits, reads_class=True)
    phases.reconstruction_loss(model, torch.zeros(2, 3), torch.zeros(2, 3), None)
    assert torch.allclose(decoded["labels"], logits.softmax(1))


def test_classification_is_the_mean_cross_entropy_of_the_head():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    model, _ = fake_model(None, None, logits)
    loss = phases.classification_loss(model, None, torch.tensor([0, 1]))
    log_softmax = logits.log_softmax(1)
    assert loss.item() == pytest.approx(-(log_softmax[0, 0] + log_softmax[1, 1]).item() / 2)


def test_the_cluster_head_penalty_counts_only_pairs_closer_than_the_spacing():
    heads = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 1.0]])  # distances 3, 1, sqrt(10)
    assert phases.cluster_head_penalty(heads, 2.0).item() == pytest.approx(1.0)
    assert phases.cluster_head_penalty(heads, 0.5).item() == 0.0


def vae_model(mean, std, prior):
    return SimpleNamespace(
        encoder=SimpleNamespace(posterior=lambda inputs, dropout=0.0: (mean, std)),
        decode=lambda codes, labels=None: torch.zeros(len(codes), 3),
        prior=prior,
        config=SimpleNamespace(prior=prior.name),
    )


def monte_carlo_kl(mean, std, prior, n=400_000):
    """E_q[log q(z) - log p(z)], averaged over the images, from n samples per image."""
    generator = torch.Generator().manual_seed(0)
    z = mean + std * torch.randn(n, *mean.shape, generator=generator)
    log_q = torch.distributions.Normal(mean, std).log_prob(z).sum(-1)
    log_p = prior.log_prob(z.reshape(-1, mean.shape[1])).reshape(n, len(mean))
    return (log_q - log_p).mean().item()


def test_the_vae_kl_to_a_gaussian_is_the_closed_form_that_sampling_agrees_with():
    mean = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
    std = torch.tensor([[0.5, 1.5], [0.2, 1.0]])
    prior = GaussianPrior(2)
    _, kl = phases.vae_losses(vae_model(mean, std, prior), torch.zeros(2, 3), torch.zeros(2, 3))
    assert kl.item() > 0
    assert kl.item() == pytest.approx(monte_carlo_kl(mean, std, prior), rel=0.01)


def test_the_vae_kl_to_a_mixture_is_an_unbiased_one_sample_estimate():
    mean = torch.tensor([[1.0, 0.5]]).repeat(20_000, 1)
    std = torch.full_like(mean, 0.3)
    prior = PinwheelMixture(2)
    torch.manual_seed(0)
    _, kl = phases.vae_losses(vae_model(mean, std, prior), torch.zeros(1, 3), torch.zeros(1, 3))
    assert kl.item() == pytest.approx(monte_carlo_kl(mean[:1], std[:1], prior), rel=0.03)


def test_the_vae_reconstruction_is_the_aaes():
    mean, std = torch.zeros(2, 2), torch.ones(2, 2)
    targets = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 2.0]])
    reconstruction, _ = phases.vae_losses(vae_model(mean, std, GaussianPrior(2)), targets, targets)
    assert reconstruction.item() == pytest.approx(0.5 * (5.0 + 4.0) / 2)


def test_the_vae_encodes_the_noisy_input_and_compares_with_the_clean_image():
    noisy, clean = torch.full((2, 3), 5.0), torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 2.0]])
    model = vae_model(torch.zeros(2, 2), torch.ones(2, 2), GaussianPrior(2))
    seen = {}

    def posterior(inputs, dropout=0.0):
        seen.update(inputs=inputs, dropout=dropout)
        return torch.zeros(2, 2), torch.ones(2, 2)

    model.encoder.posterior = posterior
    reconstruction, _ = phases.vae_losses(model, noisy, clean, dropout=0.3)
    assert seen["inputs"] is noisy and seen["dropout"] == 0.3
    assert reconstruction.item() == pytest.approx(0.5 * (5.0 + 4.0) / 2)


@pytest.mark.parametrize(("pixel_range", "scale"), [("unit", 1.0), ("signed", 2.0)])
def test_input_noise_is_in_unit_pixel_units(pixel_range, scale):
    torch.manual_seed(0)
    images = torch.zeros(200_000)
    noisy = phases.add_input_noise(images, 0.3, pixel_range)
    assert noisy.std().item() == pytest.approx(0.3 * scale, rel=0.01)
    assert phases.add_input_noise(images, 0.0, pixel_range) is images


def test_input_dropout_zeroes_its_share_and_rescales_the_rest():
    torch.manual_seed(0)
    dropped = phases.drop_input_pixels(torch.ones(100_000), 0.2)
    assert (dropped == 0).float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert torch.allclose(dropped[dropped != 0], torch.tensor(1.25))
