# The few commands of the project. `make` = set up, fetch MNIST, train a demo model, build the book.
# `make test` = every check CI runs. Override PYTHON to use another interpreter for the venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Pinned for CI and this project's machines; the package itself accepts a range (pyproject.toml).
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: all setup data demo book student test check format bench notebooks clean

all: setup data demo book

$(PY):
	$(PYTHON) -m venv $(VENV)

setup: $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_PINS)
	$(PY) -m pip install --quiet -e '.[book,test]'
	$(PY) tools/fetch_web_assets.py
	@command -v chromium >/dev/null || tools/install_chromium.sh

data: $(PY)
	$(PY) -c "from aae_lib.data import load_mnist; m = load_mnist(); print('MNIST verified:', tuple(m.train_images.shape), tuple(m.test_images.shape))"

demo: $(PY)
	$(VENV)/bin/aae train unsupervised_gmm --epochs 1
	$(VENV)/bin/aae show unsupervised_gmm

book: $(PY)
	$(VENV)/bin/jupyter-book build book -W --keep-going
	@echo "serve it: $(PY) -m http.server --directory book/_build/html"

# The students' edition, made with nbgrader: an nbgrader course in build/course whose
# release/ folder holds the chapters without their solutions (the instructor's page says more).
student: $(PY)
	$(PY) tools/student_edition.py build/course

# pytest exits 5 when it collects nothing: that means the suite is broken, so it fails here too.
PYTEST = tools/pytest_or_fail.sh $(PY) -m pytest

# The inner loop, under a minute: lint, format and the unit tier (tests/conftest.py marks every
# test that is not integration, mnist or site as unit).
check: $(PY)
	$(VENV)/bin/ruff check aae_lib tests benchmarks tools
	$(VENV)/bin/ruff format --check aae_lib tests benchmarks tools
	$(PYTEST) -q -m unit

format: $(PY)
	$(VENV)/bin/ruff format aae_lib tests benchmarks tools

# Every tier: unit, integration (tiny data, the CLI as typed), real MNIST, site; then the
# notebooks twice with nbval: with the committed
# weights (cells tagged nbval-check-output must print the committed numbers), and in the smoke
# schedule, which retrains every model for one epoch on a subset to prove the training cells run.
test: $(PY)
	$(VENV)/bin/ruff check aae_lib tests benchmarks tools
	$(VENV)/bin/ruff format --check aae_lib tests benchmarks tools
	$(PYTEST)
	$(PYTEST) --nbval-lax notebooks
	AAE_SMOKE=1 AAE_CHECKPOINTS=$$(mktemp -d) $(PYTEST) --nbval-lax \
		--nbval-sanitize-with tests/nbval_smoke.cfg notebooks

bench: $(PY)
	$(VENV)/bin/aae bench

clean:
	rm -rf book/_build aae_out build

# Re-run the notebooks in place (after changing them, aae_lib or the committed weights).
notebooks: $(PY)
	$(PY) tools/execute_notebooks.py
