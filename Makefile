# `make book` and `make test` work on a fresh machine with only Python 3:
# they create .venv and install the project into it first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SOURCES := $(sort $(wildcard content/*.md))
PUBLISHER := $(BIN)/publisher

.PHONY: help setup book book-text test test-fast corpus check lint bench clean

help:
	@echo "make book   build every book in content/ (offline voices) into output/"
	@echo "make test   run the test suite"
	@echo "make corpus the real-documents corpus alone, every file built text-only and narrated (slow)"
	@echo "make check  validate the built books with EPUBCheck (and DAISY Ace if installed)"
	@echo "make bench  measure build speed (see README, Performance)"
	@echo "make lint   ruff and mypy"
	@echo "make clean  remove output/ (keeps the clip cache)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# py3langid's model kept decompressed in the environment (publisher/identify.py)
	$(BIN)/python -c "from publisher import identify; identify.prepare()"
	touch $(STAMP)

setup: $(STAMP)

book: $(STAMP)
	$(PUBLISHER) build $(SOURCES)

book-text: $(STAMP)
	$(PUBLISHER) build --no-audio $(SOURCES)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=30

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not slow"

# The corpus check alone (make test runs it too, as CI does).
corpus: $(STAMP)
	$(BIN)/python -m pytest -n 2 --durations=10 tests/test_corpus.py

check: $(STAMP)
	$(PUBLISHER) check output/*/*.epub

lint: $(STAMP)
	$(BIN)/ruff check publisher tests
	$(BIN)/mypy publisher

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	find output -mindepth 1 -maxdepth 1 ! -name .gitkeep ! -name .cache -exec rm -rf {} +
