# The two commands of the quick start: `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
PORT   ?= 5000
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

CATALOG := vrm/translations/fr/LC_MESSAGES/messages
.PHONY: install run test soak lint openapi browser catalog clean bench bench-smoke bench-tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[postgres,server,test]'
	touch $@

install: $(STAMP) $(CATALOG).mo

# The French catalog is kept as text; the compiled .mo is built here, never committed.
$(CATALOG).mo: $(CATALOG).po $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d vrm/translations -D messages

## make catalog: after changing page text, gather every translatable string into the French
## catalog (new ones empty), then translate them; tests/test_translations.py checks it is complete
catalog: install
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k lazy_pgettext:1c,2 --no-location --sort-output \
		--project VRM -o vrm/translations/messages.pot .
	$(BIN)/pybabel update -i vrm/translations/messages.pot -d vrm/translations -D messages \
		--no-fuzzy-matching --ignore-obsolete

## make run: install, migrate the embedded SQLite database under instance/, add the demo data
## when nobody has an account yet (it prints the demo login), serve on 127.0.0.1:$(PORT)
run: install
	$(BIN)/vrm db upgrade
	$(BIN)/vrm demo --if-empty --base-url http://127.0.0.1:$(PORT)
	$(BIN)/vrm serve --with-worker --host 127.0.0.1 --port $(PORT)

## make test: install, then the whole suite on SQLite, and again on PostgreSQL when
## VRM_TEST_DATABASE_URL is set
test: install browser lint
	VRM_TEST_DATABASE_URL= $(BIN)/pytest
	@if [ -n "$$VRM_TEST_DATABASE_URL" ]; then \
		echo "--- again on PostgreSQL"; $(BIN)/pytest; \
	fi

## make soak: the long fault scenarios (minutes each), on PostgreSQL when VRM_TEST_DATABASE_URL
## is set; make test runs the short version of each
soak: install
	$(BIN)/pytest -m soak tests/reliability tests/webhooks/test_workers.py

lint: install
	$(BIN)/ruff check vrm vendor_api tests migrations
	$(BIN)/ruff format --check vrm vendor_api tests migrations

openapi: install
	$(BIN)/vrm openapi

browser:
	./scripts/install-chromium.sh

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache

## make bench: seed 10,000 people, 1,000 vendors, 100,000 subscriptions and intentions, serve
## each workload under gunicorn, drive it with wrk and print the table (ratios against two
## baselines measured in the same run); on PostgreSQL too when VRM_BENCH_DATABASE_URL is set
bench: install bench-tools
	$(BIN)/pip install --quiet -e '.[postgres,server,test,bench]'
	$(BIN)/python -m bench.run

## make bench-smoke: the same on a tiny data set with seconds of load (tests run it too)
bench-smoke: install bench-tools
	$(BIN)/python -m bench.run --smoke --sqlite-only

bench-tools:
	./scripts/install-bench-tools.sh

.PHONY: audit
## make audit: check the installed dependencies against known vulnerabilities (pip-audit asks
## PyPI's vulnerability data); --strict fails when a package could not be checked at all
audit: install
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off

.PHONY: fuzz
## make fuzz: Schemathesis against a live server with every check, far longer than the bounded
## run in `make test` (VRM_FUZZ_EXAMPLES examples per operation and per workflow)
FUZZ_EXAMPLES ?= 200
fuzz: install
	VRM_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -p no:cacheprovider tests/test_schemathesis.py
