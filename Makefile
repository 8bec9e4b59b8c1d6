# Two entry points for a fresh machine; each builds .venv on first use.
#   make demo   train a DCGAN on the embedded digits (2 min 38 s on 2 idle CPU cores, install included: docs/results/speed.md, "The demo")
#   make test   the test suite
#   make test-inception   the standard-Inception cross-checks against torch-fidelity and
#                         pytorch-fid, in their own venv (torchvision needs torch 2.14.1 here:
#                         a ~5.5 GB CUDA build, installed from local disk)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch that this machine (and CI) install; elsewhere, install any torch>=2.6.
TORCH ?= torch==2.13.0

INC := .venv-inception
INC_TORCH ?= torch==2.14.1 torchvision==0.29.1

.PHONY: demo test test-fast test-inception docs bench gpu-check clean

$(VENV)/.installed: pyproject.toml
	@echo "[1/3] creating $(VENV)"
	$(PY) -m venv $(VENV)
	@echo "[2/3] installing $(TORCH) (set TORCH=... for another build, e.g. CUDA; README: Using a GPU)"
	$(BIN)/pip install $(TORCH)
	@echo "[3/3] installing dfmgan and its dependencies"
	$(BIN)/pip install -e '.[dev]'
	touch $@

# an earlier run is never deleted: the demo trains into runs/demo, else runs/demo-2, -3, ...
RUNS ?= runs
DEMO_FLAGS ?=
demo: $(VENV)/.installed
	@out=$(RUNS)/demo; n=1; while [ -e "$$out" ]; do n=$$((n + 1)); out=$(RUNS)/demo-$$n; done; \
	echo "training into $$out"; \
	$(BIN)/dfmgan train --preset digits --out "$$out" --threads auto $(DEMO_FLAGS) && \
	echo "samples: $$out/samples/latest.png"

# two pytest-xdist workers at a thread each (tests/conftest.py shares the cores): 1.6x the
# one-process suite's speed on 2 cores (BENCHMARKS: the test suite); TEST_JOBS=1 for one process
TEST_JOBS ?= 2
test: $(VENV)/.installed
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist worksteal

# the unit tier: no training subprocesses, under 2 minutes on an idle 2-core machine
test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist worksteal -m "not slow and not inception"

# the cross-checks against torch-fidelity and pytorch-fid, which need torchvision (and so
# another torch than the CPU one): their own venv, never an extra of dfmgan's
$(INC)/.installed: pyproject.toml
	$(PY) -m venv $(INC)
	$(INC)/bin/pip install -q $(INC_TORCH)
	$(INC)/bin/pip install -q -e '.[dev]' 'torch-fidelity>=0.3' 'pytorch-fid==0.3.0'
	touch $@

test-inception: $(INC)/.installed
	$(INC)/bin/python -m pytest -m inception tests/test_inception.py

# The documentation site, strictly: the reference pages regenerated from the code first (a
# page that changes is a stale page: CI fails on the diff), then a warning or a broken link
# fails the build. Open site/index.html; it needs no network.
docs: $(VENV)/.installed
	$(BIN)/python -m dfmgan.reference --write docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict  # not -q: it hides the warnings that --strict counts

# On a GPU machine with torch preinstalled and no network: every GPU path, one summary line.
gpu-check:
	PYTHONPATH=src $(PY) benchmarks/gpu_check.py

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/train_speed.py

clean:
	rm -rf $(VENV) $(INC) runs site
