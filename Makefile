# modelsec-edu: two commands do all the setup.
#   make lab    create .venv with the pinned dependencies (first run only) and open the course
#   make test   the same environment, then the whole test suite (notebooks included)
# Override the interpreter with `make lab PYTHON=python3.12`.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# tensorflow-cpu is a third of the download on Linux; macOS has only `tensorflow`.
TF     ?= $(if $(filter Linux,$(shell uname -s)),tf-cpu,tf)
EXTRAS ?= $(TF),jax,lab,dev
STAMP  := $(VENV)/.installed-$(TF)
# Keep TensorFlow's C++ start-up banner (oneDNN, absl) out of every notebook's first output.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: lab test test-unit test-notebooks test-backend test-widgets7 lint bench clean-venv

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "modelsec-edu needs Python >= 3.10, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	@touch $@

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/00_start_here.ipynb

# Quick mode and no network: what a learner offline would run, in minutes.
test: $(STAMP)
	$(MAKE) lint test-unit test-notebooks test-backend test-widgets7

test-unit: $(STAMP)
	MODELSEC_EDU_QUICK=1 MODELSEC_EDU_OFFLINE=1 $(BIN)/python -m pytest tests -q

test-notebooks: $(STAMP)
	MODELSEC_EDU_QUICK=1 MODELSEC_EDU_OFFLINE=1 $(BIN)/python -m pytest notebooks -q \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=600 -p no:cacheprovider

# The backend-specific module and the attacks again on JAX (the GPU machine has no TensorFlow).
test-backend: $(STAMP)
	KERAS_BACKEND=jax MODELSEC_EDU_OFFLINE=1 $(BIN)/python -m pytest tests -q -m backend

# Colab ships ipywidgets 7.7.1: run the widget tests against it too, shadowing 8.x via PYTHONPATH.
W7 := $(VENV)/ipywidgets7
$(W7): constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps --target $(W7) ipywidgets==7.7.1 ipython_genutils==0.2.0
	@touch $@

test-widgets7: $(STAMP) $(W7)
	PYTHONPATH=$(abspath $(W7)) MODELSEC_EDU_QUICK=1 MODELSEC_EDU_OFFLINE=1 $(BIN)/python -m pytest -q \
		-p no:cacheprovider $(wildcard tests/test_widgets*.py)
	PYTHONPATH=$(abspath $(W7)) $(BIN)/python -c 'import ipywidgets; assert ipywidgets.__version__ == "7.7.1", ipywidgets.__version__'

lint: $(STAMP)
	$(BIN)/ruff check modelsec_edu tests bench notebooks

bench: $(STAMP)
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean-venv:
	rm -rf $(VENV)
