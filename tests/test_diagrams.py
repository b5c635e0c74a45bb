import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from aae_lib.diagrams import architecture  # noqa: E402
from aae_lib.recipes import RECIPES  # noqa: E402


def texts(figure):
    return {t.get_text() for t in figure.axes[0].texts}


@pytest.mark.parametrize("name", ["unsupervised_gmm", "label_gmm_all", "supervised_ncode2",
                                  "semisupervised_1000"])
def test_the_diagram_shows_what_enters_each_network(name):
    model = RECIPES[name].model
    shown = texts(architecture(model, name))
    assert ("discriminator D_y" in shown) == (model.n_classes > 0)
    assert ("digit (one-hot)" in shown) == (model.decoder_input == "code+label")
    assert ("label or 'unlabeled'" in shown) == model.label_conditioned
    assert f"code z ({model.ncode}-D)" in shown and f"{model.prior} prior" in shown
