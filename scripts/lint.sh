#!/usr/bin/env bash
# The checks of .pre-commit-config.yaml, run from .venv without network (CI runs this before the
# tests: .ci/run). Fix most findings with: .venv/bin/ruff format . && .venv/bin/ruff check --fix .
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
echo "lint: ruff check"
"$PY" -m ruff check .
echo "lint: ruff format --check"
"$PY" -m ruff format --check .
echo "lint: notebooks without outputs"
"$PY" -m helpers.book.nbclean --check
echo "lint: YAML files parse"
"$PY" scripts/check_yaml.py
echo "lint: all checks passed"
