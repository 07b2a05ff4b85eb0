#!/usr/bin/env bash
# Set up the environment (idempotent) and run every quality gate and the whole test suite:
#   ruff (lint + format check), mypy, shellcheck/hadolint when installed,
#   pytest serially (all tests, one rank per test, spread over pytest-xdist workers), and pytest
#   under `mpiexec -n 2` (tests marked `mpi`).
# Extra arguments are passed to both pytest runs (e.g. -x, -k name).
# --quick (first argument): leave out the tests marked slow (pytest -m "not slow"), for a fast
# loop while developing; CI runs everything.
set -euo pipefail
quick=()
if [[ "${1:-}" == "--quick" ]]; then
    shift
    quick=(-m "not slow")
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup-env.sh"
cd "$root"
venv="$root/.venv/bin"
# Cache the bytecode of the project's own modules (bonefem/, tests/, scripts/; __pycache__ is
# git-ignored): the suite starts about a hundred Python processes (CLI runs, mpiexec jobs), and
# each one compiled about 120 modules again without it (0.2 s of CPU per process, measured).
unset PYTHONDONTWRITEBYTECODE
export OMP_NUM_THREADS=1
# The regression references (tests/data/regression) were computed with AVX2 kernels: NumPy's
# x86-64-v3 ufuncs and OpenBLAS's Haswell kernels. NumPy's AVX-512 paths and OpenBLAS's
# SkylakeX kernels round differently in the last bit, which error-controlled substeps carry
# to 7e-5 relative (bonefem/kernels.py). On a CPU with AVX2 and FMA, pin both to the AVX2
# kernels so the references reproduce bit for bit; a value already set is kept, and
# BONEFEM_TEST_NATIVE_KERNELS=1 leaves both alone (tests/regression then compares at the
# cross-kernel tolerance).
if [[ "${BONEFEM_TEST_NATIVE_KERNELS:-0}" != "1" && "$(uname -m)" == "x86_64" ]] \
    && grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null; then
    export NPY_DISABLE_CPU_FEATURES="${NPY_DISABLE_CPU_FEATURES-X86_V4 AVX512_ICL AVX512_SPR}"
    export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE-Haswell}"
fi

step() { printf '\n==== %s ====\n' "$*"; }

step "ruff check"
"$venv/ruff" check .
step "ruff format --check"
"$venv/ruff" format --check .
step "mypy"
"$venv/mypy"
# Linters of the shell scripts and the Dockerfile: run when installed (.ci/run installs them and
# sets BONEFEM_REQUIRE_LINTERS=1, which makes a missing one an error).
missing_linter() {
    if [[ "${BONEFEM_REQUIRE_LINTERS:-0}" == "1" ]]; then
        echo "ERROR: $1 not found but BONEFEM_REQUIRE_LINTERS=1 ($2)" >&2
        exit 1
    fi
    echo "skipped: $1 not found ($2)"
}
step "shellcheck"
if command -v shellcheck >/dev/null 2>&1; then
    shell_scripts=()
    while IFS= read -r f; do
        [[ -f "$f" ]] && shell_scripts+=("$f")
    done < <(git ls-files -co --exclude-standard -- '*.sh' '*.sbatch' .ci/run 2>/dev/null \
        || find . -path ./.venv -prune -o \( -name '*.sh' -o -name '*.sbatch' \) -print)
    shellcheck -x "${shell_scripts[@]}"
    echo "${#shell_scripts[@]} scripts clean"
else
    missing_linter shellcheck "apt-get install shellcheck"
fi
step "hadolint"
# $BONEFEM_HADOLINT (set by .ci/run to the pinned install), else the pinned install of
# docker/install-lint-tools.sh, else one on PATH
pinned="${BONEFEM_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/bonefem/tools}/bin/hadolint"
if [[ -n "${BONEFEM_HADOLINT:-}" ]]; then
    hadolint="$BONEFEM_HADOLINT"
elif [[ -x "$pinned" ]]; then
    hadolint="$pinned"
else
    hadolint=$(command -v hadolint 2>/dev/null || echo "$pinned")
fi
if [[ -x "$hadolint" ]]; then
    "$hadolint" docker/Dockerfile
    echo "docker/Dockerfile clean"
else
    missing_linter hadolint "bash docker/install-lint-tools.sh"
fi
step "pytest (serial)"
# The serial tests (one rank each) run in parallel on pytest-xdist workers (BONEFEM_TEST_WORKERS,
# default: the cores, at most 4; 0 runs them in this process, e.g. for --pdb). --dist loadfile
# keeps each file on one worker (its module-scoped runs and meshes are made once), in
# collection order (system and regression files, the costly ones, first).
# (GNU nproc honours OMP_NUM_THREADS, set to 1 above: count the cores without it)
cores=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
workers="${BONEFEM_TEST_WORKERS:-$((cores < 4 ? cores : 4))}"
xdist=()
if [[ "$workers" != "0" ]]; then
    xdist=(-n "$workers" --dist loadfile --no-loadscope-reorder)
fi
"$venv/python" -m pytest tests "${xdist[@]}" "${quick[@]}" "$@"
step "pytest (mpiexec -n 2, marker mpi)"
if [[ ${#quick[@]} -gt 0 ]]; then
    "$venv/mpiexec" -n 2 "$venv/python" scripts/mpi_pytest.py tests -m "mpi and not slow" -q "$@"
else
    "$venv/mpiexec" -n 2 "$venv/python" scripts/mpi_pytest.py tests -m mpi -q "$@"
fi
step "all checks passed"
