PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench clean report-screenshot

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "python3.11 not found; set PY=/path/to/python3.11"; exit 1; }
	$(PY) -m venv $(VENV)

# The native operators (setup.py) build against the torch installed first, hence no build isolation.
$(STAMP): $(BIN)/python pyproject.toml setup.py $(wildcard src/contrarec/_native/*.cpp)
	$(BIN)/pip install --quiet --upgrade pip 'setuptools>=68' wheel
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet --no-build-isolation -e '.[test]'
	$(BIN)/python -c "from contrarec._native import native_ops_available as ok; assert ok(), 'the native operators did not build'"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/contrarec quickstart --out runs/quickstart

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf runs .pytest_cache

report-screenshot: $(STAMP)
	$(BIN)/python bench/report_screenshot.py runs/quickstart/report.html -o docs/report.png
