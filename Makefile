# Every target (re)creates the local virtual environment from constraints.txt when
# pyproject.toml or constraints.txt changed; the second run is a no-op.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-slurm lint architecture typecheck docs bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c constraints.txt -e ".[dev,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m torchgeo_composition.demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The study's Slurm executor on a real single-node Slurm on this machine (needs root:
# scripts/slurm-local.sh installs and starts it; idempotent).
test-slurm: $(STAMP)
	bash scripts/slurm-local.sh start
	$(BIN)/python -m pytest tests/study/test_executors_slurm.py -m slurm -p no:xdist -q

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
	rm -rf docs/_build demo_output .pytest_cache .mypy_cache
