#!/usr/bin/env bash
# A parameter sweep as a SLURM job array, with `bonefem sweep` (the same implementation as a
# local sweep): one run folder per point, a summary sweep.csv and one report over the runs.
#
# Usage: docker/slurm/sweep.sh [options] CASE --set KEY=V1,V2,... [--set ...] [-- SBATCH_OPTIONS...]
#
#   # denosumab started 1, 3 and 5 years after the FMP, 3-year courses, 16 ranks per run:
#   docker/slurm/sweep.sh --zip cases/denosumab_vertebra.toml \
#       --set biology.denosumab.0.start_days=365.25,1095.75,1826.25 \
#       --set biology.denosumab.0.stop_days=1461,2191.5,2922 -- --ntasks=16 --time=08:00:00
#
# Options:
#   --dir DIR          sweep folder (default sweeps/<case name>)
#   --set KEY=V1,...   a case field and its values (TOML, comma-separated; repeatable); keys
#                      with several values are swept (cartesian product), one value: every point
#   --zip              pair the value lists element by element instead of crossing them
#   --max-parallel N   at most N array tasks at the same time
#   --local            no SLURM: run the points here (--jobs at a time), then the report
#   --jobs N           local runs at the same time (with --local; default 1)
#   --dry-run          check the case with every point's overrides and write the job scripts,
#                      print the sbatch commands, submit nothing
#
# What it does: `bonefem sweep CASE --set ... --output DIR --slurm` checks every point and
# writes DIR/sweep.json, DIR/sweep.sbatch (the array: task I runs `bonefem sweep ... --index I`)
# and DIR/sweep-report.sbatch (sweep.csv + `bonefem report` of the finished runs into
# DIR/report/). Then three jobs: `bonefem check CASE` through run.sbatch (builds the mesh once
# into the mesh cache, so the tasks do not all mesh at the same time), the array (afterok) and
# the report (afterany: a failed task leaves the others in the report). Logs go to DIR/logs/.
# Submitting the same sweep again resumes: finished points are skipped, stopped ones restart
# from their checkpoints.
#
# Environment: BONEFEM_IMAGE (default ./bonefem.sif; "none" = the bonefem on PATH), and every
# setting of run.sbatch (BONEFEM_SRUN_MPI, APPTAINER_OPTS, ...).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { printf '[bonefem sweep] %s\n' "$*" >&2; }
die() {
    say "ERROR: $*"
    exit 2
}
usage() {
    sed -n '/^# Usage/,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

dir="" max_parallel="" mode=submit jobs=1 case_=""
sweep_opts=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) dir="$2"; shift 2 ;;
        --set) sweep_opts+=(--set "$2"); shift 2 ;;
        --zip) sweep_opts+=(--zip); shift ;;
        --max-parallel) max_parallel="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        --local) mode=local; shift ;;
        --dry-run) mode=dry-run; shift ;;
        -h | --help) usage ;;
        --) shift; break ;;
        -*) die "unknown option $1" ;;
        *)
            [[ -z "$case_" ]] || die "one case only (got $case_ and $1)"
            case_="$1"
            shift
            ;;
    esac
done
sbatch_opts=("$@")
[[ -n "$case_" ]] || usage
((${#sweep_opts[@]} > 0)) || die "no --set to sweep"

image="${BONEFEM_IMAGE:-$PWD/bonefem.sif}"
export BONEFEM_IMAGE="$image"
if [[ "$image" == none ]]; then
    bonefem=(bonefem)
else
    command -v apptainer >/dev/null 2>&1 || die "apptainer not found (or BONEFEM_IMAGE=none)"
    [[ -f "$image" ]] || die "no image $image (apptainer build bonefem.sif docker/bonefem.def)"
    read -r -a apptainer_opts <<<"${APPTAINER_OPTS:-}"
    bonefem=(apptainer run "${apptainer_opts[@]}" "$image" bonefem)
fi

dir="${dir:-sweeps/$(basename "$case_" .toml)}"
mkdir -p "$dir/logs"
dir=$(cd "$dir" && pwd)
sweep=("${bonefem[@]}" sweep "$case_" --output "$dir" "${sweep_opts[@]}")

if [[ "$mode" == local ]]; then
    "${sweep[@]}" --jobs "$jobs" || say "some points failed: see $dir/logs/"
    "${sweep[@]}" --report 2>&1 | tee "$dir/logs/report.out"
    exit "${PIPESTATUS[0]}"
fi

"${sweep[@]}" --slurm ${max_parallel:+--max-parallel "$max_parallel"} \
    || die "the sweep is not valid (see above)"
say "$(grep -c '"index":' "$dir/sweep.json") points in $dir (sweep.sbatch, sweep-report.sbatch)"

submit() {
    if [[ "$mode" == dry-run ]]; then
        printf 'sbatch' >&2
        printf ' %q' "$@" >&2
        printf '\n' >&2
        echo "DRYRUN"
    else
        sbatch --parsable "$@" | cut -d';' -f1
    fi
}
# the job scripts start bonefem with $BONEFEM (exported with the rest of the environment)
export BONEFEM="${bonefem[*]}"
mesh_job=$(submit --job-name=bonefem-mesh --ntasks=1 --output="$dir/logs/mesh-%j.out" \
    --export="ALL,BONEFEM_IMAGE=$image,BONEFEM_COMMAND=check,CASE=$case_" "$here/run.sbatch")
array_job=$(submit --dependency="afterok:$mesh_job" --export=ALL \
    "${sbatch_opts[@]}" "$dir/sweep.sbatch")
report_job=$(submit --dependency="afterany:$array_job" --export=ALL \
    "$dir/sweep-report.sbatch")
say "submitted: mesh $mesh_job, array $array_job, report $report_job -> $dir/report"
