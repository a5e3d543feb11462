#!/usr/bin/env bash
# Create .venv and install nasbench with its test extra. CPU machines get the local CPU build
# of torch first (an unpinned torch would pull a multi-GB CUDA build).
#   bash setup.sh          set up for using nasbench
#   bash setup.sh --test   also install Debian's chromium (the dashboard's browser test) and
#                          postgresql (the tests start a private server on loopback)
set -euo pipefail
cd "$(dirname "$0")"
if [ "${1:-}" = "--test" ]; then
    missing=()
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
    if [ ${#missing[@]} -gt 0 ]; then
        sudo_cmd=""
        [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
        $sudo_cmd apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e '.[test]'
.venv/bin/python -c "import torch, optuna, fvcore, nasbench; print('nasbench ready: torch', torch.__version__)"
