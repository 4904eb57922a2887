# make demo: create .venv, install, serve the demo centre on http://127.0.0.1:5000
# make test: create .venv, install, run the whole suite (SQLite always; PostgreSQL and
#            Redis when CAT_TEST_DATABASE_URL / CAT_TEST_REDIS_URL are set, as .ci/run does)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM := /usr/bin/chromium
NGINX := /usr/sbin/nginx

.PHONY: demo test test-fast lint bench clean

$(BIN)/cat-server: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/cat-server
	$(BIN)/cat-server demo

test: $(BIN)/cat-server $(CHROMIUM) $(NGINX)
	$(BIN)/pytest -ra --durations=25

# Everything except the tests that start servers and browsers.
test-fast: $(BIN)/cat-server
	$(BIN)/pytest -ra -m "not browser and not slow"

# Browser tests drive Debian's Chromium; Playwright cannot download a browser here.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq chromium; \
	else \
		echo "Browser tests need $(CHROMIUM): sudo apt-get install -y chromium" >&2; exit 1; \
	fi

# tests/test_nginx_layout.py runs Debian's nginx with docs/deploy/nginx.conf in a temp prefix.
$(NGINX):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq nginx; \
	else \
		echo "The nginx layout test needs $(NGINX): sudo apt-get install -y nginx" >&2; exit 1; \
	fi

lint: $(BIN)/cat-server
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(BIN)/cat-server
	$(BIN)/python -m benchmarks.engine

clean:
	rm -rf $(VENV) instance .pytest_cache

# Full reliability runs (issue 9; docs/RELIABILITY.md): kill -9 50 times during a
# 300-seat run, a 90 s network cut (reset and blackhole) through a TCP proxy, 900
# logins at once (3x a 300-seat peak), 5 PostgreSQL restarts of 15 s on a private
# cluster, PIN guessing among 600 logins, on SQLite and (with CAT_TEST_DATABASE_URL)
# PostgreSQL, Redis storage too with CAT_TEST_REDIS_URL. CI runs the short versions
# inside `make test`. Figures: reliability-report.jsonl.
RELIABILITY_ROUNDS ?= 50
RELIABILITY_SEATS ?= 300
.PHONY: reliability
reliability: $(BIN)/cat-server
	CAT_RELIABILITY_ROUNDS=$(RELIABILITY_ROUNDS) CAT_RELIABILITY_SEATS=$(RELIABILITY_SEATS) \
	CAT_RELIABILITY_REPORT=$(CURDIR)/reliability-report.jsonl CAT_FUZZ_EXAMPLES=10 \
	CAT_RELIABILITY_FULL=1 CAT_NETCUT_SECONDS=90 CAT_NETCUT_MODE=reset,blackhole \
	CAT_OVERLOAD_SEATS=$(RELIABILITY_SEATS) CAT_DBFAULT_ROUNDS=5 CAT_DBFAULT_DOWN_S=15 \
	CAT_DBFAULT_SEATS=20 CAT_GUESS_LEGIT_LOGINS=600 \
		$(BIN)/pytest -ra -s --timeout=14400 tests/reliability tests/security
