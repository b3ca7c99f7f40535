# Two commands do everything on a fresh machine: `make demo` and `make test`.
# uv is bootstrapped with pip when missing; the environment comes from the committed uv.lock.

UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif

DEMO_LANGUAGES ?= nld spa swh arb hin jpn
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: setup trl-env labelstudio demo test lint bench clean

setup:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

# TRL's own environment for the real-TRL test (tests/flows/test_training.py): pip, torch 2.13.0 (CPU)
# first, then the pins in tests/trl/. Rebuilt only when a pin changed; a failed build fails `make test`.
# DPO_FACTORY_SKIP_TRL=1 skips it (and the test) on machines without the CPU torch wheel.
trl-env:
	tests/trl/setup.sh

demo: setup
	$(UV) run dpo-factory run $(DEMO_LANGUAGES) --source sample --offline --out out --summary-json out/summary.json
	$(UV) run dpo-factory coverage --source sample --out out

lint: setup
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run dpo-factory validate
	$(UV) run dpo-factory deployments --check

test: lint trl-env labelstudio
	$(UV) run pytest

clean:
	rm -rf out .pytest_cache .ruff_cache .venv-trl

bench: setup labelstudio
	$(UV) run python -m benchmarks.llm_stage --json benchmarks/llm_stage.json
	$(UV) run python -m benchmarks.incremental
	$(UV) run python -m benchmarks.flow_run
	$(UV) run python -m benchmarks.data_stage
	$(UV) run python -m benchmarks.near_duplicates
	HF_HUB_OFFLINE=1 $(UV) run python -m benchmarks.reliability
	$(UV) run python -m benchmarks.review_sync

# Label Studio for the review tests, in its own virtualenv (its pins clash with ours), plus a migrated
# empty database that each test session copies (Django's migrations take a minute or two).
LABEL_STUDIO_VERSION := 1.23.2
.venv-labelstudio/ready-$(LABEL_STUDIO_VERSION):
	rm -rf .venv-labelstudio
	python3 -m venv .venv-labelstudio
	.venv-labelstudio/bin/pip install --quiet --disable-pip-version-check label-studio==$(LABEL_STUDIO_VERSION)
	tests/make_labelstudio_template.sh .venv-labelstudio .venv-labelstudio/template/label_studio.sqlite3
	touch $@

labelstudio: .venv-labelstudio/ready-$(LABEL_STUDIO_VERSION)
