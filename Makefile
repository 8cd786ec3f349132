# The two commands of the README. Each sets up what it needs (a venv in .venv) on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-all lint

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ganeval demo --out reports/demo

test: $(STAMP)
	$(PY) -m pytest -q

test-all: $(STAMP)
	$(PY) -m pytest -q -m 'not network'

# Lint + import order (ruff) and types (mypy) on ganeval/ and reference_trainers/, as .ci/run and pre-commit.
lint: $(STAMP)
	$(VENV)/bin/ruff check ganeval reference_trainers
	$(VENV)/bin/mypy
