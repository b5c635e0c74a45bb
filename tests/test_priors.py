import math

import pytest
import torch

from aae_lib.data import N_CLASSES, UNLABELED
from aae_lib.priors import (
    CategoricalPrior,
    GaussianPrior,
    PinwheelMixture,
    SwissRoll,
    linear_grid,
    make_prior,
    percentile_grid,
)


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def test_gaussian_moments():
    z = GaussianPrior(3).sample(20_000, generator())
    assert z.shape == (20_000, 3)
    assert z.mean(0).abs().max() < 0.03
    assert (z.std(0) - 1).abs().max() < 0.03


def test_pinwheel_components_sit_on_the_circle_with_their_shape():
    prior = PinwheelMixture()
    labels = torch.full((20_000,), 3)
    z = prior.sample_for_labels(labels, generator())
    angle = 2 * math.pi * 3 / 10
    radial_axis = torch.tensor([math.cos(angle), math.sin(angle)])
    tangential_axis = torch.tensor([-math.sin(angle), math.cos(angle)])
    radial, tangential = z @ radial_axis, z @ tangential_axis
    assert abs(radial.mean() - 1.4) < 0.02 and abs(radial.std() - 0.5) < 0.02
    assert abs(tangential.mean()) < 0.01 and abs(tangential.std() - 0.1) < 0.005


def test_pinwheel_labels_choose_components_and_unlabeled_uses_all():
    prior = PinwheelMixture()
    labels = torch.arange(N_CLASSES).repeat(500)
    z = prior.sample_for_labels(labels, generator())
    # Tangential spread is small, so nearly every sample lies nearest its own component.
    assert (prior.nearest_component(z) == labels).float().mean() > 0.9
    unlabeled = prior.sample_for_labels(torch.full((5000,), UNLABELED), generator())
    counts = torch.bincount(prior.nearest_component(unlabeled), minlength=N_CLASSES)
    assert counts.min() > 350


def test_pinwheel_higher_dimensions_repeat_the_component():
    prior = PinwheelMixture(ncode=6)
    z = prior.sample_for_labels(torch.full((2000,), 7), generator())
    assert z.shape == (2000, 6)
    for pair in z.view(2000, 3, 2).unbind(1):
        assert (prior.nearest_component(pair) == 7).float().mean() > 0.9


def test_pinwheel_rejects_odd_code():
    with pytest.raises(ValueError, match="even ncode"):
        PinwheelMixture(ncode=3)


def test_component_grid_is_centred_on_its_component():
    prior = PinwheelMixture()
    grid = prior.component_grid(2, steps=21)
    assert grid.shape == (441, 2)
    assert torch.allclose(grid.mean(0), prior.means()[2], atol=1e-5)


def test_swiss_roll_sections_follow_labels():
    prior = SwissRoll()
    z0 = prior.sample_for_labels(torch.zeros(2000, dtype=torch.long), generator())
    z9 = prior.sample_for_labels(torch.full((2000,), 9), generator())
    # The roll spirals outwards, so later sections lie further from the centre.
    assert z9.norm(dim=1).mean() > 2 * z0.norm(dim=1).mean()
    assert prior.sample(100, generator()).shape == (100, 2)


def test_swiss_roll_names_the_tenth_of_the_roll_a_code_lies_on():
    prior = SwissRoll()
    labels = torch.arange(N_CLASSES).repeat_interleave(500)
    samples = prior.sample_for_labels(labels, generator())
    # Only noise near the border of two tenths crosses it.
    assert (prior.nearest_component(samples) == labels).float().mean() > 0.9
    assert prior.nearest_component(prior.curve(torch.tensor([0.01, 0.55, 0.99]))).tolist() == [
        0,
        5,
        9,
    ]


def test_categorical_prior_is_one_hot_and_uniform():
    y = CategoricalPrior(10).sample(10_000, generator())
    assert torch.equal(y.sum(1), torch.ones(10_000))
    assert (y.mean(0) - 0.1).abs().max() < 0.015


def test_sampling_is_deterministic_by_generator_seed():
    prior = PinwheelMixture()
    assert torch.equal(prior.sample(50, generator(1)), prior.sample(50, generator(1)))
    assert not torch.equal(prior.sample(50, generator(1)), prior.sample(50, generator(2)))


def test_make_prior_names_the_choices():
    assert isinstance(make_prior("gmm", 2), PinwheelMixture)
    with pytest.raises(ValueError, match="gaussian, gmm, swiss_roll"):
        make_prior("uniform", 2)


def test_linear_grid_is_row_major_from_the_top_left():
    grid = linear_grid(steps=3, limit=1.0)
    assert grid.tolist()[:3] == [[-1.0, 1.0], [0.0, 1.0], [1.0, 1.0]]
    assert grid.tolist()[-1] == [1.0, -1.0]


def test_percentile_grid_has_equal_probability_cells():
    grid = percentile_grid(steps=4)
    column = grid[:4, 0]
    cdf = torch.distributions.Normal(0.0, 1.0).cdf(column)
    assert torch.allclose(cdf, torch.tensor([0.125, 0.375, 0.625, 0.875]), atol=1e-5)


@pytest.mark.parametrize("name, ncode", [("gaussian", 2), ("gmm", 2), ("gmm", 4)])
def test_log_prob_is_the_density_the_prior_samples_from(name, ncode):
    """A histogram of samples agrees with exp(log_prob), and the density integrates to 1."""
    from aae_lib.priors import make_prior

    prior = make_prior(name, ncode)
    if ncode == 2:
        grid = torch.linspace(-4, 4, 401)
        z1, z2 = torch.meshgrid(grid, grid, indexing="ij")
        points = torch.stack([z1.flatten(), z2.flatten()], 1)
        mass = prior.log_prob(points).exp().sum() * (grid[1] - grid[0]) ** 2
        assert float(mass) == pytest.approx(1.0, abs=0.01)
    samples = prior.sample(20_000, torch.Generator().manual_seed(0))
    # Under its own samples the mean log-density is the negative entropy; shifted samples
    # are less likely.
    assert prior.log_prob(samples).mean() > prior.log_prob(samples + 0.5).mean() + 0.1
