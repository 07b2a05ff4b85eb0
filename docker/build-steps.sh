#!/usr/bin/env bash
# Build steps of the bonefem container images. docker/Dockerfile and docker/bonefem.def run
# them, and so do CI (.ci/run) and tests/unit/test_containers.py, so the path an image is built
# by is the path that is tested on machines where no Docker engine or Apptainer runs.
#
# Usage: bash docker/build-steps.sh STEP [PREFIX]
#
#   system          install the Debian packages of docker/apt-packages.txt (apt-get; skipped
#                   when all are installed already)
#   install PREFIX  create the virtual environment PREFIX from requirements/lock.txt and install
#                   bonefem into it (editable): exactly scripts/setup-env.sh with
#                   BONEFEM_VENV=PREFIX, the README's set-up; then check the environment: it
#                   holds exactly the lock's pins (pip freeze), `pip check` passes, every
#                   compiled library finds its system libraries (ldd)
#   verify PREFIX   the checks of `install`, then with the whole source tree in place: `bonefem
#                   version` runs, DOLFINx compiles and assembles a form serially and under
#                   `mpiexec -n 2`, and VTK renders off-screen
#   resolve PREFIX  dry run of `install`: a fresh venv PREFIX in which pip resolves the lock
#                   without installing anything; the resolution must be exactly the lock's pins
#                   (the lock is complete and consistent for this Python and platform)
#   lock            static checks of requirements/lock.txt (one exact `name==version` a line)
#
# Environment:
#   BONEFEM_IMAGE_BUILD=1  image build: no pip cache, apt lists removed after `system`, and
#                          `verify` is strict (packages beyond the lock, a missing network
#                          provider library or a failed render are errors, not warnings)
#   BONEFEM_PYTHON         the interpreter for the venv (see scripts/find-python.sh)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
lock="$root/requirements/lock.txt"
image_build="${BONEFEM_IMAGE_BUILD:-0}"

say() { printf '[bonefem build] %s\n' "$*" >&2; }
die() {
    say "ERROR: $*"
    exit 1
}
warn_or_die() {
    if [[ "$image_build" == "1" ]]; then die "$@"; else say "warning: $*"; fi
}

usage() {
    sed -n '/^# Usage/,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

# The lock's pins, one `name==version` a line (comments and blank lines dropped), sorted.
lock_pins() {
    grep -v -E '^[[:space:]]*(#|$)' "$lock" | sed 's/[[:space:]]*#.*//' | LC_ALL=C sort -f
}

# Lower-case names with runs of -_. as one '-' (PEP 503), so spellings compare equal.
normalize_pins() {
    awk -F'==' '{ n = tolower($1); gsub(/[-_.]+/, "-", n); print n "==" $2 }' | LC_ALL=C sort
}

step_lock() {
    [[ -f "$lock" ]] || die "no $lock (run scripts/lock.sh)"
    local bad
    bad=$(lock_pins | grep -v -E '^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9][A-Za-z0-9.+!_-]*$' || true)
    [[ -z "$bad" ]] || die "lines of $lock that are not an exact 'name==version' pin: $bad"
    local dup
    dup=$(lock_pins | normalize_pins | cut -d= -f1 | uniq -d)
    [[ -z "$dup" ]] || die "packages pinned twice in $lock: $dup"
    local name
    for name in dolfinx-solver-real mpi4py mpich numpy; do
        lock_pins | normalize_pins | grep -q "^$name==" || die "$lock does not pin $name"
    done
    if lock_pins | normalize_pins | grep -q -E '^(bonefem|pip)=='; then
        die "$lock must not pin bonefem or pip"
    fi
    say "lock OK: $(lock_pins | wc -l) exact pins in $lock"
}

step_system() {
    local -a pkgs missing=()
    local arch
    arch=$(dpkg --print-architecture)
    # one package a line; a second column lists the architectures it is for (e.g. amd64,arm64)
    mapfile -t pkgs < <(grep -v -E '^[[:space:]]*(#|$)' "$here/apt-packages.txt" \
        | awk -v arch="$arch" 'NF == 1 || index("," $2 ",", "," arch ",") { print $1 }')
    local p
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        say "Debian packages: all ${#pkgs[@]} installed"
    else
        local -a sudo=()
        if [[ "$(id -u)" != 0 ]]; then
            command -v sudo >/dev/null 2>&1 || die "not root and no sudo: apt-get install ${missing[*]}"
            sudo=(sudo)
        fi
        say "Debian packages: installing ${missing[*]}"
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
            --no-install-recommends "${missing[@]}" >/dev/null
    fi
    if [[ "$image_build" == "1" ]]; then
        apt-get clean
        rm -rf /var/lib/apt/lists/*
    fi
}

step_install() {
    local prefix="$1"
    step_lock
    if [[ "$image_build" == "1" ]]; then export PIP_NO_CACHE_DIR=1; fi
    BONEFEM_VENV="$prefix" bash "$root/scripts/setup-env.sh"
    check_environment "$prefix"
}

# Compiled libraries whose system dependencies must resolve: DOLFINx, PETSc and the rest of
# the solver wheel, basix, gmsh, MPICH. (VTK loads its OpenGL back end at run time: the render
# check below covers it.) MPICH's network providers are optional: warnings, except in image
# builds on x86_64, the platform docker/apt-packages.txt was made on (with ldd, as here).
check_libraries() {
    local prefix="$1" site
    site=$("$prefix/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
    local -a required=() optional=()
    mapfile -t required < <(
        find "$site/dolfinx" "$site/dolfinx_solver" "$site/basix" "$site/petsc4py" \
            "$site/mpi4py" "$prefix/lib" -maxdepth 2 -name '*.so*' -type f 2>/dev/null \
            | grep -v -E 'MPI\.openmpi|/lib/mpich/' | LC_ALL=C sort
    )
    mapfile -t optional < <(find "$prefix/lib/mpich" -name '*.so*' -type f 2>/dev/null | LC_ALL=C sort)
    ((${#required[@]} > 10)) || die "only ${#required[@]} compiled libraries found in $prefix"
    local f missing
    for f in "${required[@]}"; do
        # libmpi.so.12 is not on the search path on purpose: mpi4py dlopens it first.
        missing=$(ldd "$f" 2>/dev/null | grep 'not found' | grep -v 'libmpi\.so\.12' || true)
        [[ -z "$missing" ]] || die "$f: missing system libraries (add to docker/apt-packages.txt):
$missing"
    done
    for f in "${optional[@]}"; do
        missing=$(ldd "$f" 2>/dev/null | grep 'not found' | grep -v 'libmpi\.so\.12' || true)
        [[ -z "$missing" ]] && continue
        if [[ "$(uname -m)" == x86_64 ]]; then
            warn_or_die "MPI network provider $f cannot load:
$missing"
        else
            say "warning: MPI network provider $f cannot load: $missing"
        fi
    done
    say "libraries OK: ${#required[@]} required and ${#optional[@]} optional ones resolve"
}

SMOKE_FORM='
import sys
from bonefem._dolfinx import MPI, dolfinx, fem
import ufl
comm = MPI.COMM_WORLD
mesh = dolfinx.mesh.create_unit_cube(comm, 3, 3, 3)
V = fem.functionspace(mesh, ("Lagrange", 1))
u = fem.Function(V)
u.interpolate(lambda x: x[0] + 2.0 * x[1])
value = comm.allreduce(fem.assemble_scalar(fem.form(u * ufl.dx)), op=MPI.SUM)
assert abs(value - 1.5) < 1e-12, value
if comm.rank == 0:
    print(f"DOLFINx JIT form OK on {comm.size} rank(s): {value:.12f}")
'

SMOKE_RENDER='
import sys
import pyvista as pv
pv.OFF_SCREEN = True
p = pv.Plotter(off_screen=True, window_size=(64, 64))
p.add_mesh(pv.Sphere())
img = p.screenshot(sys.argv[1], return_img=True)
p.close()
assert img.shape[:2] == (64, 64) and img.std() > 0, img.shape
print("VTK off-screen render OK")
'

check_environment() {
    local prefix="$1"
    local py="$prefix/bin/python"
    [[ -x "$py" ]] || die "no Python environment at $prefix"
    step_lock

    # 1. the environment is the lock: same pins, nothing missing; extra packages only outside
    #    image builds (a developer's own additions to .venv), as a warning
    local frozen want missing extra
    frozen=$("$py" -m pip --disable-pip-version-check freeze --exclude bonefem --exclude pip \
        | grep -v -E '^(#|-e )' | normalize_pins)
    want=$(lock_pins | normalize_pins)
    missing=$(LC_ALL=C comm -13 <(echo "$frozen") <(echo "$want"))
    extra=$(LC_ALL=C comm -23 <(echo "$frozen") <(echo "$want"))
    local extra_names want_names
    extra_names=$(echo "$extra" | cut -d= -f1)
    want_names=$(echo "$want" | cut -d= -f1)
    if [[ -n "$missing" ]]; then
        die "$prefix differs from the lock; pinned but not installed (or another version):
$missing
installed: $(echo "$extra" | tr '\n' ' ')"
    fi
    if [[ -n "$extra" ]]; then
        local changed
        changed=$(LC_ALL=C comm -12 <(echo "$extra_names") <(echo "$want_names"))
        [[ -z "$changed" ]] || die "$prefix has other versions than the lock of: $changed"
        warn_or_die "$prefix has packages that are not in the lock: $(echo "$extra" | tr '\n' ' ')"
    fi
    "$py" -m pip --disable-pip-version-check check >/dev/null || die "pip check failed in $prefix"
    "$py" -c 'import bonefem' || die "bonefem is not installed in $prefix"
    say "environment OK: $(echo "$want" | wc -l) packages exactly as pinned, pip check passes"

    # 2. compiled libraries and their system dependencies
    check_libraries "$prefix"
}

step_verify() {
    local prefix="$1"
    local py="$prefix/bin/python"
    check_environment "$prefix"

    # 3. the program and the numerical stack, serially and on two MPI ranks. A private cache
    #    folder makes FFCx compile the form, so a missing C compiler shows up here.
    local tmp
    tmp=$(mktemp -d)
    # shellcheck disable=SC2064  # expand $tmp now: it is local to this function
    trap "rm -rf '$tmp'" EXIT
    local -a clean_env=(env -u PMI_RANK -u PMI_SIZE -u PMI_FD -u PMI_PORT -u PMI_ID
        -u PMIX_NAMESPACE -u PMIX_RANK "XDG_CACHE_HOME=$tmp/cache" "MPLCONFIGDIR=$tmp/mpl"
        OMP_NUM_THREADS=1)
    "${clean_env[@]}" "$prefix/bin/bonefem" version >"$tmp/version.txt" \
        || die "'bonefem version' failed"
    say "$(head -1 "$tmp/version.txt"); $(grep -E '^(dolfinx|petsc|python):' "$tmp/version.txt" | tr '\n' ' ')"
    "${clean_env[@]}" "$py" -c "$SMOKE_FORM" || die "DOLFINx form compilation/assembly failed (serial)"
    [[ -x "$prefix/bin/mpiexec" ]] || die "no mpiexec in $prefix/bin (the mpich wheel provides it)"
    "${clean_env[@]}" "$prefix/bin/mpiexec" -n 2 "$py" -c "$SMOKE_FORM" \
        || die "DOLFINx form assembly failed under mpiexec -n 2"

    # 4. off-screen rendering (report figures)
    if "${clean_env[@]}" VTK_DEFAULT_OPENGL_WINDOW="${VTK_DEFAULT_OPENGL_WINDOW:-vtkEGLRenderWindow}" \
        "$py" -c "$SMOKE_RENDER" "$tmp/render.png" 2>"$tmp/render.err"; then
        :
    else
        cat "$tmp/render.err" >&2
        warn_or_die "VTK cannot render off-screen (bonefem report --no-render still works)"
    fi
    say "verify OK: $prefix"
}

step_resolve() {
    local prefix="$1"
    step_lock
    local py
    py=$(bash "$root/scripts/find-python.sh") || die "no Python >= 3.12 (see scripts/find-python.sh)"
    [[ ! -e "$prefix" ]] || die "$prefix exists: resolve wants a new folder"
    "$py" -m venv "$prefix"
    local -a pip=("$prefix/bin/python" -m pip --disable-pip-version-check -q)
    "${pip[@]}" install --upgrade pip >/dev/null
    "${pip[@]}" install --dry-run --ignore-installed --report "$prefix/resolve.json" -r "$lock" \
        >/dev/null
    local got want
    got=$("$prefix/bin/python" -c '
import json, sys
for item in json.load(open(sys.argv[1]))["install"]:
    print(item["metadata"]["name"] + "==" + item["metadata"]["version"])
' "$prefix/resolve.json" | normalize_pins)
    want=$(lock_pins | normalize_pins)
    if [[ "$got" != "$want" ]]; then
        die "pip resolves the lock to something else (< resolved, > lock):
$(diff <(echo "$got") <(echo "$want") | grep -E '^[<>]')"
    fi
    say "resolve OK: pip picks exactly the $(echo "$want" | wc -l) pins of the lock with $("$py" --version)"
}

[[ $# -ge 1 ]] || usage
cmd="$1"
shift
case "$cmd" in
    lock) step_lock ;;
    system) step_system ;;
    install | verify | resolve)
        [[ $# -eq 1 ]] || usage
        prefix="$1"
        [[ "$prefix" == /* ]] || prefix="$PWD/$prefix"
        "step_$cmd" "$prefix"
        ;;
    -h | --help) usage ;;
    *) usage ;;
esac
