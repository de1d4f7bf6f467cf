# Two commands for a new user on a fresh machine (Python >= 3.11, git, make):
#   make demo   set up, then run the main job on the bundled sample county
#   make test   set up, then run lint, type checks and the whole test suite
#   make serve  set up, then start the web app on the demo's workspace (`gridgeo serve`)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out/demo

.PHONY: demo serve test lint bench fuzz lock clean

# constraints.txt pins every dependency to the versions the tests were run with (the sample
# county is byte-identical only under the same numpy/GEOS/PROJ); refresh it with `make lock`.
$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; sys.exit("gridgeo needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

# the demo makes the sample workspace, then runs `gridgeo run` on it, which writes the map too
demo: $(BIN)/.installed
	$(BIN)/gridgeo demo --out $(OUT) --suggest-stations 3

# the web app on the demo's workspace (made first if missing); HOST, PORT, WORKERS, WORKSPACE
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
serve: $(BIN)/.installed
	$(BIN)/gridgeo serve --host $(HOST) --port $(PORT) --workers $(WORKERS) $(if $(WORKSPACE),--workspace $(WORKSPACE))

lint: $(BIN)/.installed
	$(BIN)/ruff check gridgeo api maps tests benchmarks
	$(BIN)/ruff format --check gridgeo api maps tests benchmarks
	$(BIN)/mypy gridgeo maps api

# two processes, each file's tests on one of them (module fixtures and in-file order kept)
test: lint
	$(BIN)/pytest -n 2 --dist loadfile

bench: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,bench]"
	$(BIN)/python benchmarks/bench_network.py
	$(BIN)/python benchmarks/bench_grids.py
	$(BIN)/python benchmarks/bench_geocode.py
	$(BIN)/python benchmarks/bench_assign.py
	$(BIN)/python benchmarks/bench_reach.py
	$(BIN)/python benchmarks/bench_dispatch.py
	$(BIN)/python benchmarks/bench_isochrones.py
	$(BIN)/python benchmarks/bench_plan.py
	$(BIN)/python benchmarks/bench_archive.py

# the contract fuzz of the API (issue 13): schemathesis with a login per role against a real
# uvicorn on a copy of the demo's workspace, >= 10,000 requests; the figures go to
# benchmarks/results/fuzz_api.json (a shorter run is part of make test)
fuzz: $(BIN)/.installed
	$(BIN)/python benchmarks/fuzz_api.py

lock: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .mypy_cache
