# Two commands a newcomer needs: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PIN ?= 2.13.0
STAMP := $(VENV)/.torchrig-installed

.PHONY: run test test-gpu lint install doctor selftest docs bench clean

install: $(STAMP)

# torchrig goes in first (torch is not among its dependencies); then, only when the environment has no
# torch, `torchrig env install` installs the build the plan picks for this machine (the CPU build by name
# where there is no NVIDIA GPU, else the CUDA variant the driver runs), pinned to TORCH_PIN, from the
# configured PyTorch mirror, with pip's own configuration and progress. Never an unpinned torch.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "==> pip, torchrig and its development tools into $(VENV)"
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -e ".[dev]"
	$(PY) -c "import torch" 2>/dev/null || { echo "==> torch $(TORCH_PIN), the build torchrig env plan picks"; \
		$(VENV)/bin/torchrig env install --torch $(TORCH_PIN) --interpreter $(PY); }
	touch $(STAMP)

run: install
	$(VENV)/bin/torchrig doctor; doctor=$$?; \
	$(VENV)/bin/torchrig selftest; selftest=$$?; \
	test $$doctor -eq 0 && test $$selftest -eq 0

# The borders (import-linter contracts in pyproject.toml), style and bugs (ruff), types (mypy).
lint: install
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check src tests bench recipe tools
	$(VENV)/bin/ruff format --check src tests bench recipe tools
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest
	$(VENV)/bin/mkdocs build --strict --site-dir build/site

# The GPU lane (tests/gpu, marker gpu) on a GPU machine as it is: the system interpreter with its own torch,
# no venv, nothing installed; this checkout's src first on PYTHONPATH. Without a GPU every test is skipped.
test-gpu:
	PYTHONPATH=$(CURDIR)/src$${PYTHONPATH:+:$$PYTHONPATH} $(PYTHON) -m pytest -m gpu tests/gpu -p no:cacheprovider -v

bench: install
	for b in bench/[!_]*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build site .pytest_cache
