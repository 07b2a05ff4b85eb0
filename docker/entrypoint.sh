#!/usr/bin/env bash
# Entry point of the bonefem images (Docker ENTRYPOINT, Apptainer %runscript).
#
#   IMAGE run CASE ...          a bonefem subcommand (or an option): runs `bonefem run CASE ...`
#   IMAGE bonefem run CASE ...  any other command runs as given: bonefem, mpiexec, python, bash
#   IMAGE mpiexec -n 4 bonefem run CASE
#   IMAGE                       `bonefem --help`
#
# Arguments cases/... and meshes/... that do not exist in the working folder name the files
# bundled with the image (/opt/bonefem/cases, /opt/bonefem/meshes), so
# `IMAGE run cases/menopause_vertebra.toml` works in any mounted folder.
set -euo pipefail
bundle=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

args=()
for arg in "$@"; do
    if [[ "$arg" == cases/* || "$arg" == meshes/* ]] && [[ ! -e "$arg" && -e "$bundle/$arg" ]]; then
        arg="$bundle/$arg"
    fi
    args+=("$arg")
done
set -- "${args[@]}"

# A results folder mounted from the host must be writable by the container's user.
if [[ ! -w "$PWD" ]]; then
    printf 'bonefem image: warning: %s is not writable by uid %s; run with\n' "$PWD" "$(id -u)" >&2
    # shellcheck disable=SC2016  # printed for the user to type, not expanded here
    printf '  --user "$(id -u):$(id -g)" -v "$PWD":/work   (Docker), or from a writable folder\n' >&2
fi

case "${1:-}" in
    "") exec bonefem --help ;;
    # "test" is bonefem test (virtual mechanical tests), not the shell's test(1)
    -* | run | check | mesh | sweep | report | cases | biology | image | test | version) exec bonefem "$@" ;;
    *) exec "$@" ;;
esac
