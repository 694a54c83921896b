# Two commands do all the set-up on a fresh machine (see README.md):
#   make demo   correct examples/sample.md with the offline default model
#   make test   install everything the tests need, lint, and run the whole suite
# Both are idempotent; a second run only does what is missing.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# llama-cpp-python builds from source: a portable build, about 2.5 min the first
# time; the wheel then sits in pip's cache and reinstalls in seconds.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: demo test lint lint-python lint-elisp system-deps bench clean

demo: $(BIN)/.installed
	$(BIN)/llm-flows correct examples/sample.md

test: system-deps $(BIN)/.installed-dev lint
	$(BIN)/pytest

lint: lint-python lint-elisp

lint-python: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

lint-elisp:
	editor/emacs/lint.sh

bench: $(BIN)/.installed-dev
	$(BIN)/python bench/run_all.py

# Editors and tools from Debian (skipped when already there; a busy or flaky
# mirror gets three tries, a held dpkg lock five minutes).
system-deps:
	@missing=""; \
	command -v emacs >/dev/null || missing="$$missing emacs-nox"; \
	command -v nvim  >/dev/null || missing="$$missing neovim"; \
	command -v git   >/dev/null || missing="$$missing git"; \
	ls -d /usr/share/emacs/site-lisp/elpa-src/package-lint-* >/dev/null 2>&1 || missing="$$missing elpa-package-lint"; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  echo "installing:$$missing"; \
	  apt="$$sudo env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300"; \
	  for try in 1 2 3; do \
	    $$apt update && $$apt install -y $$missing && exit 0; \
	    echo "apt-get failed (try $$try of 3)"; sleep 10; \
	  done; exit 1; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(BIN)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(BIN)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(BIN)/.installed

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
