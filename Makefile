# make lab  : set up (first time), copy the student edition into work/ (never overwriting a notebook there)
#             and open JupyterLab at work/00; `make instructor` opens the solution edition in notebooks/
# make test : set up (first time) and run the tests (ruff, unit tests, every notebook in smoke)
# make run  : set up (first time) and run every notebook headlessly in the class profile
# make verify: the same run, then every promise the notebooks make checked from its ledger (exit 1 if one fails)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.labkit-installed
# litert-torch cannot be installed beside Jupyter's pins (envs/litert-torch.txt says why): its own environment
CONVERTER := .venv-litert-torch
CONVERTER_STAMP := $(CONVERTER)/.labkit-installed
SETUP := $(STAMP) $(CONVERTER_STAMP)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# $(call compile_bytecode,VENV): bytecode for every module installed in VENV, compiled on all cores at once (pip would
# compile one file at a time). Without it, where PYTHONDONTWRITEBYTECODE is set, Python never writes any, and every
# kernel and test process compiled torch and TensorFlow again at start-up. A few files meant for other Python
# versions (in torch's test helpers) do not compile: nothing imports them, so their errors are not shown.
compile_bytecode = $(1)/bin/python -m compileall -qq -j 0 "$$($(1)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" || true

.PHONY: setup lab instructor run verify test doctor clean-runs

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "labkit needs Python 3.11: install it, or run make PYTHON=/path/to/python3.11")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -e ".[test]"
	$(call compile_bytecode,$(VENV))
	$(BIN)/python -m ipykernel install --sys-prefix --name labkit --display-name "Python (labkit)" >/dev/null
	touch $@

$(CONVERTER_STAMP): envs/litert-torch.txt
	test -d $(CONVERTER) || $(PYTHON) -m venv $(CONVERTER)
	$(CONVERTER)/bin/python -m pip install --quiet --upgrade pip
	$(CONVERTER)/bin/python -m pip install --quiet --no-compile -r envs/litert-torch.txt
	$(call compile_bytecode,$(CONVERTER))
	touch $@

setup: $(SETUP)

lab: $(SETUP)
	@mkdir -p work
	@for nb in student/*.ipynb; do [ -e "work/$${nb#student/}" ] || cp "$$nb" work/; done
	$(BIN)/jupyter lab work/00_setup_and_baseline.ipynb

instructor: $(SETUP)
	$(BIN)/jupyter lab notebooks/00_setup_and_baseline.ipynb

run: $(SETUP)
	$(BIN)/labkit run --profile class

verify: $(SETUP)
	$(BIN)/labkit verify --profile class

test: $(SETUP)
	$(BIN)/ruff check
	$(BIN)/python -m pytest

doctor: $(SETUP)
	$(BIN)/labkit doctor

clean-runs:
	rm -rf runs
