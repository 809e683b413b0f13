# The two commands of the README: `make demo` and `make test`.  Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench lint clean dot

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,demo]'
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

# pytest's exit code 5 means it collected no tests: that is a failure, not a pass.
test: setup
	@$(PY) -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

# micrograd 0.1.0 (the `bench` extra) is the reference column of the table.
bench: setup
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m valuegrad bench

lint: setup
	$(PY) -m ruff check autograd nn valuegrad tests benchmarks demos

clean:
	rm -rf $(VENV) demos/out .pytest_cache .hypothesis
