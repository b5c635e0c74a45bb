"""Where the book's weights are found: the clone's weights/ folder, and $AAE_WEIGHTS first."""

from aae_lib import pretrained


def test_the_loader_reads_a_folder_named_by_aae_weights_before_the_clones(tmp_path, monkeypatch):
    monkeypatch.setenv("AAE_WEIGHTS", str(tmp_path))
    (tmp_path / "vae_gmm.pt").write_bytes(b"weights")
    assert pretrained.weights_path("vae_gmm") == tmp_path / "vae_gmm.pt"
    # a model the named folder lacks comes from the clone
    assert pretrained.weights_path("vae_gaussian") == pretrained.WEIGHTS_DIR / "vae_gaussian.pt"
    assert pretrained.weights_dirs() == [tmp_path, pretrained.WEIGHTS_DIR]


def test_the_clones_weights_and_results_are_outside_the_package():
    package = pretrained.CLONE_DIR / "aae_lib"
    assert pretrained.WEIGHTS_DIR.parent == pretrained.RESULTS_DIR.parent == package.parent
    assert (pretrained.WEIGHTS_DIR / "vae_gmm.json").is_file()
    assert (pretrained.RESULTS_DIR / "semisupervised_1000_draws.json").is_file()
