#!/usr/bin/env bash
# The real-browser test in one command: Debian's chromium (apt, as root) and Playwright in a small
# venv of its own (.venv-browser: the driver only; JupyterLab and the kernels run from .venv).
#   bash tests/browser/run.sh [notebook.ipynb ...] [--full]
#   bash tests/browser/run.sh --setup     only install (make test starts this early, in the background)
set -euo pipefail
cd "$(dirname "$0")/../.."
# One installer at a time: a second run waits here for the first's chromium and venv.
mkdir -p build
exec 9> build/.browser-setup.lock
flock 9
if [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
fi
PW=1.65.2
if [ ! -f .venv-browser/.playwright-$PW ]; then
    rm -rf .venv-browser
    python3 -m venv .venv-browser
    .venv-browser/bin/python -m pip install --quiet "playwright==$PW"
    touch .venv-browser/.playwright-$PW
fi
flock -u 9
[ "${1:-}" = "--setup" ] && exit 0
exec .venv-browser/bin/python tests/browser/run_browser.py "$@"
