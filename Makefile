# emotiondesk developer tasks. Every target sets up .venv first if needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= ../shared/data

.PHONY: bench-analytics screenshots setup run analyze test test-fast lint typecheck bench models clean

# Two environments in one venv: `make run` needs only the service (the serve extra:
# no torch, no training stack); `make test` and the other targets need the dev extra.
SERVE_STAMP := $(VENV)/.installed-serve

$(VENV)/bin/python:
	@echo "== creating $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip --progress-bar on

$(STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "== installing emotiondesk with the dev extra (training stack, test tools)"
	$(BIN)/python -m pip install --progress-bar on -e ".[dev]"
	touch $(STAMP) $(SERVE_STAMP)

$(SERVE_STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "== installing emotiondesk with the serve extra (what the demo needs)"
	$(BIN)/python -m pip install --progress-bar on -e ".[serve]"
	touch $(SERVE_STAMP)

setup: $(STAMP)

## The main job on the embedded defaults: the service and dashboard on SQLite with the
## shipped pack, seeded with sample conversations and a review archive (Ctrl-C stops).
## Installs only the serve extra (a dev install, if present, serves as well).
run: $(SERVE_STAMP)
	$(BIN)/emotiondesk demo

## Analyse the sample messages with the shipped pack and print the results.
analyze: $(STAMP)
	$(BIN)/emotiondesk analyze --file examples/messages.txt

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not integration and not e2e"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

## Accuracy and speed figures (reads ../shared/data; says so when it is absent).
bench: $(STAMP)
	$(BIN)/python benchmarks/accuracy.py --data $(DATA)
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/dialogue_context.py --data $(DATA)
	$(BIN)/python benchmarks/train_escalation.py --data $(DATA)
	$(BIN)/python benchmarks/dialogue_speed.py
	$(BIN)/python benchmarks/cs_turns.py
	$(BIN)/python benchmarks/cs_escalation.py

## Retrain the shipped default pack from ../shared/data (USE_CACHE=DIR keeps the
## sentence embeddings on disk between runs; it must lie outside the repository).
models: $(STAMP)
	$(BIN)/python benchmarks/train_pack.py --data $(DATA) --out models $(if $(USE_CACHE),--use-cache $(USE_CACHE))

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache

## Analytics figures (issue 6): aspect accuracy, surge detection, import and query speed.
bench-analytics: $(STAMP)
	$(BIN)/python benchmarks/aspects.py
	$(BIN)/python benchmarks/surge.py --lift 2.5
	$(BIN)/python benchmarks/surge.py --lift 1.8
	$(BIN)/python benchmarks/analytics_speed.py --data $(DATA) --messages 1000000 --reps 5

## Dashboard screenshots into docs/screenshots (headless Chromium, Debian's package).
screenshots: $(STAMP)
	EMOTIONDESK_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/e2e
