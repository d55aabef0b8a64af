# The two commands of the README: `make run` and `make test`. Both start from nothing but python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
SIM_PORT ?= 8001
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint typecheck check pytest install clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --build-constraint constraints/build.txt -e '.[dev]'
	@touch $@

install: $(STAMP)

# The dashboard on http://$(HOST):$(PORT)/ with the simulator (demo data) on port $(SIM_PORT).
run: $(STAMP)
	$(PY) -m vpcepadmin.localenv var/local.env
	set -a && . ./var/local.env && set +a && exec $(PY) manage.py rundemo --host $(HOST) --port $(PORT) --simulator-port $(SIM_PORT)

# Lint, types, migrations, then the whole suite (unit, simulator, SDK conformance, browser).
test: lint typecheck check pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	VPCEPADMIN_SECRET_KEY=typecheck-only-key $(VENV)/bin/mypy vpcepadmin tests bench

check: $(STAMP)
	VPCEPADMIN_SECRET_KEY=check-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz \
	VPCEPADMIN_FERNET_KEYS=Y2hlY2stb25seS1mZXJuZXQta2V5LTAwMDAwMDAwMDA= \
	VPCEPADMIN_ALLOWED_HOSTS=localhost \
	$(PY) manage.py makemigrations --check --dry-run

pytest: $(STAMP)
	@test -x $(CHROMIUM) || { echo "Chromium is missing: the browser tests need Debian's package. Install it with 'apt-get install -y chromium' (.ci/run does)." >&2; exit 1; }
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var/static
