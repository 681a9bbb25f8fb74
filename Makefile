# Ferry: `make run` starts the whole stack, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROTO_FILES := $(shell find protos -name '*.proto')
# apt-get needs root, so use sudo when it is installed and we are not root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)

.PHONY: run test bench protos check-protos configdoc lint clean system-deps

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "Ferry needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) -V 2>&1)." \
	       "Run make with PYTHON=python3.11 (or newer)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# ffmpeg and ffprobe come from the OS packages; install them when missing (needs root).
system-deps:
	@command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || { \
	  echo "ffmpeg not found; installing it with apt-get"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg; }

run: $(STAMP) system-deps
	@$(BIN)/python -m tools.devstack

# The generated protos are checked first: stale code fails the run before any test starts.
test: $(STAMP) system-deps check-protos
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

# Ferry against plain yt-dlp on the same downloads (docs/benchmarks.md);
# `make bench BENCH_ARGS=--quick` takes about two minutes.
bench: $(STAMP) system-deps
	$(BIN)/python -m bench.compare_ytdlp $(BENCH_ARGS)

protos: $(STAMP)
	$(BIN)/python -m tools.protos generate

check-protos: $(STAMP)
	$(BIN)/python -m tools.protos check

configdoc: $(STAMP)
	$(BIN)/python -m tools.configdoc > docs/configuration.md

lint: $(STAMP)
	$(BIN)/ruff check services tools tests bench

clean:
	rm -rf $(VENV) data
