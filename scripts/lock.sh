#!/bin/sh
# Regenerate the lock files the Dockerfile installs from (needs `uv`, in the dev extra).
#
#   scripts/lock.sh
#
# requirements.lock: every dependency of pyproject.toml, exact versions and sha256 hashes, for Linux
# x86_64 and Python 3.11 (the image). Torch is resolved (its own dependencies are locked) but not
# emitted, nor the CUDA packages PyPI's Linux torch pulls in: the image takes the CPU build from
# PyTorch's index instead, pinned with its hash in requirements-torch-cpu.lock (edit TORCH there).
set -eu
cd "$(dirname "$0")/.."
TORCH=2.13.0
override=$(mktemp)
trap 'rm -f "$override"' EXIT
echo "torch==$TORCH" > "$override"
# The CUDA stack of PyPI's torch wheel for Linux: never installed in the image.
cuda=$(uv pip compile pyproject.toml --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
        --override "$override" --no-header --no-annotate -q \
      | grep -E '^(nvidia-|cuda-|triton==)' | cut -d= -f1)
no_emit="--no-emit-package torch"
for name in $cuda; do no_emit="$no_emit --no-emit-package $name"; done
# shellcheck disable=SC2086
uv pip compile pyproject.toml --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --override "$override" --generate-hashes $no_emit --custom-compile-command "scripts/lock.sh" \
  -o requirements.lock
