import math

import pytest
import torch

from aae_lib.book.parzen import log_likelihoods, parzen_score, squared_distances
from aae_lib.data import IMAGE_SIZE, N_CLASSES


def test_squared_distances_match_the_direct_computation():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(7, IMAGE_SIZE, generator=g), torch.rand(5, IMAGE_SIZE, generator=g)
    direct = (a[:, None] - b[None]).square().sum(-1)
    assert torch.allclose(squared_distances(a, b), direct, rtol=1e-4)


def test_one_sample_gives_the_gaussian_log_density():
    sample = torch.zeros(1, 3)
    x = torch.tensor([[1.0, 0.0, 0.0]])
    sigma = 0.5
    expected = -1 / (2 * sigma**2) - 1.5 * math.log(2 * math.pi * sigma**2)
    assert float(log_likelihoods(x, sample, (sigma,))[0, 0]) == pytest.approx(expected)


def test_sigma_is_chosen_on_validation_and_samples_near_the_data_score_higher():
    g = torch.Generator().manual_seed(0)
    centres = torch.rand(10, IMAGE_SIZE, generator=g)

    def near(n, spread):
        return (
            centres[torch.randint(N_CLASSES, (n,), generator=g)]
            + spread * torch.randn(n, IMAGE_SIZE, generator=g)
        ).clamp(0, 1)

    validation, test = near(200, 0.05), near(200, 0.05)
    good = parzen_score(near(500, 0.05), validation, test)
    blurred = parzen_score(near(500, 0.3), validation, test)
    assert good["test"] > blurred["test"] + 100
    assert good["sigma"] < blurred["sigma"]
    assert 0 < good["test_standard_error"] < 50
