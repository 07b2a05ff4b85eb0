#!/usr/bin/env bash
# Set up the environment (idempotent) and run every quality gate and the whole test suite:
#   ruff (lint + format check), mypy, shellcheck/hadolint when installed,
#   pytest serially (all tests), and pytest under `mpiexec -n 2` (tests marked `mpi`).
# Extra arguments are passed to both pytest runs (e.g. -x, -k name).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup-env.sh"
cd "$root"
venv="$root/.venv/bin"
export PYTHONDONTWRITEBYTECODE=1
export OMP_NUM_THREADS=1

step() { printf '\n==== %s ====\n' "$*"; }

step "ruff check"
"$venv/ruff" check bonefem tests benchmarks scripts docs
step "ruff format --check"
"$venv/ruff" format --check bonefem tests benchmarks scripts docs
step "mypy"
"$venv/mypy"
step "pytest (serial)"
"$venv/python" -m pytest tests "$@"
step "pytest (mpiexec -n 2, marker mpi)"
"$venv/mpiexec" -n 2 "$venv/python" scripts/mpi_pytest.py tests -m mpi -q "$@"
step "all checks passed"
