# modelsec-edu: two commands do all the setup.
#   make lab    create .venv with the pinned dependencies (first run only) and open the course
#   make test   the same environment, then the whole test suite (notebooks included), as CI runs it
# Override the interpreter with `make lab PYTHON=python3.12`.  `make site` builds the course site.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# tensorflow-cpu is a third of the download on Linux; macOS has only `tensorflow`.
TF     ?= $(if $(filter Linux,$(shell uname -s)),tf-cpu,tf)
EXTRAS ?= $(TF),jax,lab,dev,docs
STAMP  := $(VENV)/.installed-$(TF)
# Keep TensorFlow's C++ start-up banner (oneDNN, absl) out of every notebook's first output.
export TF_CPP_MIN_LOG_LEVEL ?= 2
# Quick mode and no network: what a learner offline would run, in minutes.
TESTENV := MODELSEC_EDU_QUICK=1 MODELSEC_EDU_OFFLINE=1
PYDIRS  := modelsec_edu tests bench notebooks solutions docs
NBVAL   := --nbval-lax --nbval-current-env --nbval-cell-timeout=600 -p no:cacheprovider

.PHONY: lab test test-unit test-notebooks test-solutions test-backend test-torch test-widgets7 test-colab \
	test-browser lint format site bench clean-venv

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "modelsec-edu needs Python >= 3.10, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	@touch $@

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/00_start_here.ipynb

# Everything CI checks, cheapest first; see README "For developers" for what each part proves.
# The chapters run two ways in CI: by the site build (nbclient, quick mode: a cell error fails it, as
# nbval's would) and under Colab's pins (a third, in a real browser, is make test-browser); the
# solutions by nbval and under Colab's pins.  `make test-notebooks` still runs chapters and
# solutions through nbval on their own.
# Every stage runs even after one fails (CI then names all the failures), each timed.
# The browser job (`make test-browser`) is not a CI stage: on a fresh clone here (load 2-4) the
# whole run with it took 2,651 s (browser 651 s), over CI's 30-minute budget.
CI_STAGES := lint test-unit test-solutions site test-backend test-torch test-widgets7 test-colab
test: $(STAMP)
	@failed=""; for t in $(CI_STAGES); do start=$$(date +%s); \
		if $(MAKE) --no-print-directory $$t; then r=passed; else r=FAILED; failed="$$failed $$t"; fi; \
		echo "== make $$t: $$r in $$(( $$(date +%s) - start )) s"; done; \
		[ -z "$$failed" ] || { echo "== failed:$$failed"; exit 1; }

lint: $(STAMP)
	$(BIN)/ruff check $(PYDIRS)
	$(BIN)/ruff format --check $(PYDIRS)

format: $(STAMP)
	$(BIN)/ruff format $(PYDIRS)

test-unit: $(STAMP)
	$(TESTENV) $(BIN)/python -m pytest tests -q -n 2 -p no:cacheprovider --ignore=tests/browser

# Every chapter and every solution notebook, two notebooks at a time (each notebook stays on one
# worker: nbval's cells depend on each other).
test-notebooks: $(STAMP)
	$(TESTENV) $(BIN)/python -m pytest notebooks solutions -q $(NBVAL) -n 2 --dist loadfile

# The solutions only (in `make test` the site build runs the chapters).
test-solutions: $(STAMP)
	$(TESTENV) $(BIN)/python -m pytest solutions -q $(NBVAL) -n 2 --dist loadfile

# The backend package and everything marked `backend`, on JAX (the GPU machine's backend) ...
test-backend: $(STAMP)
	KERAS_BACKEND=jax MODELSEC_EDU_OFFLINE=1 $(BIN)/python -m pytest tests -q -m backend -n 2 \
		-p no:cacheprovider

# ... and on PyTorch: the CPU wheel (pinned: a looser spec downloads a multi-GB CUDA build).
TORCH_STAMP := $(VENV)/.torch-2.13.0
$(TORCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0
	@touch $@

test-torch: $(TORCH_STAMP)
	KERAS_BACKEND=torch MODELSEC_EDU_OFFLINE=1 $(BIN)/python -m pytest tests -q -m backend -n 2 \
		-p no:cacheprovider
	$(TESTENV) $(BIN)/python -m pytest tests/test_outlook.py -q -s -p no:cacheprovider \
		-k "agrees_across_backends"

# Colab ships ipywidgets 7.7.1: run the widget tests against it too, shadowing 8.x via PYTHONPATH.
W7 := $(VENV)/ipywidgets7
$(W7): constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps --target $(W7) ipywidgets==7.7.1 ipython_genutils==0.2.0
	@touch $@

test-widgets7: $(STAMP) $(W7)
	PYTHONPATH=$(abspath $(W7)) $(TESTENV) $(BIN)/python -m pytest -q \
		-p no:cacheprovider $(wildcard tests/test_widgets*.py)
	PYTHONPATH=$(abspath $(W7)) $(BIN)/python -c 'import ipywidgets; assert ipywidgets.__version__ == "7.7.1", ipywidgets.__version__'

# Every notebook under Colab's own versions (TF 2.20, Keras 3.13.2, ipywidgets 7.7.1, ...), the
# package installed as the notebooks' Colab cell installs it.
test-colab:
	bash .ci/colab.sh

# Every chapter in a real browser (Debian's Chromium, Playwright): cells, console, every widget.
test-browser: $(STAMP)
	bash tests/browser/run.sh

# The course site: every chapter executed (quick mode), rendered by Sphinx, links and images checked.
site: $(STAMP)
	$(BIN)/python docs/build.py

bench: $(STAMP)
	@for f in bench/[a-z]*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean-venv:
	rm -rf $(VENV)
