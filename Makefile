# make plan: set everything up, then plan the bundled catalog on the dev stack, offline.
# make test: set everything up, then run the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: plan test fuzz validate render schema codeowners pictures benchmark clean

$(INSTALLED): pyproject.toml constraints.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	# KServe's storage initializer at the pinned KServe version (components/pins.py; a test checks
	# they agree), without its cloud SDKs: the tests run its S3 download against moto.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps kserve-storage==0.20.0
	touch $(INSTALLED)

plan: $(INSTALLED)
	$(BIN)/modelplane validate
	$(BIN)/modelplane plan --stack dev

test: $(INSTALLED)
	$(BIN)/python -m pytest -q

# The hostile-input property of tests/test_fuzz_catalog.py, for FUZZ_MINUTES (default 30).
FUZZ_MINUTES ?= 30
fuzz: $(INSTALLED)
	$(BIN)/python -m tests.fuzz --minutes $(FUZZ_MINUTES)

validate: $(INSTALLED)
	$(BIN)/modelplane validate

render: $(INSTALLED)
	$(BIN)/modelplane render --stack $(or $(STACK),dev) --out -

# Generated files that live in the repository: regenerate, then commit them.
schema: $(INSTALLED)
	$(BIN)/modelplane schema --out models

codeowners: $(INSTALLED)
	$(BIN)/modelplane codeowners --out .github/CODEOWNERS

# docs/pools.svg, the README's picture of the bundled prod stack's pools. Nothing compares it with
# the catalog, so a catalog pull request need not regenerate it; refresh it when you like.
pictures: $(INSTALLED)
	$(BIN)/modelplane plan --stack prod --format svg > docs/.pools.svg.tmp && mv docs/.pools.svg.tmp docs/pools.svg

benchmark: $(INSTALLED)
	$(BIN)/python benchmarks/catalog_scale.py

clean:
	rm -rf $(VENV) .pytest_cache
