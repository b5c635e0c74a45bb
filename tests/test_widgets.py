"""The latent explorer: its precomputed grid, the tile lookup, live decoding, bad arguments."""

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from aae_lib.book.widgets import LatentExplorer, grid_values
from aae_lib.data import IMAGE_SIDE, IMAGE_SIZE, N_CLASSES


def fake_decode(codes: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] that encode their code: left half from z1, right half from z2."""
    left = torch.tanh(codes[:, :1]).expand(-1, IMAGE_SIDE // 2)
    right = torch.tanh(codes[:, 1:]).expand(-1, IMAGE_SIDE // 2)
    return torch.cat([left, right], dim=1).repeat(1, IMAGE_SIDE)


def expected_pixels(z1: float, z2: float) -> np.ndarray:
    """What the explorer should store for fake_decode at (z1, z2): uint8, [-1, 1] -> [0, 255]."""
    image = fake_decode(torch.tensor([[z1, z2]], dtype=torch.float32)).reshape(
        IMAGE_SIDE, IMAGE_SIDE
    )
    return ((image + 1) / 2 * 255).round().to(torch.uint8).numpy()


def png_pixels(data_url: str) -> np.ndarray:
    """Decode a PNG data URL as the browser does."""
    prefix = "data:image/png;base64,"
    assert data_url.startswith(prefix)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url[len(prefix) :]))))


def test_sprite_holds_the_decoded_grid():
    explorer = LatentExplorer.from_decoder(fake_decode, limit=2.0, steps=5, live=False)
    sheet = png_pixels(explorer.sprite)
    assert sheet.shape == (5 * IMAGE_SIDE, 5 * IMAGE_SIDE) and sheet.dtype == np.uint8
    grid = grid_values(2.0, 5).tolist()
    assert grid == [-2.0, -1.0, 0.0, 1.0, 2.0]
    side = IMAGE_SIDE
    for row, z2 in enumerate(grid):
        for column, z1 in enumerate(grid):
            tile = sheet[row * side : (row + 1) * side, column * side : (column + 1) * side]
            np.testing.assert_array_equal(tile, expected_pixels(z1, z2))


def test_grid_image_is_the_nearest_grid_code():
    explorer = LatentExplorer.from_decoder(fake_decode, limit=3.0, steps=7, live=False)
    grid = grid_values(3.0, 7)
    for z1, z2 in [(0.0, 0.0), (0.4, -0.6), (2.9, -3.0), (-1.6, 1.4), (5.0, -9.0)]:
        nearest = [grid[(grid - z).abs().argmin()].item() for z in (z1, z2)]
        np.testing.assert_array_equal(explorer.grid_image(z1, z2), expected_pixels(*nearest))


def test_live_mode_decodes_the_exact_code():
    explorer = LatentExplorer.from_decoder(fake_decode, limit=3.0, steps=7, live=True)
    np.testing.assert_array_equal(png_pixels(explorer.image), expected_pixels(0.0, 0.0))
    explorer.z1 = 0.37
    explorer.z2 = -1.21
    np.testing.assert_array_equal(png_pixels(explorer.image), expected_pixels(0.37, -1.21))
    # 0.37 lies between grid codes, so the live image is not the grid tile.
    assert not np.array_equal(png_pixels(explorer.image), explorer.grid_image(0.37, -1.21))


def test_static_mode_never_decodes_again():
    calls = []

    def counting_decode(codes: torch.Tensor) -> torch.Tensor:
        calls.append(len(codes))
        return fake_decode(codes)

    explorer = LatentExplorer.from_decoder(counting_decode, steps=3, live=False)
    explorer.z1 = 1.0
    assert calls == [9] and explorer.image == ""


def test_unit_pixel_range_is_not_rescaled():
    def unit_decode(codes: torch.Tensor) -> torch.Tensor:
        return torch.full((len(codes), IMAGE_SIZE), 0.5)

    explorer = LatentExplorer.from_decoder(unit_decode, steps=3, pixel_range="unit")
    assert (png_pixels(explorer.image) == 128).all()


def test_scatter_points_are_thinned_and_rounded():
    codes = torch.randn(5000, 2, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(5000) % N_CLASSES
    explorer = LatentExplorer.from_decoder(fake_decode, steps=3, codes=codes, labels=labels)
    assert len(explorer.points) == 2000
    first = explorer.points[0]
    assert first == [round(codes[0, 0].item(), 3), round(codes[0, 1].item(), 3), 0]


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"limit": 0.0}, "limit"),
        ({"limit": float("inf")}, "limit"),
        ({"steps": 1}, "steps"),
        ({"steps": 500}, "steps"),
        ({"steps": 4.0}, "steps"),
        ({"pixel_range": "bytes"}, "pixel_range"),
        ({"codes": torch.zeros(3, 2)}, "labels"),
        ({"codes": torch.zeros(3, 3), "labels": torch.zeros(3)}, "codes must be"),
    ],
)
def test_bad_arguments_raise_value_error(arguments, message):
    with pytest.raises(ValueError, match=message):
        LatentExplorer.from_decoder(fake_decode, **arguments)


def test_decoder_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="784 pixels"):
        LatentExplorer.from_decoder(lambda codes: torch.zeros(len(codes), 100), steps=3)


def test_training_replay_holds_each_epochs_codes_within_a_quantisation_step():
    from aae_lib.book.widgets import TrainingReplay

    generator = torch.Generator().manual_seed(0)
    snapshots = torch.randn(3, 1000, 2, generator=generator).clamp(-3.9, 3.9)
    snapshots[1] *= 0.5  # training moved the codes between epochs
    labels = torch.randint(N_CLASSES, (1000,), generator=generator)
    replay = TrainingReplay.from_snapshots(snapshots, labels, limit=4.0, points=100)
    keep = torch.linspace(0, 999, 100).round().long()
    assert replay.labels == labels[keep].tolist()
    step = 8.0 / 256
    for epoch in range(3):
        assert np.abs(replay.frame(epoch) - snapshots[epoch, keep].numpy()).max() <= step
    assert not np.array_equal(replay.frame(0), replay.frame(1))
    with pytest.raises(ValueError, match="epochs, N, 2"):
        TrainingReplay.from_snapshots(torch.zeros(3, 10), labels)
