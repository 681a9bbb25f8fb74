# Ferry: `make run` starts the whole stack, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROTO_FILES := $(shell find protos -name '*.proto')

.PHONY: run test protos check-protos lint clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# ffmpeg and ffprobe come from the OS packages; install them when missing (needs root).
system-deps:
	@command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || { \
	  echo "ffmpeg not found; installing it with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg; }

run: $(STAMP) system-deps
	$(BIN)/python -m tools.devstack

test: $(STAMP) system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

protos: $(STAMP)
	$(BIN)/python -m tools.protos generate

check-protos: $(STAMP)
	$(BIN)/python -m tools.protos check

lint: $(STAMP)
	$(BIN)/ruff check services tools tests

clean:
	rm -rf $(VENV) data
