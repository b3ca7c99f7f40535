#!/usr/bin/env bash
# Build .venv-trl, the environment the real-TRL test (tests/flows/test_training.py) trains in, with pip:
# torch first and alone, then the pins of tests/trl/requirements.txt and trl==TRL_VERSION (from
# tasks/publish/cards.py), under tests/trl/constraints.txt. Kept apart from the project's uv.lock so
# torch never enters it. Does nothing when the stamp says the environment is current; rebuilds it
# from scratch when a pin changed or a build was interrupted. Any failure exits non-zero.
# DPO_FACTORY_SKIP_TRL=1 skips the build (for machines without the CPU torch wheel); the test then skips.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${DPO_FACTORY_SKIP_TRL:-}" = 1 ]; then
  echo "DPO_FACTORY_SKIP_TRL=1: not building .venv-trl; the real-TRL test will skip"
  exit 0
fi

VENV=.venv-trl
PYTHON=${PYTHON:-python3}
trl_version=$(sed -n 's/^TRL_VERSION = "\([^"]*\)".*/\1/p' tasks/publish/cards.py)
torch_pin=$(grep -E '^torch==' tests/trl/requirements.txt)
if [ -z "$trl_version" ] || [ -z "$torch_pin" ]; then
  echo "tests/trl/setup.sh: no TRL_VERSION in tasks/publish/cards.py or no torch pin in tests/trl/requirements.txt" >&2
  exit 1
fi
key=$({ "$PYTHON" --version; echo "trl==$trl_version"; cat tests/trl/requirements.txt tests/trl/constraints.txt tests/trl/setup.sh; } | sha256sum | cut -c1-16)

if [ -f "$VENV/.stamp" ] && [ "$(cat "$VENV/.stamp")" = "$key" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi

echo "building $VENV (torch, trl==$trl_version; about 2 minutes and 1.5 GB)"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip --quiet)
"${pip[@]}" install "$torch_pin" -c tests/trl/constraints.txt
"${pip[@]}" install -r tests/trl/requirements.txt "trl==$trl_version" -c tests/trl/constraints.txt
"$VENV/bin/python" -m pip check
"$VENV/bin/python" -c "import torch, trl; assert trl.__version__ == '$trl_version', trl.__version__"
echo "$key" > "$VENV/.stamp"
echo "built $VENV: $("$VENV/bin/python" -c 'import torch, transformers, trl; print(f"trl {trl.__version__}, transformers {transformers.__version__}, torch {torch.__version__}")')"
