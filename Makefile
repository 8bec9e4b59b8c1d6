# Two entry points for a fresh machine; each builds .venv on first use.
#   make demo   train a DCGAN on the embedded digits (about 3 minutes on 2 CPU cores)
#   make test   the test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch that this machine (and CI) install; elsewhere, install any torch>=2.6.
TORCH ?= torch==2.13.0

.PHONY: demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	rm -rf runs/demo
	$(BIN)/dfmgan train --preset digits --out runs/demo
	@echo "samples: runs/demo/samples/latest.png"

test: $(VENV)/.installed
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/train_speed.py

clean:
	rm -rf $(VENV) runs
