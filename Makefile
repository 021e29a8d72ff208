# The interface to the pipeline. Every target takes ENV=local|dev|prod (default: local).
# `make demo` and `make test` start from nothing: they create .venv and install what they need.

ENV ?= local
BUDGET ?= 300
MODEL ?= mnist
MIN_GAIN ?= 0
GATE = --model $(MODEL) --min-gain $(MIN_GAIN) $(if $(FORCE),--force,)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
CDKTN := node_modules/.bin/cdktn
# Which extras of pyproject.toml .venv gets; workflows that only synthesize take EXTRAS=infra.
EXTRAS ?= infra,local,train,serve,dev

# jsii runs on the installed Node.js; 20 works, but prints a banner on every synth.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: help demo venv test lint format synth snapshot up down destroy status plan deploy load-data bench-data train bench-automl train-publish publish serve predict bench-serving

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

# checkov pins packages (packaging, networkx, boto3, ...) that clash with the project's:
# it gets an environment of its own.
$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==3.3.30

venv: $(VENV)/.installed  ## create .venv with everything the pipeline needs

# The demo reads MNIST from the shared copy when there is one (offline machines), else downloads it.
DEMO_MNIST_DIR := $(or $(MNIST_DIR),$(wildcard ../shared/data/mnist))
DEMO_BUDGET ?= 120
N ?= 10000

demo: venv  ## the whole pipeline locally: up, load-data, train-publish (DEMO_BUDGET=120 s), serve, predict
	$(MAKE) up
	$(MAKE) load-data MNIST_DIR=$(DEMO_MNIST_DIR)
	$(MAKE) train-publish BUDGET=$(DEMO_BUDGET)
	$(MAKE) serve
	$(PY) -m ml predict --env local

test: venv $(CHECKOV)  ## run the test suite (starts its own emulators on free ports)
	CHECKOV=$(abspath $(CHECKOV)) $(PY) -m pytest

lint: venv  ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	cd ml/serving/function && $(abspath $(VENV))/bin/mypy --config-file $(CURDIR)/pyproject.toml --explicit-package-bases *.py

format: venv  ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

synth: venv  ## synthesize every stack into cdktf.out/stacks/<env>/cdk.tf.json
	$(PY) main.py

snapshot: venv  ## update the committed stack snapshots after an intended infrastructure change
	$(PY) -m pytest tests/infra/test_snapshots.py --snapshot-update

up: synth  ## start the emulators and create the local stack's datasets, tables and buckets
	$(PY) -m infra.local up --env $(ENV)

load-data: venv  ## load MNIST into train/valid/test (MNIST_DIR=dir: from local IDX files; default: download)
	$(PY) -m ml data load --env $(ENV) $(if $(MNIST_DIR),--mnist-dir $(MNIST_DIR),)

train: venv  ## train AdaNet on the tables (BUDGET=seconds, default 300) and write a run directory under runs/
	$(PY) -m ml train --env $(ENV) --budget $(BUDGET)

train-publish: venv  ## train, publish, promote to production if >= champion + MIN_GAIN (FORCE=1: always)
	$(PY) -m ml train-publish --env $(ENV) --budget $(BUDGET) $(GATE)

publish: venv  ## RUN=runs/<dir>: publish a finished run without training (same gate as train-publish)
	$(if $(RUN),,$(error give RUN=runs/<run directory>))
	$(PY) -m ml publish $(RUN) --env $(ENV) $(GATE)

bench-automl: synth  ## bench/automl.py: AdaNet against a hand-written CNN at 60, 120, 300 and 600 s (about 40 min)
	$(PY) -m bench.automl

bench-serving: synth  ## bench/serving.py: the function's cold start against its TensorFlow variant, latencies
	$(PY) -m bench.serving

bench-data: synth  ## benchmark reading the images back (bench/data_read.py), on a private emulator
	$(PY) -m bench.data_read

predict: venv  ## send N test images (default all 10,000) through the endpoint: online vs recorded accuracy
	$(PY) -m ml predict --env $(ENV) --n $(N)

serve: up  ## start the predict function locally (functions-framework on :8080); it serves `production`
	$(PY) -m infra.local serve --env $(ENV)

down: venv  ## stop what `make up` started; the data stays
	$(PY) -m infra.local down --env $(ENV)

status: venv  ## what runs, where, and which resources exist
	$(PY) -m infra.local status --env $(ENV)

plan: synth  ## ENV=dev|prod: terraform plan of that environment
	$(PY) -m infra.preflight $(ENV)
	$(CDKTN) diff $(ENV)

deploy: synth  ## ENV=dev|prod: apply that environment
	$(PY) -m infra.preflight $(ENV)
	$(CDKTN) deploy $(ENV) $(if $(CI),--auto-approve,)

destroy:  ## ENV=local wipes the local cloud; ENV=dev|prod destroys it (prod needs CONFIRM=prod)
ifeq ($(ENV),local)
	$(MAKE) venv
	$(PY) -m infra.local destroy --env local
else ifeq ($(ENV),prod)
	@if [ "$(CONFIRM)" != "prod" ]; then echo "error: destroying prod needs CONFIRM=prod" >&2; exit 1; fi
	$(MAKE) synth
	$(PY) -m infra.preflight $(ENV)
	$(CDKTN) destroy $(ENV)
else
	$(MAKE) synth
	$(PY) -m infra.preflight $(ENV)
	$(CDKTN) destroy $(ENV) $(if $(CI),--auto-approve,)
endif
