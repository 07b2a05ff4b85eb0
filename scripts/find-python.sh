#!/usr/bin/env bash
# Print the path of a Python >= 3.12: $BONEFEM_PYTHON if set, else the first one found among
# python3.13, python3.12, python3 on PATH and the pyenv, uv, conda and system install folders.
# Exit status 1 (and a message on stderr) if there is none.
set -euo pipefail
say() { printf '[bonefem setup] %s\n' "$*" >&2; }

python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

find_python() {
    local cand
    if [[ -n "${BONEFEM_PYTHON:-}" ]]; then
        if python_ok "$BONEFEM_PYTHON"; then echo "$BONEFEM_PYTHON"; return 0; fi
        say "BONEFEM_PYTHON=$BONEFEM_PYTHON is not a Python >= 3.12"
        return 1
    fi
    local -a cands=(python3.13 python3.12 python3)
    local pyroot="${PYENV_ROOT:-$HOME/.pyenv}"
    local d
    for d in "$pyroot"/versions/3.1[2-9]* "$HOME"/.local/share/uv/python/cpython-3.1[2-9]* \
        /usr/local/bin /usr/bin /opt/conda/bin; do
        [[ -d "$d" ]] || continue
        [[ -x "$d/bin/python3" ]] && cands+=("$d/bin/python3")
        for cand in "$d"/python3.1[2-9]; do [[ -x "$cand" ]] && cands+=("$cand"); done
    done
    for cand in "${cands[@]}"; do
        local path
        path=$(command -v "$cand" 2>/dev/null) || continue
        # A pyenv shim may exist for a version that is not active: ask it directly.
        if python_ok "$path"; then
            "$path" -c 'import sys; print(sys.executable)'
            return 0
        fi
    done
    return 1
}

find_python
