# The two commands of the README: `make book` and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PROFILE ?= quick

.PHONY: book test env notebooks clean-executed

book: env
	$(PY) -m helpers.run book --profile $(PROFILE)

test: env
	$(PY) -m pytest

env:
	bash scripts/setup_env.sh

notebooks: env
	$(PY) -m helpers.run all --profile $(PROFILE)

clean-executed:
	rm -rf book/executed book/_build
