"""CI's set-up fails when a linter install fails (issue 18)."""

from __future__ import annotations

import subprocess

from tests.conftest import ROOT


def test_a_failed_linter_install_fails_ci() -> None:
    """The install line of .ci/run, run with an installer that fails, stops the script.

    Inside ``echo "$(install)"`` bash's ``set -e`` ignores the failure (the echo succeeds);
    as a plain assignment ``x=$(install)`` it does not.
    """
    ci = (ROOT / ".ci" / "run").read_text()
    lines = [
        line
        for line in ci.splitlines()
        if "install-lint-tools.sh" in line and not line.lstrip().startswith("#")
    ]
    assert lines, ".ci/run no longer installs the linters"
    body = "\n".join(lines).replace("bash docker/install-lint-tools.sh", "bash -c 'exit 7'")
    script = f"set -euo pipefail\n{body}\necho REACHED\n"
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert proc.returncode == 7, proc.stdout + proc.stderr
    assert "REACHED" not in proc.stdout
    # and the tests use the hadolint just installed, not whichever is first on PATH
    assert 'export BONEFEM_HADOLINT="$hadolint_path"' in ci
