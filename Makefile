# The README's commands: `make book`, `make test`, and `make lab` for teachers.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PROFILE ?= quick
KERNEL  ?= repro-book
LAB_ARGS ?=
ROOT_OK := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: book test env lab kernel lint notebooks clean-executed

book: env
	$(PY) -m helpers.run book --profile $(PROFILE)

test: env
	$(PY) -m pytest

env:
	bash scripts/setup_env.sh

# JupyterLab on notebooks/: kernel "Python (repro-book)" of .venv, working directory notebooks/,
# the notebooks' own defaults (the quick profile). Extra options: make lab LAB_ARGS="--no-browser --port 8899"
lab: kernel
	$(PY) -m jupyterlab --ServerApp.root_dir=notebooks \
	    --MappingKernelManager.default_kernel_name=$(KERNEL) $(ROOT_OK) $(LAB_ARGS)

kernel: env
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python ($(KERNEL))" >/dev/null

lint: env
	bash scripts/lint.sh

notebooks: env
	$(PY) -m helpers.run all --profile $(PROFILE)

clean-executed:
	rm -rf book/executed book/_build
