"""docker/slurm/femur20M.sbatch and its case: shellcheck-clean, existing CLI flags, a valid case."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

SLURM = ROOT / "docker" / "slurm"
SCRIPT = SLURM / "femur20M.sbatch"


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_sbatch_is_shellcheck_clean() -> None:
    proc = subprocess.run(["shellcheck", "-x", str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sbatch_uses_existing_cli_flags() -> None:
    from bonefem.cli import build_parser

    parser = build_parser()
    text = SCRIPT.read_text(encoding="utf-8")
    # the bonefem command lines (continued with a backslash) of the script
    commands = re.findall(r"bonefem (check|run) ((?:[^\n]*\\\n)*[^\n]*)", text)
    assert {c for c, _ in commands} == {"check", "run"}
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command, rest in commands:
        known = set(subparsers.choices[command]._option_string_actions)
        flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest))
        assert flags and flags <= known, (command, flags - known)
    assert "--signal=B:TERM@" in text and "--restart" in text


def test_case_is_valid_and_sized_for_20m_dofs() -> None:
    from bonefem.config.case import load_case

    case = load_case(SLURM / "femur20M.toml")
    assert case.mesh.parameters["uniform_refinements"] == 3
    assert case.output.field_files == "single" and case.output.field_precision == "float32"
    assert case.run.duration_days == pytest.approx(3652.5)
