"""Chapter 0 writes the AAE in plain PyTorch; these tests keep the page and the package in step.

The notebook's cells tagged ``chapter-code`` (networks, losses, optimisers, ``train_step``) are
run here without MNIST. From the package's initial weights, three training steps on the page
and in ``aae_lib``'s Trainer, on the same images and prior samples, must give the same losses
and the same weights; broken copies of the page must not. The chapter's exercises are held to
their checks: each check passes on the worked solution and fails on nbgrader's stub and on
typical wrong answers.
"""

import re
from pathlib import Path

import nbformat
import pytest
import torch

from aae_lib.data import MNIST
from aae_lib.recipes import recipe
from aae_lib.train import Trainer

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_aae_in_one_page.ipynb"
CHAPTER_TAG = "chapter-code"
BATCH = 128
STEPS = 3
LOSSES = ("reconstruction", "discriminator_z", "generator_z")
# The package's Adam is fused, the page's is PyTorch's default; the two round differently in
# the last bit. Adam divides each gradient by its own running size, so for the few weights
# whose gradient is about as small as Adam's eps (1e-8) such last-bit differences grow: after
# three steps the weights differ by up to 2.1e-6 (measured; none at all if the page's Adam is
# made fused). 1e-5 is 5 % of one step (lr 2e-4); a wrong step moves weights by about a step.
WEIGHTS_ATOL = 1e-5
LOSS_RTOL = 1e-5  # measured: 1.2e-7


def notebook_cells() -> list:
    return nbformat.read(NOTEBOOK, as_version=4).cells


def chapter_sources() -> list[str]:
    return [
        cell.source
        for cell in notebook_cells()
        if cell.cell_type == "code" and CHAPTER_TAG in cell.metadata.get("tags", [])
    ]


def run_sources(sources: list[str]) -> dict:
    """Execute notebook sources, in order, into one fresh namespace."""
    namespace: dict = {}
    for i, source in enumerate(sources):
        exec(compile(source, f"{NOTEBOOK.name}, cell {i}", "exec"), namespace)
    return namespace


def package_networks(trainer: Trainer) -> dict[str, torch.nn.Module]:
    model = trainer.model
    return {
        "encoder": model.encoder,
        "decoder": model.decoder,
        "discriminator": model.discriminators["z"],
    }


def differences(page: dict) -> list[str]:
    """Run STEPS training steps on the page and in the package from the package's initial
    weights, on the same random images and prior samples; say what differs."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (STEPS * BATCH, 784), dtype=torch.uint8, generator=generator)
    labels = torch.arange(len(images)) % 10
    trainer = Trainer(
        recipe("unsupervised_gaussian"),
        MNIST(images, labels, images[:BATCH], labels[:BATCH]),
        "cpu",
        progress=False,
    )
    assert trainer.precision == "fp32"
    networks = package_networks(trainer)
    for name, network in networks.items():
        page[name].load_state_dict(network.state_dict())
    found = []
    for step in range(STEPS):
        index = torch.arange(step * BATCH, (step + 1) * BATCH)
        prior = torch.randn(BATCH, 2, generator=generator)
        trainer.prior_samples = lambda adversary, labels, prior=prior: prior.clone()
        theirs = trainer.train_step(index, step)
        mine = page["train_step"](page["to_float"](images[index]), prior.clone())
        assert len(mine) == len(LOSSES), "train_step returns the three losses"
        for name, value in zip(LOSSES, mine, strict=True):
            if not torch.allclose(value, theirs[name], rtol=LOSS_RTOL, atol=0):
                found.append(
                    f"step {step}: {name} loss {float(value):.7g} on the page, "
                    f"{float(theirs[name]):.7g} in the package"
                )
        for name, network in networks.items():
            page_weights = page[name].state_dict()
            for key, weights in network.state_dict().items():
                gap = (page_weights[key] - weights).abs().max().item()
                if gap > WEIGHTS_ATOL:
                    found.append(f"step {step}: {name}.{key} differs by {gap:.2g}")
    return found


def test_the_page_has_the_package_layers():
    page = run_sources(chapter_sources())
    images, labels = torch.zeros(16, 784, dtype=torch.uint8), torch.arange(16) % 10
    trainer = Trainer(
        recipe("unsupervised_gaussian"),
        MNIST(images, labels, images, labels),
        "cpu",
        progress=False,
    )
    for name, network in package_networks(trainer).items():
        shapes = {key: value.shape for key, value in network.state_dict().items()}
        assert {key: value.shape for key, value in page[name].state_dict().items()} == shapes


def test_the_page_trains_like_the_package():
    assert differences(run_sources(chapter_sources())) == []


# Bugs a page could have: (what, text of the page, its broken replacement).
BROKEN_PAGES = [
    (
        "discriminator loss without the factor 2",
        "return 2 * F.binary_cross_entropy_with_logits",
        "return F.binary_cross_entropy_with_logits",
    ),
    (
        "real and fake targets swapped",
        "torch.cat([torch.ones(len(prior_samples)), torch.zeros(len(codes))])",
        "torch.cat([torch.zeros(len(prior_samples)), torch.ones(len(codes))])",
    ),
    (
        "generator trained towards 'fake'",
        "F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))",
        "F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))",
    ),
    (
        "reconstruction summed over the batch",
        "0.5 * (decoded - images).square().sum(1).mean()",
        "0.5 * (decoded - images).square().sum()",
    ),
    (
        "the generator's optimiser also moves the discriminator",
        '"generator": torch.optim.Adam(encoder.parameters(), **adam)',
        '"generator": torch.optim.Adam('
        "[*encoder.parameters(), *discriminator.parameters()], **adam)",
    ),
    ("Adam's default beta1", "betas=(0.5, 0.999)", "betas=(0.9, 0.999)"),
    ("codes not detached for the discriminator", "codes.detach()", "codes"),
]


@pytest.mark.parametrize("what, text, broken", BROKEN_PAGES, ids=[b[0] for b in BROKEN_PAGES])
def test_a_broken_page_is_caught(what, text, broken):
    sources = chapter_sources()
    assert sum(source.count(text) for source in sources) == 1, f"the page no longer has {text!r}"
    page = run_sources([source.replace(text, broken) for source in sources])
    try:
        found = differences(page)
    except RuntimeError as error:  # without the detach, the generator step finds no graph
        found = [str(error)]
    assert found, f"a page with {what} trains like the package"


# ----------------------------------------------------------------------------- exercises
def nbgrader_cell(grade_id: str):
    cells = [
        cell
        for cell in notebook_cells()
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    ]
    assert len(cells) == 1, f"one cell with grade_id {grade_id}"
    return cells[0]


def with_answer(solution: str, answer: str) -> str:
    """The solution cell with the lines between its markers replaced by ``answer``, as
    nbgrader replaces them by its stub."""
    match = re.search(
        r"^( *)### BEGIN SOLUTION\n.*?^ *### END SOLUTION\n?", solution, re.MULTILINE | re.DOTALL
    )
    assert match, "the solution has ### BEGIN SOLUTION / ### END SOLUTION markers"
    indent = match.group(1)
    lines = "".join(f"{indent}{line}\n" for line in answer.splitlines())
    return solution[: match.start()] + lines + solution[match.end() :]


def run_check(grade_id: str, answer: str | None = None) -> None:
    """The chapter code, then the exercise's solution (or ``answer`` in its place), then its
    check cell."""
    solution = nbgrader_cell(grade_id).source
    if answer is not None:
        solution = with_answer(solution, answer)
    run_sources([*chapter_sources(), solution, nbgrader_cell(f"{grade_id}-check").source])


EXERCISES = ("ex1-discriminator-loss", "ex2-optimizers", "ex3-saturating")


def optimizers(
    reconstruction: str, discriminator: str, generator: str, settings: str = "**settings"
) -> str:
    """An answer to exercise 2: Adam over each of the three lists of parameters."""
    return (
        "settings = dict(lr=2e-4, betas=(0.5, 0.999))\n"
        f"return (torch.optim.Adam({reconstruction}, {settings}),\n"
        f"        torch.optim.Adam({discriminator}, {settings}),\n"
        f"        torch.optim.Adam({generator}, {settings}))"
    )


AUTOENCODER = "[*encoder.parameters(), *decoder.parameters()]"
ENCODER, DISCRIMINATOR = "encoder.parameters()", "discriminator.parameters()"
ENCODER_AND_DISCRIMINATOR = "[*encoder.parameters(), *discriminator.parameters()]"

# (exercise, what, answer, words of the check's message)
WRONG_ANSWERS = [
    (
        "ex1-discriminator-loss",
        "swapped targets",
        "return (-F.logsigmoid(-discriminator(prior_samples)).mean()\n"
        "        - F.logsigmoid(discriminator(codes.detach())).mean())",
        "swapped",
    ),
    (
        "ex1-discriminator-loss",
        "no detach",
        "return (-F.logsigmoid(discriminator(prior_samples)).mean()\n"
        "        - F.logsigmoid(-discriminator(codes)).mean())",
        "detach",
    ),
    (
        "ex1-discriminator-loss",
        "average instead of sum (factor 2 missing)",
        "return (-F.logsigmoid(discriminator(prior_samples)).mean()\n"
        "        - F.logsigmoid(-discriminator(codes.detach())).mean()) / 2",
        "half",
    ),
    (
        "ex1-discriminator-loss",
        "computed without a gradient",
        "with torch.no_grad():\n    return discriminator_loss(discriminator, prior_samples, codes)",
        "gradient",
    ),
    (
        "ex2-optimizers",
        "encoder in the discriminator's optimiser",
        optimizers(AUTOENCODER, ENCODER_AND_DISCRIMINATOR, ENCODER),
        "discriminator step",
    ),
    (
        "ex2-optimizers",
        "discriminator in the generator's optimiser",
        optimizers(AUTOENCODER, DISCRIMINATOR, ENCODER_AND_DISCRIMINATOR),
        "generator step",
    ),
    (
        "ex2-optimizers",
        "decoder missing from reconstruction",
        optimizers(ENCODER, DISCRIMINATOR, ENCODER),
        "misses",
    ),
    (
        "ex2-optimizers",
        "Adam's default betas",
        optimizers(AUTOENCODER, DISCRIMINATOR, ENCODER, settings="lr=2e-4"),
        "betas",
    ),
    (
        "ex3-saturating",
        "sign flipped",
        "return -F.logsigmoid(-discriminator(codes)).mean()",
        "sign",
    ),
    (
        "ex3-saturating",
        "the non-saturating loss",
        "return -F.logsigmoid(discriminator(codes)).mean()",
        "expected",
    ),
    (
        "ex3-saturating",
        "log D instead of log(1 - D)",
        "return F.logsigmoid(discriminator(codes)).mean()",
        "expected",
    ),
]


@pytest.mark.parametrize("grade_id", EXERCISES)
def test_exercise_cells_follow_nbgrader(grade_id):
    solution, check = nbgrader_cell(grade_id), nbgrader_cell(f"{grade_id}-check")
    assert solution.metadata["nbgrader"] == {
        "solution": True,
        "grade": False,
        "grade_id": grade_id,
        "locked": False,
        "schema_version": 3,
    }
    assert "hide-cell" in solution.metadata["tags"]
    assert check.metadata["nbgrader"]["grade"] and check.metadata["nbgrader"]["locked"]
    assert check.metadata["nbgrader"]["points"] == 1


@pytest.mark.parametrize("grade_id", EXERCISES)
def test_check_passes_on_the_solution(grade_id):
    run_check(grade_id)


@pytest.mark.parametrize("grade_id", EXERCISES)
def test_check_fails_on_the_nbgrader_stub(grade_id):
    with pytest.raises(NotImplementedError):
        run_check(grade_id, "# YOUR CODE HERE\nraise NotImplementedError()")


@pytest.mark.parametrize(
    "grade_id, what, answer, message", WRONG_ANSWERS, ids=[f"{w[0]}: {w[1]}" for w in WRONG_ANSWERS]
)
def test_check_fails_on_a_wrong_answer(grade_id, what, answer, message):
    with pytest.raises(AssertionError, match=message):
        run_check(grade_id, answer)
