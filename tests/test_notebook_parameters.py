"""A chapter's parameters cell refuses nonsense by name, before anything is loaded or trained,
so an untrained model is never saved as the reader's own weights."""

import pytest

from aae_lib.book.notebook import load_or_train
from aae_lib.errors import AAEError


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"epochs": -1}, "EPOCHS"),
        ({"epochs": 0}, "EPOCHS"),
        ({"epochs": 2.5}, "EPOCHS"),
        ({"epochs": True}, "EPOCHS"),
        ({"epochs": -1, "retrain": True}, "EPOCHS"),
        ({"epochs": -1, "smoke": True}, "EPOCHS"),
        ({"retrain": "yes"}, "RETRAIN"),
        ({"mixture_radius": float("inf")}, "mixture_radius"),
        ({"ncode": 0}, "ncode"),
    ],
)
def test_a_bad_parameter_is_refused_by_name_before_any_work(
    arguments, named, tmp_path, monkeypatch
):
    monkeypatch.setenv("AAE_CHECKPOINTS", str(tmp_path))
    with pytest.raises(AAEError, match=named) as refused:
        load_or_train("unsupervised_gmm", "cpu", **arguments)
    assert "\n" not in str(refused.value)
    assert not any(tmp_path.iterdir()), "something was written before the refusal"
