# Two commands for a newcomer: `make run` and `make test`. Both create .venv.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: run test test-fast bench lint format migrate superuser seed schema messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

## run: install, migrate, create the demo users, serve on http://$(HOST):$(PORT) with daphne
run: $(VENV)/.installed migrate
	@$(BIN)/python manage.py seed_demo
	@echo
	@echo "Chat is starting on http://$(HOST):$(PORT)/"
	@echo "  Open it and log in as alice, bob or carol with password 'chat-demo-pass'"
	@echo "  (two browsers, or one private window, to chat with yourself), or sign up."
	@echo "  API docs:  http://$(HOST):$(PORT)/api/docs/"
	@echo "  (API: curl -X POST http://$(HOST):$(PORT)/api/auth/token -H 'Content-Type: application/json' \\"
	@echo "         -d '{\"username\":\"alice\",\"password\":\"chat-demo-pass\"}')"
	@echo "  Admin: make superuser, then http://$(HOST):$(PORT)/admin/"
	@echo
	$(BIN)/daphne -b $(HOST) -p $(PORT) chatproject.asgi:application

# pytest with these arguments and PYTEST_ARGS; exit 5 (no tests collected) is a failure.
pytest = @$(BIN)/python -m pytest $(1) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

## test: install the test tools and run the whole suite (exit 5, no tests collected, is a failure)
test: $(VENV)/.installed-dev
	$(call pytest,)

## test-fast: the inner loop, everything but the e2e, faults and integration tiers (docs/testing.md)
test-fast: $(VENV)/.installed-dev
	$(call pytest,-m "not e2e and not faults and not integration")

$(VENV)/.installed-bench: requirements.txt requirements-dev.txt requirements-bench.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $(VENV)/.installed $(VENV)/.installed-dev $@

## bench: PostgreSQL + Redis + two server processes (daphne, then uvicorn), the
## benchmarks of docs/performance.md, a table; BENCH_ARGS="--help" for sizes
bench: $(VENV)/.installed-bench
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## lint: ruff lint and format check, and the layering contracts (pyproject.toml, docs/architecture.md)
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(VENV)/.installed
	$(BIN)/python manage.py migrate --no-input -v0

superuser: $(VENV)/.installed migrate
	$(BIN)/python manage.py createsuperuser

## seed: demo users and conversations; N=1000000 also bulk-loads N messages
seed: $(VENV)/.installed migrate
	$(BIN)/python manage.py seed_demo $(if $(N),--messages $(N))

schema: $(VENV)/.installed
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file schema.yaml

# What makemessages does not read: the environment, the tool caches, the tests and benchmarks.
MESSAGES_IGNORE := $(foreach pattern,.venv node_modules .ci bench tests staticfiles var,--ignore=$(pattern))

## messages: collect the marked strings of the templates, the Python and static/chat/*.js into
## locale/pl/LC_MESSAGES (django.po, djangojs.po), then compile them; translate the new entries
## (no empty or fuzzy msgstr: a test checks) and commit the .po and .mo files (docs/web.md "Languages")
messages: $(VENV)/.installed
	$(BIN)/python manage.py makemessages -l pl --no-obsolete --add-location=file $(MESSAGES_IGNORE)
	$(BIN)/python manage.py makemessages -d djangojs -l pl --no-obsolete --add-location=file $(MESSAGES_IGNORE)
	$(BIN)/python manage.py compilemessages -l pl $(MESSAGES_IGNORE)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
