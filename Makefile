# Every target (re)creates the local virtual environment from constraints.txt when
# pyproject.toml or constraints.txt changed; the second run is a no-op.
# Two more lanes have their own environments: .venv-latest (Python 3.12, the current
# TorchGeo, constraints-latest.txt) and .venv-terratorch (the terratorch extra,
# constraints-terratorch.txt).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTHON312 ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)/versions/3.12.1/bin/python
LATEST := .venv-latest
LATEST_STAMP := $(LATEST)/.installed
TERRATORCH := .venv-terratorch
TERRATORCH_STAMP := $(TERRATORCH)/.installed
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: venv demo test test-slurm lint architecture typecheck docs bench clean \
	venv-latest test-latest venv-terratorch test-terratorch dist check-dist

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) -c constraints.txt -e ".[dev,docs]"
	touch $(STAMP)

# The current TorchGeo (0.10) on Python 3.12: its own environment and the whole suite.
venv-latest: $(LATEST_STAMP)

$(LATEST_STAMP): pyproject.toml constraints-latest.txt
	@test -x "$(PYTHON312)" || { echo "error: Python 3.12 not found at $(PYTHON312); \
	install it (pyenv install 3.12.1) or give its path: make PYTHON312=/path/to/python3.12" >&2; exit 2; }
	test -x $(LATEST)/bin/python || "$(PYTHON312)" -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install $(PIP_FLAGS) -c constraints-latest.txt -e ".[dev]"
	touch $(LATEST_STAMP)

test-latest: $(LATEST_STAMP)
	$(LATEST)/bin/python -m pytest -n 2 --dist loadfile

# The terratorch extra (TerraTorch 1.2.11, TorchGeo 0.8, Python 3.11) and the tests
# marked `terratorch`.
venv-terratorch: $(TERRATORCH_STAMP)

$(TERRATORCH_STAMP): pyproject.toml constraints-terratorch.txt
	test -x $(TERRATORCH)/bin/python || $(PYTHON) -m venv $(TERRATORCH)
	$(TERRATORCH)/bin/python -m pip install $(PIP_FLAGS) -c constraints-terratorch.txt \
		-e ".[dev,terratorch]"
	touch $(TERRATORCH_STAMP)

test-terratorch: $(TERRATORCH_STAMP)
	$(TERRATORCH)/bin/python -m pytest -m terratorch -p no:xdist -q

# A wheel and an sdist in dist/ (python -m build).
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

# The wheel installed into a fresh environment (with the constraints), outside the
# source tree: the console script, the vendored data and a small compose run.
check-dist: dist
	bash scripts/check-dist.sh dist constraints.txt

demo: $(STAMP)
	$(BIN)/python -m torchgeo_composition.demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The study's Slurm executor on a real single-node Slurm on this machine (needs root:
# scripts/slurm-local.sh installs and starts it; idempotent).
test-slurm: $(STAMP)
	bash scripts/slurm-local.sh start
	$(BIN)/python -m pytest tests/study/test_executors_slurm.py -m "slurm and not slow" -p no:xdist -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The layering and the absence of import cycles ([tool.importlinter] in pyproject.toml).
architecture: $(STAMP)
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf docs/_build demo_output .pytest_cache .mypy_cache build dist
