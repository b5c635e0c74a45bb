import pytest
import torch

from aae_lib.data import IMAGE_SIZE, MNIST, N_CLASSES
from aae_lib.recipes import categorical, paper_semisupervised
from aae_lib.runners.control import train_classifier_alone

pytestmark = pytest.mark.integration  # trains on tiny data


def test_the_control_learns_from_labels_alone_and_picks_its_epoch_on_validation():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(12_000) % N_CLASSES
    patterns = torch.rand(10, IMAGE_SIZE, generator=g)
    images = 255 * (0.6 * patterns[labels] + 0.4 * torch.rand(12_000, IMAGE_SIZE, generator=g))
    data = MNIST(images.to(torch.uint8), labels, images[:500].to(torch.uint8), labels[:500])
    config = paper_semisupervised(
        model=categorical(hidden=32, pixel_range="unit"),
        n_labeled=100,
        batch_size=10,
        validation=True,
    )
    result = train_classifier_alone(config, data, epochs=4)
    validation = result["accuracy/validation"]
    assert len(validation) == 4 and result["chosen_epoch"] == validation.index(max(validation))
    assert max(validation) > 0.3  # chance is 0.1
    assert result["test_accuracy"] == result["accuracy/test"][result["chosen_epoch"]]


def test_the_control_refuses_to_choose_on_the_test_set():
    with pytest.raises(ValueError, match="validation"):
        train_classifier_alone(paper_semisupervised(), None, epochs=1)


@pytest.mark.mnist
def test_the_control_command_writes_every_label_draw_and_their_spread(tmp_path, capsys):
    import json

    from aae_lib.runners import control

    out = tmp_path / "control.json"
    control.main(["--seeds", "0", "1", "--epochs", "1", "--out", str(out)])
    summary = json.loads(out.read_text())
    errors = [100 * (1 - run["test_accuracy"]) for run in summary["runs"]]
    assert [run["seed"] for run in summary["runs"]] == [0, 1]
    assert summary["test_error_mean"] == pytest.approx(sum(errors) / 2)
    assert 0 < summary["test_error_mean"] < 90  # better than chance after one epoch
    assert "over 2 label draws" in capsys.readouterr().out


def test_the_control_keeps_checkpoints_and_resumes_to_the_same_result(tmp_path):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(10_200) % N_CLASSES
    images = (255 * torch.rand(10_200, IMAGE_SIZE, generator=g)).to(torch.uint8)
    data = MNIST(images, labels, images[:50], labels[:50])
    config = paper_semisupervised(
        model=categorical(hidden=16, pixel_range="unit"),
        n_labeled=20,
        batch_size=10,
        validation=True,
    )
    whole = train_classifier_alone(config, data, epochs=2, run_dir=tmp_path / "whole")
    train_classifier_alone(config, data, epochs=1, run_dir=tmp_path / "halves")
    resumed = train_classifier_alone(config, data, epochs=2, run_dir=tmp_path / "halves")
    assert resumed == whole
    assert sorted(p.name for p in (tmp_path / "halves").glob("*.json")) == [
        "epoch-0000.json",
        "epoch-0001.json",
    ]
