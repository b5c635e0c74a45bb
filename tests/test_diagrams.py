import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from aae_lib.book.diagrams import architecture  # noqa: E402
from aae_lib.recipes import RECIPES  # noqa: E402


def texts(figure):
    return {t.get_text() for t in figure.axes[0].texts}


@pytest.mark.parametrize(
    "name",
    [
        "unsupervised_gmm",
        "label_gmm_all",
        "supervised_ncode2",
        "semisupervised_1000",
        "reduction_1000_labels",
    ],
)
def test_the_diagram_shows_what_enters_each_network(name):
    model = RECIPES[name].model
    shown = texts(architecture(model, name))
    assert ("discriminator D_y" in shown) == (model.n_classes > 0)
    assert ("digit (one-hot)" in shown) == (model.decoder_input == "code+label")
    assert ("label or 'unlabeled'" in shown) == model.label_conditioned
    assert f"code z ({model.ncode}-D)" in shown and f"{model.prior} prior" in shown
    assert ("z + W·y" in shown) == (model.decoder_input == "cluster_heads")


def test_a_diagram_is_returned_once_not_also_left_open_for_the_inline_backend():
    open_before = plt.get_fignums()
    architecture(RECIPES["unsupervised_gmm"].model)
    assert plt.get_fignums() == open_before
