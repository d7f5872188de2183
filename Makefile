# labelaudit: `make run` sets up and starts the service; `make test` sets up and runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The CPU wheel of torch 2.13.0 lies on local disk here; pip finds it there instead of downloading a CUDA build.
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
PYTEST_ARGS ?= -n 2 --durations=15

.PHONY: setup run test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints-cpu.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(FIND_LINKS) \
		-c constraints-cpu.txt -e '.[all,test]'
	touch $(STAMP)

run: setup
	LABELAUDIT_AUTH=$${LABELAUDIT_AUTH:-off} $(BIN)/labelaudit serve

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/quality.py

clean:
	rm -rf $(VENV) .pytest_cache labelaudit-data bench/out
