#!/usr/bin/env bash
# Set up the environment (idempotent) and run the default case end to end.
# Extra arguments go to `bonefem run`, e.g. --output DIR.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup-env.sh"
cd "$root"
exec "$root/.venv/bin/bonefem" run "$root/cases/menopause_vertebra.toml" "$@"
