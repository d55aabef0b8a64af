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
# The local env file (var/local.env) is created once, then completed with keys added since; manage.py
# reads it for every variable the environment leaves unset, here and for any later manage.py command.
run: $(STAMP)
	$(PY) -m vpcepadmin.localenv
	exec $(PY) manage.py rundemo --host $(HOST) --port $(PORT) --simulator-port $(SIM_PORT)

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

# The browser tests need Debian's chromium: installed here when missing (root or passwordless sudo).
pytest: $(STAMP)
	@.ci/ensure-chromium $(CHROMIUM)
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var/static
