# Heichan Radar. Every target creates and uses .venv in the repo root.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast bench lint format train system-packages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/radar run

# Debian packages the browser tests need (chromium, CJK fonts); skipped when present.
system-packages:
	@bash .ci/system-packages.sh

test: install system-packages
	$(BIN)/ruff check .
	$(BIN)/pytest -q

test-fast: install
	$(BIN)/pytest -q -m "not integration and not browser"

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/fts.py --posts 100000
	$(BIN)/python bench/models.py
	$(BIN)/python bench/collect.py
	$(BIN)/python bench/detect.py
	$(BIN)/python bench/rings.py
	$(BIN)/python bench/sqlite_writer.py
	$(BIN)/python bench/stream.py

# Rebuild the corpus split, then train the classifier (detectors/model/classifier-v1.*).
train: install
	$(BIN)/python detectors/corpus/split.py
	$(BIN)/python -m detectors.train

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) radar-data .pytest_cache .ruff_cache
