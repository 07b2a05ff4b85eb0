#!/usr/bin/env bash
# A parameter sweep as a SLURM job array: one case per value of one field of a template case,
# each run by an array task, then one `bonefem report` over the finished runs.
#
# Usage: docker/slurm/sweep.sh [options] TEMPLATE FIELD VALUE... [-- SBATCH_OPTIONS...]
#
#   # denosumab started 1 to 7 years after the FMP, 3-year courses, 16 ranks per run:
#   docker/slurm/sweep.sh --set 'biology.denosumab.0.stop_days=$v + 1095.75' \
#       cases/denosumab_vertebra.toml biology.denosumab.0.start_days \
#       365.25 730.5 1095.75 1461 1826.25 2191.5 2556.75 -- --ntasks=16 --time=08:00:00
#
# Options:
#   --dir DIR          sweep folder (default sweeps/<template name>_<field's last part>)
#   --set FIELD=EXPR   another change for every case; $v is the swept value (repeatable)
#   --name NAME        run-name prefix (default: the template's run.name)
#   --max-parallel N   at most N array tasks at the same time
#   --local            no SLURM: run the tasks one after another here (BONEFEM_NP ranks each)
#   --dry-run          write and check the cases, print the sbatch commands, submit nothing
#
# What it does: writes DIR/cases/NNN_<name>.toml and DIR/sweep.tsv (index, value, case, run
# folder) with docker/slurm/sweep_cases.py, checks every case (bonefem check --no-mesh), then
# submits three jobs of docker/slurm/run.sbatch: `bonefem check` of the first case (builds the
# mesh once into the mesh cache, so the tasks do not all mesh at the same time), the array
# (afterok), and the report (afterany: a failed task leaves the others in the report) into
# DIR/report/. Logs go to DIR/logs/. Resubmitting the same sweep resumes unfinished runs.
#
# Environment: BONEFEM_IMAGE (default ./bonefem.sif; "none" = the bonefem and python on PATH),
# and every setting of run.sbatch (BONEFEM_SRUN_MPI, APPTAINER_OPTS, ...).
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

dir="" name="" max_parallel="" mode=submit
sets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) dir="$2"; shift 2 ;;
        --set) sets+=(--set "$2"); shift 2 ;;
        --name) name="$2"; shift 2 ;;
        --max-parallel) max_parallel="$2"; shift 2 ;;
        --local) mode=local; shift ;;
        --dry-run) mode=dry-run; shift ;;
        -h | --help) usage ;;
        --) break ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
done
[[ $# -ge 3 ]] || usage
template="$1" field="$2"
shift 2
values=()
while [[ $# -gt 0 && "$1" != -- ]]; do
    values+=("$1")
    shift
done
sbatch_opts=()
if [[ $# -gt 0 ]]; then
    shift
    sbatch_opts=("$@")
fi
((${#values[@]} > 0)) || die "no values to sweep"
[[ -f "$template" ]] || die "no template case $template"

image="${BONEFEM_IMAGE:-$PWD/bonefem.sif}"
export BONEFEM_IMAGE="$image"
if [[ "$image" == none ]]; then
    in_image=()
    script="$here/sweep_cases.py"
    python=$(command -v python || command -v python3) || die "no python on PATH"
else
    command -v apptainer >/dev/null 2>&1 || die "apptainer not found (or BONEFEM_IMAGE=none)"
    [[ -f "$image" ]] || die "no image $image (apptainer build bonefem.sif docker/bonefem.def)"
    read -r -a apptainer_opts <<<"${APPTAINER_OPTS:-}"
    in_image=(apptainer run "${apptainer_opts[@]}" "$image")
    script=/opt/bonefem/docker/slurm/sweep_cases.py
    python=python
fi

leaf="${field##*.}"
dir="${dir:-sweeps/$(basename "$template" .toml)_$leaf}"
mkdir -p "$dir/logs"
dir=$(cd "$dir" && pwd)
table="$dir/sweep.tsv"
name_opt=()
[[ -z "$name" ]] || name_opt=(--name "$name")

"${in_image[@]}" "$python" "$script" "$template" "$dir" --field "$field" --values "${values[@]}" \
    "${sets[@]}" "${name_opt[@]}"
n=$(($(wc -l <"$table") - 1))
mapfile -t cases < <(tail -n +2 "$table" | cut -f3)
"${in_image[@]}" bonefem -q check --no-mesh "${cases[@]:0:1}" || die "the first case is not valid"
for c in "${cases[@]:1}"; do
    "${in_image[@]}" bonefem -q check --no-mesh "$c" || die "case $c is not valid"
done
say "$n cases in $dir/cases (table: $table)"

if [[ "$mode" == local ]]; then
    export SWEEP_TABLE="$table"
    unset SLURM_JOB_ID SLURM_ARRAY_TASK_ID
    for ((i = 0; i < n; i++)); do
        SLURM_ARRAY_TASK_ID=$i bash "$here/run.sbatch" >"$dir/logs/task-$i.out" 2>&1 \
            || say "task $i failed: see $dir/logs/task-$i.out"
    done
    BONEFEM_COMMAND=report bash "$here/run.sbatch" 2>&1 | tee "$dir/logs/report.out"
    exit "${PIPESTATUS[0]}"
fi

array="0-$((n - 1))${max_parallel:+%$max_parallel}"
env_common="ALL,BONEFEM_IMAGE=$image,SWEEP_TABLE=$table"
first_case="${cases[0]}"
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
mesh_job=$(submit --job-name=bonefem-mesh --ntasks=1 --output="$dir/logs/mesh-%j.out" \
    --export="ALL,BONEFEM_IMAGE=$image,BONEFEM_COMMAND=check,CASE=$first_case" \
    "$here/run.sbatch")
array_job=$(submit --job-name=bonefem-sweep --array="$array" --dependency="afterok:$mesh_job" \
    --output="$dir/logs/task-%a-%A.out" --export="$env_common,BONEFEM_COMMAND=run" \
    "${sbatch_opts[@]}" "$here/run.sbatch")
report_job=$(submit --job-name=bonefem-report --ntasks=1 --dependency="afterany:$array_job" \
    --output="$dir/logs/report-%j.out" --export="$env_common,BONEFEM_COMMAND=report" \
    "$here/run.sbatch")
say "submitted: mesh $mesh_job, array $array_job ($array), report $report_job -> $dir/report"
