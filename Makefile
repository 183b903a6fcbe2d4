# Two entry points: `make demo` and `make test`. Both create .venv when it is missing and
# install exactly the versions pinned in requirements/lock.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/lock.txt
LATEST_VENV ?= .venv-latest
DEMO_OUT ?= demo-out
PYTEST := python -m pytest -q -p no:cacheprovider

.PHONY: demo test lint format lock test-latest bench mutate mutate-changed clean-venv browser

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tc139k demo --out $(DEMO_OUT)

test: $(STAMP) browser
	$(BIN)/$(PYTEST) tests

# The HTML report's test opens it in a real headless Chromium (Debian's package, no download
# by the tests). Installed here when missing, as root with apt-get (a fresh CI machine); where
# that cannot be done this says so, never fails, and the test skips naming the reason.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	    >/dev/null 2>&1 && echo "installed chromium (Debian package) for the HTML report's browser test"; } || \
	echo "chromium is not installed (needs root and apt-get): the HTML report's browser test will skip"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Refresh the lock after a change of pyproject ranges or of requirements/torch-pair.txt.
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --upgrade --strip-extras --no-emit-index-url --no-emit-find-links \
		--extra test --extra ray --extra dev --extra qwen --extra transnetv2 -c requirements/torch-pair.txt \
		--output-file $(LOCK) pyproject.toml

# The newest versions the pyproject ranges allow, in a venv of their own: finds drift on purpose.
test-latest:
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST_VENV)/bin/python -m pip install --quiet --upgrade -e '.[test,ray,dev,qwen,transnetv2]'
	$(LATEST_VENV)/bin/python -m pip list --format=freeze > $(LATEST_VENV)/versions.txt
	$(LATEST_VENV)/bin/$(PYTEST) tests

bench: $(STAMP)
	for b in scripts/bench_*.py; do $(BIN)/python $$b || exit 1; done

# Mutation testing before a release (not in CI: about 40 minutes); scores in docs/testing.md.
mutate: $(STAMP)
	$(BIN)/python scripts/mutate.py

mutate-changed: $(STAMP)
	$(BIN)/python scripts/mutate.py --changed

clean-venv:
	rm -rf $(VENV) $(LATEST_VENV)
