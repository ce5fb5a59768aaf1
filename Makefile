# Two commands do everything on a fresh machine (see README.md):
#   make demo   run the weekly job on the embedded default (SQLite, outbox, a generated sample org)
#   make test   run the whole test suite
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install system-deps bench lock clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is needed: install python3.11 or run 'make PY=/path/to/python3.11 …'"; exit 2; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests use (headless Chromium for the email preview test).
system-deps:
	@bash scripts/system-deps.sh

demo: install
	$(BIN)/digest demo

test: install system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/run_all.py

lock:
	rm -rf /tmp/digest-lock && $(PY) -m venv /tmp/digest-lock
	/tmp/digest-lock/bin/pip install -e . "apache-airflow==3.3.2" "apache-airflow-providers-celery==3.26.0" "celery<5.7" apache-airflow-providers-postgres psycopg2-binary
	/tmp/digest-lock/bin/pip freeze | grep -v '^-e' > requirements.txt

clean:
	rm -rf $(VENV) var runs .pytest_cache
