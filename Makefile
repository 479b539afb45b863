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
	test-browser site-browser lint format site bench clean-venv

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "modelsec-edu needs Python >= 3.10, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	@touch $@

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/00_start_here.ipynb

# Everything CI checks; see README "For developers" for what each part proves.
# Every chapter runs twice: in a real browser on the pinned stack, saved as it ran, and the course
# site is rendered from those copies (site-browser); then under Colab's pins by nbval, with every
# solution (test-colab).  Chromium, Playwright and the Colab venv install in the background while
# the unit tests run (each installer holds a lock, so the stage that needs it waits for it).  Not
# during the browser stage: there the installs' CPU slowed the notebooks more than it saved.
# Every stage runs even after one fails (CI then names all the failures), each timed.
# (Before this shape a fresh-clone run took 2,043 s on CI, over its 30 minutes: the site build, the
# Colab run and the solutions on the pinned stack each executed the notebooks again.)
CI_STAGES := lint test-unit site-browser test-backend test-torch test-widgets7 test-colab
test: $(STAMP)
	@mkdir -p build; \
		(bash tests/browser/run.sh --setup > build/browser-setup.log 2>&1 &); \
		(bash .ci/colab.sh --build > build/colab-build.log 2>&1 &); \
		failed=""; for t in $(CI_STAGES); do start=$$(date +%s); \
		if $(MAKE) --no-print-directory $$t; then r=passed; else r=FAILED; failed="$$failed $$t"; fi; \
		echo "== make $$t: $$r in $$(( $$(date +%s) - start )) s"; done; \
		[ -z "$$failed" ] || { echo "== failed:$$failed"; exit 1; }

lint: $(STAMP)
	$(BIN)/ruff check $(PYDIRS)
	$(BIN)/ruff format --check $(PYDIRS)

format: $(STAMP)
	$(BIN)/ruff format $(PYDIRS)

# (The three-backend agreement test spawns JAX and PyTorch runs: test-torch runs it, once.)
test-unit: $(STAMP)
	$(TESTENV) $(BIN)/python -m pytest tests -q -n 2 -p no:cacheprovider \
		--ignore=tests/browser \
		--deselect tests/test_outlook.py::test_one_model_one_attack_agrees_across_backends

# Every chapter and every solution notebook, two notebooks at a time (each notebook stays on one
# worker: nbval's cells depend on each other).
test-notebooks: $(STAMP)
	$(TESTENV) $(BIN)/python -m pytest notebooks solutions -q $(NBVAL) -n 2 --dist loadfile

# The solutions only, on the pinned stack (`make test` runs them under Colab's pins).
test-solutions: $(STAMP)
	$(TESTENV) $(BIN)/python -m pytest solutions -q $(NBVAL) -n 2 --dist loadfile

# The backend package and everything marked `backend`, on JAX (the GPU machine's backend) ...
test-backend: $(STAMP)
	KERAS_BACKEND=jax MODELSEC_EDU_OFFLINE=1 $(BIN)/python -m pytest tests -q -m backend -n 2 \
		-p no:cacheprovider

# ... and on PyTorch: the CPU wheel (pinned: a looser spec downloads a multi-GB CUDA build).
TORCH_STAMP := $(VENV)/.torch-2.13.0
$(TORCH_STAMP): $(STAMP)
	@mkdir -p build; flock build/.torch-install.lock sh -c '[ -f $@ ] || \
		{ $(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0 && touch $@; }'

# On PyTorch, CI runs the backend package's own tests (every function of its interface) and the
# three-backend agreement; the attack-level `backend` tests run on JAX above.  For all of them on
# torch: make test-torch TORCH_TESTS=tests.  (The whole set on torch took 171 s here; CI's 30
# minutes could not hold it.)
TORCH_TESTS ?= tests/test_backend.py
test-torch: $(TORCH_STAMP)
	KERAS_BACKEND=torch MODELSEC_EDU_OFFLINE=1 $(BIN)/python -m pytest $(TORCH_TESTS) -q -m backend \
		-n 2 -p no:cacheprovider
	$(TESTENV) $(BIN)/python -m pytest tests/test_outlook.py -q -s -p no:cacheprovider \
		-k "agrees_across_backends"

# Colab ships ipywidgets 7.7.1: run the widget tests against it too, shadowing 8.x via PYTHONPATH.
W7 := $(VENV)/ipywidgets7
$(W7): constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps --target $(W7) ipywidgets==7.7.1 ipython_genutils==0.2.0
	@touch $@

test-widgets7: $(STAMP) $(W7)
	PYTHONPATH=$(abspath $(W7)) $(TESTENV) $(BIN)/python -m pytest -q -n 2 \
		-p no:cacheprovider $(wildcard tests/test_widgets*.py)
	PYTHONPATH=$(abspath $(W7)) $(BIN)/python -c 'import ipywidgets; assert ipywidgets.__version__ == "7.7.1", ipywidgets.__version__'

# Every notebook under Colab's own versions (TF 2.20, Keras 3.13.2, ipywidgets 7.7.1, ...), the
# package installed as the notebooks' Colab cell installs it.  (Not in a browser: JupyterLab 4's
# widget manager cannot draw ipywidgets 7's models; Colab's own front end draws them.)
test-colab:
	bash .ci/colab.sh

# Every chapter in a real browser on the pinned stack (Debian's Chromium, Playwright): cells,
# console, every widget moved and timed.
test-browser: $(STAMP)
	bash tests/browser/run.sh --lanes 2

# CI's site: the browser's run of every chapter, saved as it ran, rendered by Sphinx, links checked.
site-browser: $(STAMP)
	@rm -rf build/executed; status=0; \
		bash tests/browser/run.sh --lanes 2 --save build/executed || status=1; \
		$(BIN)/python docs/build.py --reuse || status=1; exit $$status

# The course site: every chapter executed (quick mode), rendered by Sphinx, links and images checked.
site: $(STAMP)
	$(BIN)/python docs/build.py

bench: $(STAMP)
	@for f in bench/[a-z]*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean-venv:
	rm -rf $(VENV)
