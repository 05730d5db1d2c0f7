# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install lint format bench clean

run: install  ## create the venv, install, init the database, start the daemon and the web app (SQLite, console channels)
	$(BIN)/aftercare init
	$(BIN)/aftercare serve

test: install node_modules  ## run the whole test suite
	$(BIN)/pytest -n auto

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Stoplight Prism, for the test that checks our Twilio requests against Twilio's OpenAPI
# description; without npm that single test skips and says so.
node_modules: package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error && touch node_modules; \
	else echo "npm not found: the Prism contract test will be skipped"; fi

lint: install  ## ruff, mypy and the import contracts of docs/architecture.md
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy reminders
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/dispatch_throughput.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache .mypy_cache var
