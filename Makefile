# make lab  : set up (first time), copy the student edition into work/ (never overwriting a notebook there)
#             and open JupyterLab at work/00; `make instructor` opens the solution edition in notebooks/
# make test : set up (first time) and run the tests (ruff, unit tests, every notebook in smoke)
# make run  : set up (first time) and run every notebook headlessly in the class profile
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.labkit-installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup lab instructor run test doctor clean-runs litert-torch

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "labkit needs Python 3.11: install it, or run make PYTHON=/path/to/python3.11")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name labkit --display-name "Python (labkit)" >/dev/null
	touch $@

setup: $(STAMP)

# litert-torch (PyTorch -> .tflite in notebook 02) is not in pyproject.toml: pip cannot resolve it beside the pins
# (its xdsl caps typing-extensions below 4.13; jupyter_client needs 4.13 or later). It goes in after the pins, and
# typing-extensions is put back for Jupyter; pip then warns about xdsl's cap (the conversions ran like that).
litert-torch: $(STAMP)
	$(BIN)/python -m pip install --quiet litert-torch==0.10.0
	$(BIN)/python -m pip install --quiet typing-extensions==4.16.0

lab: $(STAMP)
	@mkdir -p work
	@for nb in student/*.ipynb; do [ -e "work/$${nb#student/}" ] || cp "$$nb" work/; done
	$(BIN)/jupyter lab work/00_setup_and_baseline.ipynb

instructor: $(STAMP)
	$(BIN)/jupyter lab notebooks/00_setup_and_baseline.ipynb

run: $(STAMP)
	$(BIN)/labkit run --profile class

test: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/python -m pytest

doctor: $(STAMP)
	$(BIN)/labkit doctor

clean-runs:
	rm -rf runs
