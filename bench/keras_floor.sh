#!/usr/bin/env bash
# The oldest Keras the course supports (Colab's 3.13.2), in a throwaway venv: bench/ship_models.py
# saves the shipped models with it, tests/test_zoo_keras_versions.py reads them back with it.
#   bash bench/keras_floor.sh [/tmp/k3132]      then  MODELSEC_EDU_OTHER_PYTHON=/tmp/k3132/bin/python
set -euo pipefail
VENV=${1:-/tmp/k3132}
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet keras==3.13.2 tensorflow-cpu==2.20.0 numpy==2.0.2 h5py \
    scipy scikit-learn==1.6.1 "model-signing>=1.1.1" pyopenssl
"$VENV/bin/python" -c "import keras; print('Keras', keras.__version__, 'in', '$VENV')"
