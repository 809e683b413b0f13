# The two commands of the README: `make demo` and `make test`.  Both set up .venv first.
# Also: make quick (the suite without `slow` tests), make lint (ruff on the whole repository +
# mypy), make pictures (docs/ and docs/figures.json), make test-all (the suite on every Python
# 3.10-3.13 found), make wheel-check (sdist + wheel, installed outside the repository), make bench.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS := dev,demo
# make test-all: the versions to try; CI passes the ones `make test` did not already run.
PYTHONS ?= 3.10 3.11 3.12 3.13
# make test-all PYTEST_ARGS='-m "not slow"': the fast lane on every Python.
PYTEST_ARGS ?=

.PHONY: setup demo pictures test quick bench lint test-all wheel-check clean dot

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

setup: $(STAMP) dot

# The `dot` binary renders graphs; install it when we are root and it is missing.
dot:
	@if ! command -v dot >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing graphviz (dot)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
	      || echo "could not install graphviz; graph pictures will be skipped"; \
	  else \
	    echo "note: 'dot' (graphviz) is not installed; install it with 'sudo apt-get install graphviz'," \
	         "'brew install graphviz' or 'conda install graphviz' to render graph pictures"; \
	  fi; \
	fi

demo: setup
	$(PY) -m valuegrad demo

# Redraw every picture in docs/ and record every demo run (output, CPU time) in docs/figures.json,
# which tests/test_docs.py checks the docs' figures against. Minutes: it times `make demo` too.
pictures: setup
	$(PY) -m valuegrad.pictures docs

# pytest-xdist (the dev extra): a worker per core.  The tests that read one shared expensive run
# (the docs' demo commands, the quick benchmark) go to one worker, so each still runs once
# (tests/conftest.py's SHARED_RUN_MODULES).  `make test PARALLEL=` runs in one process; quick and
# test-all use it too.
PARALLEL ?= -n auto

# pytest's exit code 5 means it collected no tests: that is a failure, not a pass.
test: setup
	@$(PY) -m pytest $(PARALLEL); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

# The fast lane: everything except the tests marked slow (CLI, demos, benchmark, notebook, subprocesses).
quick: setup
	@$(PY) -m pytest $(PARALLEL) -m "not slow"; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make quick: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

# micrograd 0.1.0 (the `bench` extra) is the reference column of the table.
bench: setup
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m valuegrad bench

# ruff: the whole repository, docs/tutorial.ipynb included (pyproject's extend-include).
# The core (rule table, Value, engine, mode) is held to mypy --strict; the rest to mypy's defaults.
lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy autograd nn valuegrad
	$(PY) -m mypy --strict --follow-imports=silent autograd/ops.py autograd/value.py autograd/engine.py autograd/mode.py

# The suite on each Python of PYTHONS that this machine has (pyenv's ~/.pyenv/versions/3.1x.*
# first, then python3.1x on PATH), each in its own .venv-3.1x; absent ones are skipped with a line.
test-all: dot
	@failed=""; ran=""; \
	for version in $(PYTHONS); do \
	  interpreter=$$(ls -d $$HOME/.pyenv/versions/$$version.*/bin/python 2>/dev/null | sort -V | tail -n 1); \
	  [ -n "$$interpreter" ] || interpreter=$$(command -v python$$version 2>/dev/null || true); \
	  if [ -z "$$interpreter" ] || ! "$$interpreter" -c 'import sys' >/dev/null 2>&1; then \
	    echo "make test-all: Python $$version not found (pyenv or python$$version on PATH): skipped"; continue; \
	  fi; \
	  venv=.venv-$$version; \
	  echo "make test-all: Python $$version ($$interpreter) in $$venv"; \
	  if [ ! -f $$venv/.installed ] || [ pyproject.toml -nt $$venv/.installed ]; then \
	    "$$interpreter" -m venv $$venv && $$venv/bin/python -m pip install --quiet --upgrade pip \
	      && $$venv/bin/python -m pip install --quiet -e '.[$(EXTRAS)]' && touch $$venv/.installed \
	      || { failed="$$failed $$version(install)"; continue; }; \
	  fi; \
	  $$venv/bin/python -m pytest -q -p no:cacheprovider $(PARALLEL) $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 0 ]; then ran="$$ran $$version"; else failed="$$failed $$version(pytest exit $$status)"; fi; \
	done; \
	echo "make test-all: passed on:$${ran:- none}; failed on:$${failed:- none}"; \
	[ -z "$$failed" ]

# Build the sdist and the wheel; run the fast suite from the unpacked sdist; install the wheel into
# a fresh venv outside the repository and run the demo and the README's examples there.
wheel-check: setup
	.ci/check-wheel $(PY)

clean:
	rm -rf $(VENV) .venv-3.1* demos/out .pytest_cache .hypothesis dist build
