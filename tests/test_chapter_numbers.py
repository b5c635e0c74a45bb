"""Every number a chapter's prose writes is one the chapter prints, one its lab notes give,
or one this module lists with where it comes from.

The book cannot use myst-nb's ``glue`` role (JupyterLab would show it raw, test_jupyterlab),
so this test binds the prose to the outputs instead. The notebooks are read as JSON.

What counts as a written number, in the markdown cells (``<details>`` answers included):

- every decimal (``0.82``, ``27.1``); every integer with a unit, ``%`` or ``nats`` (``27 %``,
  ``235 nats``), where the unit that ends a range, a ``±`` or a list belongs to all its numbers
  (``45–79 %``, ``1.92 ± 0.03 %``, ``104, 170 and 226 nats``); and every integer beside a
  ``±``. Other integers are left alone: in this prose they are counts, sizes, epochs, seeds,
  chapter, figure and exercise numbers, times and years far more often than measurements;
- not what lies in code spans and blocks, in LaTeX math (``$...$``, ``$$...$$``), in link
  targets, URLs or HTML tags, nor version numbers (``0.2.0``).

A written number is bound when

- a number in the chapter's text outputs (stream, text/plain, text/markdown and text/html of
  its code cells) rounds to it at the written precision: a written ``50.8`` is bound by a
  printed ``50.76``, ``27.1`` by ``27.07`` (and by a half-way ``27.15``), not by ``27.2``,
  nor by a printed ``27``, which has too few decimals. A written percentage needs a printed
  percentage; a written ``−`` a printed negative number, an unsigned one a non-negative one
  (``±0.7`` either);
- or a number of the chapter's lab notes (book/lab_notes/, same ``0N_`` prefix) does so;
- or, for a number without a unit, the chapter's code cells hold that literal as written
  (``LeakyReLU(0.2)`` binds the slope 0.2 of the prose; a literal ``0.1`` does not bind
  ``0.10``);
- or ``ALLOWED`` lists it for that chapter, with where it comes from (the paper, the
  TensorFlow reproduction, a value derived from others); a derived entry gives its value, and a
  test checks that the written number is what that value rounds to. A test also fails on an
  entry the chapter no longer writes, or no longer needs.

The chapter test fails on any unbound number, naming its chapter, cell and surrounding words.

A number written with few decimals can be bound by a printed one it was never meant to be:
``about 1.0`` by a printed 0.98 of something else. The test catches numbers that nothing
near them supports, not every misquotation.
"""

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {
    path.name[:2]: path for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
}
LAB_NOTES = ROOT / "book" / "lab_notes"

# ----------------------------------------------------------------------------- reading prose
# Blanked out before numbers are read (replaced by spaces, so positions keep their meaning).
FENCED = re.compile(r"^[ \t>]*(```|~~~).*?^[ \t>]*\1[^\n]*$", re.S | re.M)
DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.S)
INLINE_MATH = re.compile(r"(?<![\\$])\$[^$]+?(?<!\\)\$", re.S)
CODE_SPAN = re.compile(r"(`+).+?\1", re.S)
LINK_TARGET = re.compile(r"\]\([^)]*\)")
URL = re.compile(r"https?://\S+")
TAG = re.compile(r"<[^>\n]+>")
NOT_PROSE = (FENCED, DISPLAY_MATH, CODE_SPAN, INLINE_MATH, LINK_TARGET, URL, TAG)

# A number: not part of a word, a version (0.2.0), a hex address or a longer number. A sign
# counts only after a space or an opening bracket (``2.4-2.9`` is a range).
NUMBER = re.compile(
    r"(?<![\w.\d])(?P<sign>(?<![^\s(\[,;:/=])[-−+±])?"
    r"(?P<value>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\w.]*\d|[\w])"
    r"(?:\s?(?P<unit>%|nats\b))?"
)
# An unmarked number shares the unit that ends a range, a ``±`` or a list it begins:
# ``45–79 %``, ``1.92 ± 0.03 %``, ``1.88, 1.94 and 1.93 %``, ``104, 170 and 226 nats``.
SHARES_UNIT = re.compile(
    r"(?:\s*(?:,|and|or|to|–|-|±)\s*(?:about\s+)?[-−+±]?\d+(?:\.\d+)?)+\s?(?P<unit>%|nats\b)"
)
NEXT_TO_PLUS_MINUS = re.compile(r"\s*±")


@dataclass(frozen=True)
class Number:
    """A number as a text shows it."""

    text: str  # digits as written, e.g. "27.1"
    sign: str  # "", "-", "+" or "±"
    unit: str  # "", "%" or "nats"
    start: int
    end: int

    @property
    def decimals(self) -> int:
        if "e" in self.text.lower():
            return 99  # a printed 1.2e-05 has all the precision a prose number asks for
        return len(self.text.partition(".")[2])

    @property
    def value(self) -> float:
        return float(self.text)


def numbers(text: str) -> list[Number]:
    """Every number of ``text`` with its sign and unit."""
    found = []
    for match in NUMBER.finditer(text):
        sign = {"−": "-", "": ""}.get(match.group("sign") or "", match.group("sign"))
        unit = match.group("unit") or ""
        if not unit and (shared := SHARES_UNIT.match(text, match.end("value"))):
            unit = shared.group("unit")
        found.append(Number(match.group("value"), sign, unit, match.start(), match.end()))
    return found


def prose(markdown: str) -> str:
    """``markdown`` with code, math, link targets, URLs and tags blanked, lengths kept."""

    def blank(match: re.Match) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    for pattern in NOT_PROSE:
        markdown = pattern.sub(blank, markdown)
    return markdown


def written_numbers(markdown: str) -> list[Number]:
    """The numbers of ``markdown``'s prose that this test binds: decimals, numbers with a
    unit (``%``, ``nats``) and numbers beside a ``±``."""
    text = prose(markdown)
    return [
        number
        for number in numbers(text)
        if "." in number.text
        or number.unit
        or number.sign == "±"
        or NEXT_TO_PLUS_MINUS.match(text, number.end)
        or text[: number.start].rstrip().endswith("±")
    ]


def context(text: str, number: Number, width: int = 45) -> str:
    return " ".join(text[max(0, number.start - width) : number.end + width].split())


# ----------------------------------------------------------------------------- binding
def binds(written: Number, printed: Number) -> bool:
    """Whether ``printed`` is ``written`` at the written precision (and sign, and unit)."""
    if written.unit == "%" and printed.unit != "%":
        return False
    if printed.decimals < written.decimals:
        return False
    if written.sign != "±" and (written.sign == "-") != (printed.sign == "-"):
        return False
    return abs(written.value - printed.value) <= 0.5 * 10**-written.decimals + 1e-9


def as_literal(written: Number, literals: frozenset[str]) -> bool:
    """Whether the code holds ``written`` as it is written (a setting, not a measurement)."""
    return not written.unit and written.text in literals


def html_text(html: str) -> str:
    return TAG.sub(" ", html)


def output_text(cells: list[dict]) -> str:
    """The text outputs of the code cells: streams, plain text, markdown and HTML."""
    parts = []
    for cell in cells:
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                parts.append("".join(output["text"]))
            data = output.get("data", {})
            for kind in ("text/plain", "text/markdown"):
                if kind in data:
                    parts.append("".join(data[kind]))
            if "text/html" in data:
                parts.append(html_text("".join(data["text/html"])))
    return "\n".join(parts)


def code_literals(cells: list[dict]) -> set[str]:
    source = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    return {number.text for number in numbers(source)}


@dataclass(frozen=True)
class Allowed:
    """A number that comes from outside the chapter's outputs, and from where."""

    text: str
    reason: str
    value: float | None = None  # for a derived number: what it is, unrounded


@dataclass(frozen=True)
class Unbound:
    chapter: str
    cell: int
    number: Number
    context: str

    def __str__(self) -> str:
        shown = f"{'−' if self.number.sign == '-' else self.number.sign}{self.number.text}"
        shown += f" {self.number.unit}" if self.number.unit else ""
        return f"chapter {self.chapter}, cell {self.cell}: {shown}  ({self.context})"


@dataclass(frozen=True)
class Chapter:
    name: str
    cells: tuple[dict, ...]
    printed: tuple[Number, ...]
    lab_notes: tuple[Number, ...]
    literals: frozenset[str]

    def is_bound(self, written: Number, allowed: tuple[Allowed, ...] = ()) -> bool:
        return (
            any(binds(written, printed) for printed in self.printed)
            or any(binds(written, noted) for noted in self.lab_notes)
            or as_literal(written, self.literals)
            or any(entry.text == written.text for entry in allowed)
        )

    def written(self) -> list[tuple[int, Number, str]]:
        """(cell index, number, its surroundings) for every written number of the prose."""
        found = []
        for index, cell in enumerate(self.cells):
            if cell["cell_type"] != "markdown":
                continue
            markdown = "".join(cell["source"])
            text = prose(markdown)
            found += [
                (index, number, context(text, number)) for number in written_numbers(markdown)
            ]
        return found

    def unbound(self, allowed: tuple[Allowed, ...] = ()) -> list[Unbound]:
        return [
            Unbound(self.name, index, number, words)
            for index, number, words in self.written()
            if not self.is_bound(number, allowed)
        ]


def make_chapter(name: str, cells: list[dict], lab_notes: str = "") -> Chapter:
    return Chapter(
        name,
        tuple(cells),
        tuple(numbers(output_text(cells))),
        tuple(numbers(lab_notes)),
        frozenset(code_literals(cells)),
    )


@cache
def chapter(name: str) -> Chapter:
    cells = json.loads(NOTEBOOKS[name].read_text())["cells"]
    notes = sorted(LAB_NOTES.glob(f"{name}_*.md"))
    return make_chapter(name, cells, "\n".join(path.read_text() for path in notes))


# ----------------------------------------------------------------------------- the lists
PAPER_TABLE_2 = "the paper's Table 2 (semi-supervised test error, %)"

# Numbers that come from outside the chapter's outputs, per chapter. Keep this short: a number
# that measures the book's own models belongs in an output or the lab notes, not here.
ALLOWED: dict[str, tuple[Allowed, ...]] = {
    "00": (
        Allowed("1.39", "the discriminator's loss at chance, 2 ln 2", 2 * math.log(2)),
        Allowed("0.69", "the generator's loss at chance, ln 2", math.log(2)),
        Allowed("1.5", "a threshold on the prior: P(z > 1.5) = 0.067, one N(0, 1) sample in 15"),
    ),
    "02": (Allowed("100", "the top of the agreement scale: every code on its own digit's arm"),),
    "04": (
        Allowed("1.60", f"{PAPER_TABLE_2}, 1000 labels"),
        Allowed("0.08", f"{PAPER_TABLE_2}, 1000 labels: the ± of 1.60"),
        Allowed("0.85", f"{PAPER_TABLE_2}, all labels"),
        Allowed("0.02", f"{PAPER_TABLE_2}, all labels: the ± of 0.85"),
        Allowed("2.90", "the TensorFlow reproduction's README, 1280 labels"),
        Allowed("0.32", "derived: 1.92 (printed) − 1.60 (the paper)", 1.92 - 1.60),
    ),
    "05": (
        Allowed("2.5", "derived: row 1's mean (1, −2) costs ½‖μ‖² = 2.5 nats", 0.5 * (1 + 4)),
        Allowed(
            "5.5",
            "derived: row 2 costs 5.674 nats (printed), ½(0.3² + 0.5²) of them for its mean",
            5.674 - 0.5 * (0.3**2 + 0.5**2),
        ),
    ),
}


def report(unbound: list[Unbound]) -> str:
    lines = "\n".join(f"  {number}" for number in unbound)
    return (
        f"{len(unbound)} written number(s) that no output, lab note, code literal or ALLOWED "
        f"entry binds:\n{lines}"
    )


def assert_bound(ours: Chapter, allowed: tuple[Allowed, ...] = ()) -> None:
    """Fail, naming each, if a written number of ``ours`` is unbound."""
    unbound = ours.unbound(allowed)
    if unbound:
        raise AssertionError(report(unbound))


# ----------------------------------------------------------------------------- the chapters
@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_the_prose_writes_only_numbers_the_chapter_prints(name):
    assert_bound(chapter(name), ALLOWED.get(name, ()))


@pytest.mark.parametrize(
    ("name", "entry"), [(name, entry) for name, entries in ALLOWED.items() for entry in entries]
)
def test_an_allowed_number_is_written_needed_and_right(name, entry):
    ours = chapter(name)
    written = [number for _, number, _ in ours.written() if number.text == entry.text]
    assert written, f"chapter {name} no longer writes {entry.text}: delete it from ALLOWED"
    assert any(not ours.is_bound(number) for number in written), (
        f"chapter {name}'s {entry.text} is bound without ALLOWED: delete the entry"
    )
    if entry.value is not None:
        sign = "-" if entry.value < 0 else ""
        for number in written:
            exact = Number(repr(abs(entry.value)), sign, number.unit, 0, 0)
            assert binds(number, exact), f"{entry.text} is not {entry.value} ({entry.reason})"


# ----------------------------------------------------------------------------- the matcher
def markdown_cell(text: str) -> dict:
    return {"cell_type": "markdown", "source": text.splitlines(keepends=True)}


def code_cell(source: str, printed: str = "", html: str = "") -> dict:
    outputs = [{"output_type": "stream", "name": "stdout", "text": printed}] if printed else []
    if html:
        outputs.append({"output_type": "display_data", "data": {"text/html": html}, "metadata": {}})
    return {"cell_type": "code", "source": source, "outputs": outputs}


def written_texts(markdown: str) -> list[str]:
    return [
        ("-" if n.sign == "-" else "") + n.text + (f" {n.unit}" if n.unit else "")
        for n in written_numbers(markdown)
    ]


def test_written_numbers_are_decimals_and_numbers_with_units_outside_code_and_math():
    markdown = (
        "# 3. Chapter\n"
        "Trained 112 epochs on 60 000 images (10 min, Fig 4, exercise 2), 2-D codes in 2016.\n"
        "The error is 27.1 ± 5.1 %, about 27 % with 16 clusters; 45–79 % of an arm; 8 ± 2 "
        "steps; a gradient of −0.0025; 104, 170 and 226 nats.\n"
        "Not `lr=0.5`, not $\\beta_1 = 0.9$, nor $$\\log 2 \\approx 0.69$$, nor "
        "[the page](https://example.org/1.5.html), nor aae_lib 0.2.0.\n"
        "```python\nx = 3.25\n```\n"
        "<details>\n<summary>Answer</summary>\n\nIt reads 64.1 %.\n</details>\n"
    )
    assert written_texts(markdown) == [
        "27.1 %",
        "5.1 %",
        "27 %",
        "45 %",
        "79 %",
        "8",
        "2",
        "-0.0025",
        "104 nats",
        "170 nats",
        "226 nats",
        "64.1 %",
    ]


def test_a_printed_number_binds_the_written_one_it_rounds_to():
    def bound(written: str, printed: str) -> bool:
        number = written_numbers(written)[0]
        ours = make_chapter("99", [code_cell("print()", printed)])
        return ours.is_bound(number)

    assert bound("an error of 50.8 %", "paper metric 50.76 %")
    assert bound("27.1 ± 5", "27.07")
    assert bound("27.1", "27.1")
    assert bound("0.5", "0.50")
    assert bound("−0.04", "ink -0.04")
    assert not bound("27.1", "27.2")
    assert bound("27.1", "27.15")  # a printed half-way value binds both neighbours
    assert not bound("27.1", "27.16")
    assert not bound("27.1", "27")  # the printed number has not the precision
    assert not bound("50.8 %", "50.76")  # a percentage needs a printed percentage
    assert not bound("0.04", "ink -0.04")  # and a sign its sign
    assert not bound("0.10", "0.1")  # 0.1 might print a 0.14


def test_a_chapter_with_a_wrong_number_fails_with_its_cell_and_words():
    cells = [
        markdown_cell("# 9. A chapter\nSome prose."),
        code_cell("print(error)", "test error 1.92 ± 0.03 %\n"),
        code_cell("show(table)", html="<table><tr><td>3.47%</td></tr></table>"),
        code_cell("nn.LeakyReLU(0.2)"),
        markdown_cell(
            "The model errs on 1.92 ± 0.03 % (3.5 % once, slope 0.2) of the test set,\n"
            "against the paper's 1.60 %, and 0.73 in the lab notes; a typo 1.29 % here."
        ),
    ]
    ours = make_chapter("99", cells, lab_notes="an R² of 0.729 for amount")
    allowed = (Allowed("1.60", "the paper's Table 2"),)
    assert [str(number) for number in ours.unbound(allowed)] == [
        "chapter 99, cell 4: 1.29 %  ('s 1.60 %, and 0.73 in the lab notes; a typo 1.29 % here.)"
    ]
    with pytest.raises(AssertionError, match=r"^1 written number.*\n  chapter 99, cell 4: 1\.29 %"):
        assert_bound(ours, allowed)
    with pytest.raises(AssertionError, match=r"cell 4: 1\.60 %.*\n.*cell 4: 1\.29 %"):
        assert_bound(ours)  # without its ALLOWED entry the paper's number is unbound too
