#!/usr/bin/env bash
# Colab as it really is: a venv with Colab's own pins, the package installed the way the notebooks'
# Colab cell installs it (no extras, no constraints), then every notebook (and solution) in quick mode.
#   bash .ci/colab.sh            build (or reuse) .venv-colab, check the pins, run the notebooks
#   bash .ci/colab.sh --build    only build the venv and check the pins
# The venv is reused while the pins below are unchanged (a stamp holds their digest).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${COLAB_VENV:-$ROOT/.venv-colab}
PY=${COLAB_PYTHON:-python3}
JOBS=${COLAB_JOBS:-2}
# googlecolab/backend-info pip-freeze, 2026 (Python 3.12 there; tensorflow-cpu stands in for tensorflow).
PINS="tensorflow-cpu==2.20.0 keras==3.13.2 ipywidgets==7.7.1 ipykernel==6.17.1 ipython==7.34.0
traitlets==5.7.1 jupyter_client==7.4.9 numpy==2.0.2 matplotlib==3.10.0 scikit-learn==1.6.1 tqdm==4.67.3"
# The test runner is not on Colab; it is installed under the same pins so it cannot move them.
TOOLS="pytest nbval nbclient nbformat"
DIGEST=$(printf '%s\n%s\n' "$PINS" "$TOOLS" | sha256sum | cut -c1-16)
STAMP="$VENV/.colab-$DIGEST"

# One builder at a time (make test starts `--build` early, in the background): wait for it here.
mkdir -p "$ROOT/build"
exec 9> "$ROOT/build/.colab-build.lock"
flock 9
if [ ! -f "$STAMP" ]; then
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    printf '%s\n' $PINS > "$VENV/colab-pins.txt"
    # Byte-compiled at install (in make test, in the background): with --no-compile each notebook's
    # first import compiled TensorFlow again, two at a time (00 took 34 s instead of 12)
    "$VENV/bin/python" -m pip install --quiet -r "$VENV/colab-pins.txt"
    "$VENV/bin/python" -m pip install --quiet -c "$VENV/colab-pins.txt" $TOOLS
    touch "$STAMP"
fi

# Install the course exactly as the Colab cell does (`pip install "modelsec-edu @ git+..."`): a plain,
# non-editable install with its declared dependencies resolved against what is there.
"$VENV/bin/python" -m pip freeze --exclude modelsec-edu | sort > "$VENV/freeze-before.txt"
SRC=$(mktemp -d)
trap 'rm -rf "$SRC"' EXIT
# What a git+https install builds from (the working tree's package, so it matches the notebooks run).
cp -r modelsec_edu pyproject.toml README.md LICENSE "$SRC"/
find "$SRC" -name __pycache__ -prune -exec rm -rf {} +
"$VENV/bin/python" -m pip uninstall --quiet --yes modelsec-edu 2>/dev/null || true
"$VENV/bin/python" -m pip install --quiet --no-cache-dir "$SRC"
"$VENV/bin/python" -m pip freeze --exclude modelsec-edu | sort > "$VENV/freeze-after.txt"
if ! diff -u "$VENV/freeze-before.txt" "$VENV/freeze-after.txt"; then
    echo "colab: installing modelsec-edu moved Colab's pins (diff above)" >&2
    exit 1
fi
for pin in $PINS; do
    name=${pin%%==*}; want=${pin##*==}
    have=$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$name'))")
    [ "$have" = "$want" ] || { echo "colab: $name is $have, Colab has $want" >&2; exit 1; }
done
echo "colab: pins intact after installing the course ($(wc -l < "$VENV/freeze-after.txt") packages)"
[ "${1:-}" = "--build" ] && exit 0

# A model cached by the pinned Keras, read by Colab's, and the other way round (tests/test_zoo_keras_versions.py).
if [ -x .venv/bin/python ]; then
    MODELSEC_EDU_OTHER_PYTHON="$VENV/bin/python" MODELSEC_EDU_QUICK=1 MODELSEC_EDU_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2 \
        .venv/bin/python -m pytest tests/test_zoo_keras_versions.py -q -p no:cacheprovider
fi

# Run the notebooks on a copy, away from the source tree, so the installed package is what they import.
RUN=$(mktemp -d)
trap 'rm -rf "$SRC" "$RUN"' EXIT
cp notebooks/*.ipynb "$RUN"/
if compgen -G "solutions/*.ipynb" > /dev/null; then mkdir -p "$RUN/solutions"; cp solutions/*.ipynb "$RUN/solutions/"; fi
export MODELSEC_EDU_QUICK=1 MODELSEC_EDU_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2
export MODELSEC_EDU_CACHE="$RUN/.cache/models" MODELSEC_EDU_CONFIG="$RUN/.config.json"
start=$(date +%s)
cd "$RUN"
ls *.ipynb solutions/*.ipynb 2>/dev/null | xargs -P "$JOBS" -I{} sh -c \
    'if "$0/bin/python" -m pytest "$1" -q --nbval-lax --nbval-current-env --nbval-cell-timeout=600 \
         -p no:cacheprovider --rootdir "$(dirname "$1")" > "$1.log" 2>&1
     then echo "colab: pass $1 ($(tail -1 "$1.log" | grep -o "in [0-9.]*s"))"
     else echo "colab: FAIL $1"; grep -E "^(FAILED|E )|Error" "$1.log" | head -20; touch "$1.failed"; fi' \
    "$VENV" {}
failed=$(find . -name "*.failed" | wc -l)
if [ "$failed" -ne 0 ]; then
    echo "colab: $failed notebook(s) failed under Colab's pins ($(( $(date +%s) - start )) s)" >&2
    exit 1
fi
echo "colab: every notebook passed under Colab's pins in $(( $(date +%s) - start )) s"
