# Two commands on a fresh machine: `make demo` and `make test`. Each builds what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= $(shell scripts/find-python.sh)
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
BIN := $(VENV)/bin
PIP_FLAGS := -q --disable-pip-version-check
export PYTHONDONTWRITEBYTECODE := 1
BUILT := .aws-sam/build/template.yaml
BUILD_INPUTS := $(shell find layers functions pipeline -type f -not -path '*/__pycache__/*' -not -name '*.pyc' 2>/dev/null)

.PHONY: help venv test lint typecheck cfn-lint sam-validate checkov build-check pytest demo bench mutation build pipeline clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	@echo "make: creating $(VENV) with $$($(PYTHON) --version) and installing the $$(grep -c '==' requirements/dev.txt) pinned packages of requirements/dev.txt (once; 1-2 minutes)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) -r requirements/dev.txt
	$(BIN)/pip install $(PIP_FLAGS) --no-deps -e .
	@echo "make: $(VENV) ready"
	touch $@

# SAM CLI and checkov pin boto3 and each other's dependencies differently: each gets its own venv.
$(SAM_VENV)/.installed: requirements/sam.txt
	@echo "make: creating $(SAM_VENV) for the SAM CLI (its own pins; once, about a minute)"
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install $(PIP_FLAGS) -r requirements/sam.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	@echo "make: creating $(CHECKOV_VENV) for checkov (its own pins; once, about a minute)"
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install $(PIP_FLAGS) -r requirements/checkov.txt
	touch $@

venv: $(VENV)/.installed  ## create .venv with the pinned dependencies

test: lint typecheck cfn-lint sam-validate checkov build-check pytest  ## lint, validate, check the build, run every test

lint: venv  ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv  ## mypy on the runtime and local packages and the mutation script
	$(BIN)/mypy
	$(BIN)/mypy scripts/mutation.py

TEMPLATES := template.yaml observability/monitoring-account.yaml

cfn-lint: venv  ## cfn-lint on both templates (the stack and the monitoring account)
	$(BIN)/cfn-lint $(TEMPLATES)

sam-validate: $(SAM_VENV)/.installed  ## sam validate --lint (offline)
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml

checkov: $(CHECKOV_VENV)/.installed  ## checkov on both templates: zero failed checks
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --skip-download --quiet --compact --framework cloudformation $(addprefix -f ,$(TEMPLATES))

# pytest exit code 5 means "no tests collected": treat it as the failure it is.
pytest: venv $(BUILT)  ## the test suite (tests/build reads the sam build output)
	$(BIN)/pytest -n 2 -p no:cacheprovider; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

demo: venv  ## run the whole loop offline on the embedded emulator
	$(BIN)/sentinel demo --out out/demo

# Writes into out/ (not tracked) unless asked: `make bench OUT=docs/BENCHMARKS.md` updates the
# committed figures; `make bench ONLY=capture` runs one section (bench/bench_capture.py).
BENCH_OUT := $(or $(OUT),out/bench/BENCHMARKS.md)
bench: venv  ## benchmarks side by side; writes out/bench/BENCHMARKS.md (OUT=docs/BENCHMARKS.md to update the docs)
	$(BIN)/python -m bench.run --out $(BENCH_OUT) $(if $(ONLY),--only $(ONLY))

$(VENV)/.mutation-installed: $(VENV)/.installed requirements/mutation.txt
	$(BIN)/pip install $(PIP_FLAGS) -c requirements/dev.txt -r requirements/mutation.txt
	touch $@

# Slow (hours: every mutant of the runtime package, the job scripts, the local RCF and the handlers
# against the tests that reach it): not part of `test`. A report: survivors do not fail it.
# Starts from scratch each time, so no verdict survives a change of code or tests.
MUTATION_CHILDREN ?= 2
mutation: $(VENV)/.mutation-installed  ## mutation testing of what ships; writes docs/MUTATION.md's figures
	rm -rf mutants
	$(BIN)/python scripts/mutation.py mutmut run --max-children $(MUTATION_CHILDREN)
	$(BIN)/python scripts/mutation.py handlers
	$(BIN)/python scripts/mutation.py report --out docs/MUTATION.md

pipeline: venv  ## regenerate the SageMaker pipeline definition (build time)
	$(BIN)/python -m pipeline.build --out pipeline/definition.json

build: $(BUILT)  ## sam build for the real runtime (python3.12 must be on PATH; no Docker)

# Rebuilt only when something that goes into the build changed (make compares the times).
$(BUILT): $(SAM_VENV)/.installed template.yaml $(BUILD_INPUTS)
	PATH="$(dir $(PYTHON)):$$PATH" $(SAM_VENV)/bin/sam build --template template.yaml
	@# Lambda's code folders are read-only, so Python cannot cache bytecode there: without .pyc files
	@# every cold start compiles the whole layer. Compile it here with the runtime's Python (3.12);
	@# unchecked-hash .pyc files stay valid whatever mtimes the zip gives the sources.
	PATH="$(dir $(PYTHON)):$$PATH" python3.12 -m compileall -q -j 0 --invalidation-mode unchecked-hash .aws-sam/build
	touch $@

build-check: venv $(BUILT)  ## every function imports on Lambda's search path; sizes vs the 250 MB limit
	$(BIN)/python -m sentinel.build_check .aws-sam/build

clean:  ## remove virtualenvs and build output
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam out mutants .mypy_cache .ruff_cache
