# flexhooks — `make run` and `make test` are the whole quick start.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: venv run test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Web server, one Celery worker and Celery beat together; one Ctrl-C stops all three.
run: export DEBUG ?= 1
run: export FLEXHOOKS_ALLOW_LOOPBACK ?= 1
run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py dev_setup
	@bash -c 'trap "kill \$$(jobs -p) 2>/dev/null; wait" EXIT INT TERM; \
	  $(PY) -m celery -A flexhooks worker --loglevel=INFO --pool=threads --concurrency=8 & \
	  $(PY) -m celery -A flexhooks beat --loglevel=INFO & \
	  $(PY) manage.py runserver 127.0.0.1:8000 & \
	  wait -n'

test: venv
	$(PY) -m pytest

lint: venv
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) var
