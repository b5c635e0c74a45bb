"""The clustering runs behind chapter 6 (Table 3 and the unsupervised map): their weights still
give the cluster errors their manifests recorded, and they were trained as the chapter says."""

import pytest

from aae_lib import checkpoints, evaluate, pretrained
from aae_lib.data import labeled_view, load_mnist

pytestmark = pytest.mark.mnist
SIXTEEN = ("clustering_16", "clustering_16_seed1", "clustering_16_seed2")
RUNS = (*SIXTEEN, "clustering_30", "reduction_20_clusters")


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


def held_out(mnist, seed: int):
    """The run's own validation images (its seed chose them) and the test set."""
    split = labeled_view(mnist, None, True, seed)
    return split.validation_images, split.validation_labels, mnist.test_images, mnist.test_labels


def manifest(name: str) -> dict:
    return checkpoints.read_manifest(pretrained.weights_path(name))


@pytest.mark.parametrize("name", RUNS)
def test_the_weights_give_the_cluster_error_their_manifest_recorded(name, mnist):
    model, record = pretrained.load(name)
    error, _ = evaluate.cluster_error(model, *held_out(mnist, record["seed"]))
    assert error == pytest.approx(record["stored_metrics"]["cluster_error/test"], abs=2e-4)


@pytest.mark.parametrize("name", RUNS)
def test_each_run_has_the_clustering_encoder_and_input_dropout(name):
    config = manifest(name)["config"]
    assert config["model"]["encoder_batch_norm"] and config["input_dropout"] == 0.2
    assert config["noise_std"] == 0 and config["n_labeled"] is None and not config["classify"]


def test_the_table3_runs_share_one_schedule_and_differ_in_their_seed():
    records = [manifest(name) for name in (*SIXTEEN, "clustering_30")]
    assert len({r["epochs_done"] for r in records}) == 1
    assert len({tuple(r["config"]["lr_milestones"]) for r in records}) == 1
    assert [r["seed"] for r in records[:3]] == [0, 1, 2]
    for record in records:
        assert record["epochs_done"] > record["config"]["lr_milestones"][0]
        assert len(record["history"]["cluster_error/test"]) == record["epochs_done"]
