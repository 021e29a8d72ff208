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
VERTEX_TF_VENV := .venv-vertex-tf
VERTEX_TF := $(VERTEX_TF_VENV)/.installed
CDKTN := node_modules/.bin/cdktn
# Which extras of pyproject.toml .venv gets; workflows that only synthesize take EXTRAS=infra.
EXTRAS ?= infra,local,train,serve,dev
comma := ,
FUNCTION_REQUIREMENTS ?= ml/serving/function/requirements.txt

# Every environment is installed by uv from a committed lock: uv.lock for .venv,
# tools/checkov/uv.lock for checkov's. The machine's uv is used where it has one (pyproject.toml
# says how old it may be); elsewhere this release comes from PyPI into .tools/.
UV_VERSION := 0.13.8
UV_LOCAL := .tools/uv/bin/uv
UV := $(or $(UV),$(shell command -v uv 2>/dev/null),$(UV_LOCAL))
export UV_PYTHON_DOWNLOADS := never
# uv installs modules without compiling them (compiling them all at install, as pip did, takes
# 60 s more here); Python compiles each on its first import and keeps the bytecode in .venv,
# unless the machine says PYTHONDONTWRITEBYTECODE (some CI images do): then every command
# would recompile what it imports, about 10 s of TensorFlow at each start, inside the
# training budget too.
unexport PYTHONDONTWRITEBYTECODE

# jsii runs on the installed Node.js; 20 works, but prints a banner on every synth.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: help demo venv lock audit test test-fast lint format synth snapshot up down destroy status smoke bootstrap plan deploy load-data bench-data train bench-automl bench-overhead train-publish image publish serve predict monitor report browser bench-monitor bench-jobs bench-distributed bench-serving bench-setup function-requirements

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(UV_LOCAL):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target .tools/uv uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --quiet --locked --python $(PYTHON) $(addprefix --extra ,$(subst $(comma), ,$(EXTRAS)))
	touch $@

$(CHECKOV): tools/checkov/pyproject.toml tools/checkov/uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(abspath $(CHECKOV_VENV)) $(UV) sync --quiet --locked --python $(PYTHON) --project tools/checkov
	touch $@

# Python 3.11 for it even where the pipeline runs on 3.12 (uv fetches one if the machine has none).
$(VERTEX_TF): tools/vertex-tf/pyproject.toml tools/vertex-tf/uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(abspath $(VERTEX_TF_VENV)) UV_PYTHON_DOWNLOADS=automatic $(UV) sync --quiet --locked --python 3.11 --project tools/vertex-tf
	touch $@

venv: $(VENV)/.installed  ## create .venv with everything the pipeline needs, exactly as uv.lock pins it

lock: | $(UV)  ## after editing pyproject.toml: re-resolve uv.lock (and checkov's) and export the function's requirements
	$(UV) lock
	$(UV) lock --project tools/checkov
	$(UV) lock --project tools/vertex-tf
	$(MAKE) --no-print-directory function-requirements

# The deployed function installs with pip from requirements.txt: the `function` group, exported from uv.lock.
function-requirements: | $(UV)
	$(UV) export --quiet --frozen --only-group function --no-emit-project --format requirements-txt \
		> $(FUNCTION_REQUIREMENTS).tmp && mv $(FUNCTION_REQUIREMENTS).tmp $(FUNCTION_REQUIREMENTS)

audit: | $(UV)  ## the locked Python and npm packages against known vulnerabilities (OSV, npm's advisories)
	$(UV) audit --frozen --preview-features audit-command
	$(UV) audit --frozen --preview-features audit-command --project tools/checkov
	npm audit

# The demo reads MNIST from the shared copy when there is one (offline machines), else downloads it.
DEMO_MNIST_DIR := $(or $(MNIST_DIR),$(wildcard ../shared/data/mnist))
DEMO_BUDGET ?= 120
N ?= 10000

demo: venv  ## the whole pipeline locally: up, load-data, train-publish (DEMO_BUDGET=120 s), serve, predict
	$(MAKE) up
	$(MAKE) load-data MNIST_DIR=$(DEMO_MNIST_DIR)
	$(MAKE) train-publish BUDGET=$(DEMO_BUDGET)
	$(PY) -m ml local serve --env $(ENV)
	$(PY) -m ml predict --env local

# The page test drives Debian's Chromium through its chromedriver (browsers that test tools download
# cannot be fetched offline); installed from the distribution's packages, as root or with sudo.
CHROMEDRIVER := /usr/bin/chromedriver
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(CHROMEDRIVER):
	@command -v apt-get >/dev/null || { echo "error: the page test needs Chromium and chromedriver at /usr/bin (Debian's chromium and chromium-driver packages); install them" >&2; exit 1; }
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver > /dev/null

browser: $(CHROMEDRIVER)  ## install Debian's Chromium and chromedriver for the page test (apt-get, once)

# The suite's files over two workers, each worker with its own local cloud (pytest-xdist, one file
# at a time); then, alone on the machine, the tests marked `serial`: a training budget's wall-clock
# promise and the function's memory, measured while another worker trains beside them, judge the neighbour.
TEST_WORKERS ?= 2
TEST_ENV = CHECKOV=$(abspath $(CHECKOV)) VERTEX_TF_PYTHON=$(abspath $(VERTEX_TF_VENV))/bin/python UV=$(abspath $(UV))

# The tests that need no emulator, no training and no browser: the inner loop, under a minute.
test-fast: venv  ## the tests not marked `integration`: no emulator, no training, no browser (under a minute)
	$(TEST_ENV) $(PY) -m pytest -n $(TEST_WORKERS) -m "not gcp and not integration"

test: venv $(CHECKOV) $(VERTEX_TF) $(CHROMEDRIVER)  ## run the test suite (starts its own emulators on free ports; TEST_WORKERS=2)
	$(TEST_ENV) $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not gcp and not serial"
	$(TEST_ENV) $(PY) -m pytest -m "serial and not gcp"

# The function is checked as it ships: its folder plus contracts.py, staged by infra/function_bundle.py.
FUNCTION_STAGE := build/function-source

lint: venv  ## the locks match pyproject.toml; ruff (lint + format check), mypy, and the import layers
	$(UV) lock --check --quiet
	$(UV) lock --check --quiet --project tools/checkov
	$(UV) lock --check --quiet --project tools/vertex-tf
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -c 'import pathlib, infra.function_bundle as b; b.stage(pathlib.Path("$(FUNCTION_STAGE)"))'
	cd $(FUNCTION_STAGE) && $(abspath $(VENV))/bin/mypy --config-file $(CURDIR)/pyproject.toml --explicit-package-bases *.py
	$(VENV)/bin/lint-imports --no-cache

format: venv  ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

synth: venv  ## synthesize every stack into cdktf.out/stacks/<env>/cdk.tf.json
	$(PY) main.py

snapshot: venv  ## update the committed stack snapshots after an intended infrastructure change
	$(PY) -m pytest tests/infra/test_snapshots.py --snapshot-update

up: synth  ## start the emulators and create the local stack's datasets, tables and buckets
	$(PY) -m ml local up --env $(ENV)

load-data: venv  ## load MNIST into train/valid/test (MNIST_DIR=dir: from local IDX files; default: download)
	$(PY) -m ml data load --env $(ENV) $(if $(MNIST_DIR),--mnist-dir $(MNIST_DIR),)

train: venv  ## train AdaNet on the tables (BUDGET=seconds, default 300) and write a run directory under runs/
	$(PY) -m ml train --env $(ENV) --budget $(BUDGET)

# Where it trains: RUNNER=inprocess|vertex (default: the environment's), DETACH=1 returns the job's id at once,
# MACHINE_TYPE=, ACCELERATOR= and ACCELERATOR_COUNT= override the environment's machine, REPLICAS= its replica count.
JOB = $(if $(RUNNER),--runner $(RUNNER),) $(if $(DETACH),--detach,) $(if $(MACHINE_TYPE),--machine-type $(MACHINE_TYPE),) \
	$(if $(ACCELERATOR),--accelerator $(ACCELERATOR),) $(if $(ACCELERATOR_COUNT),--accelerator-count $(ACCELERATOR_COUNT),) \
	$(if $(REPLICAS),--replicas $(REPLICAS),)

train-publish: venv  ## train (here, or as a Vertex AI job: RUNNER=vertex), publish, promote if >= champion + MIN_GAIN
	$(PY) -m ml train-publish --env $(ENV) --budget $(BUDGET) $(GATE) $(JOB)

image: venv  ## ENV=dev|prod: build the training image with Cloud Build and push it; jobs and the schedule run it
	$(PY) -m ml image --env $(ENV)

publish: venv  ## RUN=runs/<dir>: publish a finished run without training (same gate as train-publish)
	$(if $(RUN),,$(error give RUN=runs/<run directory>))
	$(PY) -m ml publish $(RUN) --env $(ENV) $(GATE)

bench-automl: synth  ## bench/automl.py: AdaNet against a hand-written CNN at 60, 120, 300 and 600 s (about 40 min)
	$(PY) -m bench.automl

bench-overhead: venv  ## bench/overhead.py: the trainer's steps/s against the same networks in a plain Keras fit
	$(PY) -m bench.overhead

bench-jobs: synth  ## bench/jobs.py: train-publish as a Vertex AI job on the local emulator against in-process, same budget
	$(PY) -m bench.jobs

bench-distributed: synth  ## bench/distributed.py: a search over 1, 2 and 3 replicas on the local emulator, side by side
	$(PY) -m bench.distributed

bench-serving: synth  ## bench/serving.py: the function's cold start against its TensorFlow variant, latencies
	$(PY) -m bench.serving

bench-setup: venv  ## bench/setup.py: make venv (uv) against pip from fresh clones, empty caches (DEMO=1: make demo too)
	$(PY) -m bench.setup $(if $(DEMO),--demo,)

bench-monitor: synth  ## bench/monitor.py: the monitor's wall time on 10k, 100k and 1M logged predictions (emulator)
	$(PY) -m bench.monitor

bench-data: synth  ## benchmark reading the images back (bench/data_read.py), on a private emulator
	$(PY) -m bench.data_read

FEEDBACK ?= 0
TRANSFORM ?= none

predict: venv  ## send N test images through the endpoint (URL=..., FEEDBACK=share labelled, TRANSFORM=invert|rotate)
	$(PY) -m ml predict --env $(ENV) --n $(N) --feedback $(FEEDBACK) --transform $(TRANSFORM) $(if $(URL),--url $(URL),)

report: venv  ## one self-contained HTML page of the model (versions, evaluations, traffic charts), uploaded too
	$(PY) -m ml report --env $(ENV)

monitor: venv  ## traffic, latency, drift and online accuracy of the served versions (WINDOW=24h); exit 3 on an alert
	$(PY) -m ml monitor --env $(ENV) $(if $(WINDOW),--window $(WINDOW),) $(if $(VERSION),--version $(VERSION),)

serve: up  ## start the predict function locally (functions-framework on :8080); it serves `production`
	$(PY) -m ml local serve --env $(ENV)

down: venv  ## stop what `make up` started; the data stays
	$(PY) -m ml local down --env $(ENV)

status: venv  ## what runs, where, and which resources exist
	$(PY) -m ml local status --env $(ENV)

smoke: synth  ## after up or deploy: every declared resource answers the identity that uses it (one line each)
	$(PY) -m ml smoke --env $(ENV)

bootstrap: venv  ## ENV=dev|prod, once, by a project admin: APIs, state bucket, accounts, CI access (GITHUB_TOKEN: GitHub variables)
	$(PY) -m ml bootstrap --env $(ENV)

plan: synth  ## ENV=dev|prod: terraform plan of that environment
	$(PY) -m ml preflight --env $(ENV)
	$(CDKTN) diff $(ENV)

# The schedules run the training image: the first deploy builds it (Cloud Build, about 10 minutes)
# into the repository it just made, so no scheduled job ever starts without one.
deploy: synth  ## ENV=dev|prod: apply that environment, and build the training image if it has none yet
	$(PY) -m ml preflight --env $(ENV)
	$(CDKTN) deploy $(ENV) $(if $(CI),--auto-approve,)
	$(PY) -m ml image --env $(ENV) --if-missing

destroy:  ## ENV=local wipes the local cloud; ENV=dev destroys it with its registry models; never a bootstrap (prod: CONFIRM=prod, models kept)
ifeq ($(ENV),local)
	$(MAKE) venv
	$(PY) -m ml local destroy --env local
else ifeq ($(ENV),prod)
	@if [ "$(CONFIRM)" != "prod" ]; then echo "error: destroying prod needs CONFIRM=prod" >&2; exit 1; fi
	$(MAKE) synth
	$(PY) -m ml preflight --env $(ENV)
	$(CDKTN) destroy $(ENV)
else
	$(MAKE) synth
	$(PY) -m ml preflight --env $(ENV)
	$(PY) -m ml models delete-all --env $(ENV)
	$(CDKTN) destroy $(ENV) $(if $(CI),--auto-approve,)
endif
