# The README's commands: `make book`, `make test`, and `make lab` for teachers.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PROFILE ?= quick
KERNEL  ?= repro-book
LAB_ARGS ?=
LAB_ROOT ?= notebooks
ROOT_OK := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: book test env lab kernel lint notebooks clean-executed student

book: env
	$(PY) -m helpers.run book --profile $(PROFILE)

test: env
	$(PY) -m pytest

env:
	bash scripts/setup_env.sh

# JupyterLab on notebooks/: kernel "Python (repro-book)" of .venv, working directory notebooks/,
# the notebooks' own defaults (the quick profile). Extra options: make lab LAB_ARGS="--no-browser --port 8899";
# the student edition: make student && make lab LAB_ROOT=student
# jupyterlab-myst (pinned) renders the markdown cells as the book does: {cite}, {numref}, admonitions,
# {exercise} / {solution}.
lab: kernel
	$(VENV)/bin/jupyter labextension enable jupyterlab-myst >/dev/null
	$(PY) -m jupyterlab --ServerApp.root_dir=$(LAB_ROOT) \
	    --MappingKernelManager.default_kernel_name=$(KERNEL) $(ROOT_OK) $(LAB_ARGS)

kernel: env
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python ($(KERNEL))" >/dev/null

lint: env
	bash scripts/lint.sh

notebooks: env
	$(PY) -m helpers.run all --profile $(PROFILE)

clean-executed:
	rm -rf book/executed book/_build

# The student edition: the eight notebooks without solutions and answer cells, in student/
# (git-ignored), for a teacher to hand out. Another folder: make student STUDENT_DIR=/tmp/class
STUDENT_DIR ?= student
student: env
	$(PY) -m helpers.book.student $(STUDENT_DIR)
