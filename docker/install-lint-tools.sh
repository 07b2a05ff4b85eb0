#!/usr/bin/env bash
# Install hadolint (docker/lint-requirements.txt, hash-pinned, from PyPI) into a small venv of
# its own, $BONEFEM_TOOLS (default ~/.cache/bonefem/tools), where scripts/test.sh looks for it.
# ShellCheck comes from Debian instead: apt-get install shellcheck (.ci/run does both).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="${BONEFEM_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/bonefem/tools}"
reqs="$root/docker/lint-requirements.txt"
stamp="$tools/.requirements-sha256"
want=$(sha256sum "$reqs" | cut -c1-64)
if [[ -x "$tools/bin/hadolint" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "$tools/bin/hadolint"
    exit 0
fi
py=$(bash "$root/scripts/find-python.sh")
rm -rf "$tools"
"$py" -m venv "$tools"
"$tools/bin/python" -m pip --disable-pip-version-check -q install --require-hashes -r "$reqs" >&2
"$tools/bin/hadolint" --version >&2
echo "$want" >"$stamp"
echo "$tools/bin/hadolint"
