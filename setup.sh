#!/usr/bin/env bash
# Create .venv and install nasbench with its test extra. CPU machines get the local CPU build
# of torch first (an unpinned torch would pull a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e '.[test]'
.venv/bin/python -c "import torch, optuna, fvcore, nasbench; print('nasbench ready: torch', torch.__version__)"
