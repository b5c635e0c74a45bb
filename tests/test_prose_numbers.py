"""The numbers that the results page and the README write about the committed models are the
numbers their manifests and results files record: each claim below names where a number is
written and where it is recorded, and fails when one moves without the other.

A written number matches when it is what the recorded one rounds to at the written precision;
where a manifest records a metric both as trained and as stored (``stored_metrics``), either
one matches.
"""

import re
import statistics
from pathlib import Path

import pytest

from aae_lib import checkpoints, pretrained
from aae_lib.runners.label_draws import final_test_error

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"\d+\.\d+|\d+")

# A recorded value, or several that a written number may equal (as trained, as stored).
Recorded = float | tuple[float, ...]


def manifest(name: str) -> dict:
    return checkpoints.read_manifest(pretrained.WEIGHTS_DIR / f"{name}.json")


def metric(name: str, key: str, scale: float = 1.0, complement: bool = False) -> Recorded:
    """``key`` of ``name``'s manifest or results file, as trained and as stored."""
    path = pretrained.WEIGHTS_DIR / f"{name}.json"
    record = checkpoints.read_manifest(path) if path.exists() else pretrained.read_result(name)
    values = [record["metrics"][key]]
    values += [record["stored_metrics"][key]] if key in record.get("stored_metrics", {}) else []
    return tuple(scale * (1 - v if complement else v) for v in values)


def percent_error(name: str, key: str = "accuracy/test") -> Recorded:
    return metric(name, key, 100, complement=True)


def percent(name: str, key: str) -> Recorded:
    return metric(name, key, 100)


def reconstruction(name: str) -> Recorded:
    return metric(name, "reconstruction_error/test")


def cluster_errors(*names: str) -> list[float]:
    """Each run's test cluster error in percent, as its weights are stored."""
    return [100 * manifest(name)["stored_metrics"]["cluster_error/test"] for name in names]


def draws(recipe: str) -> list[float]:
    """A recipe's label draws: their mean and standard deviation, then each draw's error."""
    summary = pretrained.read_result(f"{recipe}_draws")
    runs = [final_test_error(run) for run in summary["runs"]]
    return [summary["test_error_mean"], summary["test_error_std"], *runs]


def spread(recipe: str) -> list[float]:
    """The lowest and the highest error of a recipe's label draws."""
    errors = draws(recipe)[2:]
    return [min(errors), max(errors)]


def mean_std(result: str) -> list[float]:
    summary = pretrained.read_result(result)
    return [summary["test_error_mean"], summary["test_error_std"]]


def mean_std_of(values: list[float]) -> list[float]:
    return [statistics.mean(values), statistics.stdev(values), *values]


SIXTEEN = ("clustering_16", "clustering_16_seed1", "clustering_16_seed2")
FIVE_STEPS = "10-D, five discriminator steps"
TOLD = "10-D, the adversary told the digit"


# ----------------------------------------------------------------------------- results.md
def table_cell(text: str, row: str, column: int) -> str:
    """Cell ``column`` of the one table row of ``text`` whose first cell is ``row``, or else
    contains it."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|")
    ]
    exact = [cells for cells in rows if cells[0] == row]
    (found,) = exact or [cells for cells in rows if row in cells[0]]
    return found[column]


# (row, column, what the manifests or results record) for book/results.md's tables.
TABLE_CLAIMS: list = [
    # Table 2
    ("61 of 5000 epochs, five label draws", 2, lambda: draws("semisupervised_100")),
    ("100 labeled images alone", 2, lambda: mean_std("control_100")),
    ("100 of 5000 epochs, three label draws", 2, lambda: draws("semisupervised_1000")),
    ("1000 labeled images alone", 2, lambda: mean_std("control_1000")),
    ("61 of 5000 epochs, four runs", 2, lambda: draws("semisupervised_all")),
    # Fig 2 and Table 1: reconstruction errors
    ("Gaussian N(0, I)", 1, lambda: [reconstruction("unsupervised_gaussian")]),
    ("10-component mixture", 1, lambda: [reconstruction("unsupervised_gmm")]),
    ("AAE, Gaussian prior", 2, lambda: [reconstruction("unsupervised_gaussian")]),
    ("VAE, Gaussian prior", 2, lambda: [reconstruction("vae_gaussian")]),
    ("AAE, mixture prior", 2, lambda: [reconstruction("unsupervised_gmm")]),
    ("VAE, mixture prior", 2, lambda: [reconstruction("vae_gmm")]),
    # Fig 4
    ("all 60 000", 1, lambda: [percent("label_gmm_all", "component_agreement/test")]),
    ("all 60 000", 2, lambda: [reconstruction("label_gmm_all")]),
    ("10 000 of 50 000", 1, lambda: [percent("label_gmm_10k", "component_agreement/test")]),
    ("10 000 of 50 000", 2, lambda: [reconstruction("label_gmm_10k")]),
    # Fig 7
    ("2-D", 1, lambda: [reconstruction("supervised_ncode2")]),
    (FIVE_STEPS, 1, lambda: [reconstruction("supervised_ncode10")]),
    (FIVE_STEPS, 2, lambda: [percent("supervised_ncode10", "digit_from_code/test")]),
    (FIVE_STEPS, 3, lambda: [percent("supervised_ncode10", "label_agreement/prior_codes")]),
    (TOLD, 1, lambda: [reconstruction("supervised_ncode10_label_adversary")]),
    (TOLD, 2, lambda: [percent("supervised_ncode10_label_adversary", "digit_from_code/test")]),
    # Table 3 and the 2-D maps
    ("16 clusters, three seeds", 2, lambda: mean_std_of(cluster_errors(*SIXTEEN))),
    ("30 clusters, one seed", 2, lambda: cluster_errors("clustering_30")),
    (
        "without the clustering encoder",
        2,
        lambda: [percent("clustering_16_without_batch_norm", "cluster_error/test")],
    ),
    ("no labels, 20 clusters", 2, lambda: cluster_errors("reduction_20_clusters")),
    (
        "1000 labels, 50 epochs",
        2,
        lambda: [
            percent_error("reduction_1000_labels"),
            percent_error("reduction_1000_labels", "accuracy/validation"),
        ],
    ),
]


def written(cell: str) -> list[str]:
    return NUMBER.findall(cell)


def matches(text: str, recorded: Recorded) -> bool:
    """Whether the written number ``text`` is what a recorded value rounds to."""
    decimals = len(text.partition(".")[2])
    values = recorded if isinstance(recorded, tuple) else (recorded,)
    return any(abs(float(text) - value) <= 0.5 * 10**-decimals + 1e-9 for value in values)


def check(texts: list[str], recorded: list[Recorded]) -> None:
    assert len(texts) == len(recorded), f"written {texts}, recorded {recorded}"
    wrong = [(t, r) for t, r in zip(texts, recorded, strict=True) if not matches(t, r)]
    assert not wrong, f"written numbers that are not the recorded ones: {wrong}"


@pytest.fixture(scope="module")
def results_page() -> str:
    return (ROOT / "book" / "results.md").read_text()


@pytest.mark.parametrize(("row", "column", "recorded"), TABLE_CLAIMS)
def test_the_results_pages_tables_give_the_recorded_numbers(results_page, row, column, recorded):
    check(written(table_cell(results_page, row, column)), recorded())


# ----------------------------------------------------------------------------- README
# (pattern whose groups are numbers of the README's results paragraph, what is recorded)
README_CLAIMS: list = [
    (
        r"\*\*([\d.]+) ± ([\d.]+) % with 1000 labels\*\*",
        lambda: mean_std("semisupervised_1000_draws"),
    ),
    (r"1000 labels\s+alone: ([\d.]+) ± ([\d.]+) %", lambda: mean_std("control_1000")),
    (
        r"\*\*([\d.]+) ± ([\d.]+) % with 100 labels\*\* over five draws\s+of 61 epochs, "
        r"([\d.]+) to ([\d.]+) %",
        lambda: [*mean_std("semisupervised_100_draws"), *spread("semisupervised_100")],
    ),
    (r"control ([\d.]+) ± ([\d.]+) %", lambda: mean_std("control_100")),
    (
        r"\*\*([\d.]+) ± ([\d.]+) %\s+with all labels\*\*",
        lambda: mean_std("semisupervised_all_draws"),
    ),
    (
        r"([\d.]+) % of test codes in their digit's component with all labels, ([\d.]+) %",
        lambda: [
            percent("label_gmm_all", "component_agreement/test"),
            percent("label_gmm_10k", "component_agreement/test"),
        ],
    ),
    (
        r"names the digit for ([\d.]+) % of test images",
        lambda: [percent("supervised_ncode10_label_adversary", "digit_from_code/test")],
    ),
    (r"five steps: ([\d.]+) %", lambda: [percent("supervised_ncode10", "digit_from_code/test")]),
    (
        r"\(2-D code\) and\s+([\d.]+) % \(10-D code\)",
        lambda: [percent("supervised_ncode10", "label_agreement/prior_codes")],
    ),
    (
        r"errs on ([\d.]+) ± ([\d.]+) % with 16\s+clusters over three seeds and ([\d.]+) % with 30",
        lambda: [*mean_std_of(cluster_errors(*SIXTEEN))[:2], *cluster_errors("clustering_30")],
    ),
    (r"7 of 20 heads \(([\d.]+) % error\)", lambda: cluster_errors("reduction_20_clusters")),
    (r"1000 labels errs on ([\d.]+) % of", lambda: [percent_error("reduction_1000_labels")]),
]


@pytest.mark.parametrize(("pattern", "recorded"), README_CLAIMS)
def test_the_readmes_results_give_the_recorded_numbers(pattern, recorded):
    found = re.search(pattern, (ROOT / "README.md").read_text())
    assert found, f"the README no longer says {pattern!r}"
    check(list(found.groups()), recorded())


def test_a_number_that_is_not_the_recorded_one_fails():
    with pytest.raises(AssertionError, match="not the recorded ones"):
        check(["1.93", "0.03"], mean_std("semisupervised_1000_draws"))  # written 1.92
    with pytest.raises(AssertionError, match="written"):
        check(["1.92"], mean_std("semisupervised_1000_draws"))
