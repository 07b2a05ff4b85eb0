#!/usr/bin/env bash
# Set up (or reuse) the project-local virtual environment .venv for bonefem.
#
# Idempotent: a second run checks a stamp (hash of pyproject.toml and the lock) and
# returns in about a second when nothing changed.
#
# Interpreter: scripts/find-python.sh ($BONEFEM_PYTHON if set, else the first Python >= 3.12
# among python3.13, python3.12, python3 and the pyenv / uv / conda / system install folders).
#
# DOLFINx: by default the PyPI wheel `dolfinx-solver-real` (PETSc, petsc4py, mpi4py and
# MPICH included), pinned by requirements/lock.txt. With BONEFEM_SYSTEM_DOLFINX=1 the venv
# is created with --system-site-packages and the DOLFINx of the calling environment
# (conda-forge, the official dolfinx/dolfinx container, Spack) is used instead.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="${BONEFEM_VENV:-$root/.venv}"
lock="$root/requirements/lock.txt"
system_dolfinx="${BONEFEM_SYSTEM_DOLFINX:-0}"

say() { printf '[bonefem setup] %s\n' "$*" >&2; }

stamp_of() {
    cat "$root/pyproject.toml" "$lock" 2>/dev/null | sha256sum | cut -c1-16
    echo "system_dolfinx=$system_dolfinx"
}

stamp_file="$venv/.bonefem-stamp"
if [[ -x "$venv/bin/python" && -f "$stamp_file" && "$(cat "$stamp_file")" == "$(stamp_of)" ]]; then
    exit 0
fi

py=$(bash "$root/scripts/find-python.sh") || {
    say "no Python >= 3.12 found. Install one (pyenv install 3.12, uv python install 3.12,"
    say "or conda) and rerun, or point BONEFEM_PYTHON at it."
    exit 1
}
say "using $py ($("$py" -c 'import sys; print(sys.version.split()[0])'))"

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
    rm -rf "$venv"
    if [[ "$system_dolfinx" == "1" ]]; then
        "$py" -m venv --system-site-packages "$venv"
    else
        "$py" -m venv "$venv"
    fi
fi

pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip >/dev/null
if [[ "$system_dolfinx" == "1" ]]; then
    "$venv/bin/python" -c 'import dolfinx' || {
        say "BONEFEM_SYSTEM_DOLFINX=1 but this Python has no dolfinx"
        exit 1
    }
    say "installing bonefem against the system DOLFINx"
    "${pip[@]}" install -e "${root}[test]"
else
    say "installing the pinned environment from requirements/lock.txt (first run: ~1 min)"
    "${pip[@]}" install -r "$lock"
    "${pip[@]}" install --no-deps -e "$root"
fi
stamp_of >"$stamp_file"
say "environment ready: $venv"
