"""The container images' build path and the cluster scripts, tested without Docker or SLURM.

No Docker engine, Apptainer or SLURM runs where these tests run. What can be checked is:
the lock (exact pins, complete: pip resolves it to itself, and it satisfies pyproject.toml),
the build steps that both images run (``docker/build-steps.sh verify`` on this environment,
which scripts/setup-env.sh built from the lock the same way the images do), the Dockerfile and
the Apptainer definition statically (same base, same lock, same steps, non-root, entry point),
and the SLURM scripts outside SLURM (``sweep.sh --local`` with the venv instead of the image).

``BONEFEM_TEST_IMAGE_BUILD=1`` adds a full emulation of the Dockerfile's build stages in a
temporary folder (a new venv from the lock, strict verify; about 2 minutes and 1.5 GB), and
pip's dry-run resolution of the lock in a fresh venv (``build-steps.sh resolve``: 19 s of CPU,
about 5 % of the serial suite). Without it the lock's completeness is still checked on every
run: ``scripts/setup-env.sh`` installs the lock *with* dependency resolution, so a dependency
missing from the lock would be installed beside it, and the verify test below fails on any
installed package that is not in the lock.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.helpers.cases import MENOPAUSE, write_case

pytestmark = pytest.mark.serial

DOCKER = ROOT / "docker"
LOCK = ROOT / "requirements" / "lock.txt"
BUILD_STEPS = DOCKER / "build-steps.sh"


def _env(**extra: str) -> dict[str, str]:
    """Environment for the scripts: this venv's programs first on PATH, no MPI launcher vars."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def _run(args: list[str], timeout: float = 300, **kw: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _logical_lines(text: str) -> list[str]:
    """Dockerfile instructions with continuation lines joined, comments dropped."""
    out: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        out.append(buf + line)
        buf = ""
    return out


def _dockerfile() -> list[tuple[str, str]]:
    lines = _logical_lines((DOCKER / "Dockerfile").read_text())
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def _dockerfile_arg(name: str) -> str:
    for op, rest in _dockerfile():
        if op == "ARG" and rest.startswith(f"{name}="):
            return rest.split("=", 1)[1]
    raise AssertionError(f"no ARG {name}= in the Dockerfile")


def _def_sections() -> tuple[dict[str, str], dict[str, str]]:
    """(header keywords, {section: body}) of docker/bonefem.def."""
    header: dict[str, str] = {}
    sections: dict[str, str] = {}
    current = None
    for line in (DOCKER / "bonefem.def").read_text().splitlines():
        if line.startswith("%"):
            current = line.split()[0][1:]
            sections[current] = ""
        elif current is None:
            if ":" in line and not line.startswith("#"):
                key, value = line.split(":", 1)
                header[key.strip()] = value.strip()
        else:
            sections[current] += line + "\n"
    return header, sections


def _lock_pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def _lock_python_minor() -> str:
    m = re.search(r"with Python (\d+\.\d+)", LOCK.read_text())
    assert m, "the lock's header does not name the Python it was made with"
    return m.group(1)


# ------------------------------------------------------------------------------------------
# the lock


def test_lock_has_exact_pins() -> None:
    _run(["bash", str(BUILD_STEPS), "lock"])
    pins = _lock_pins()
    assert {"dolfinx-solver-real", "mpich", "mpi4py", "numpy", "gmsh", "pytest"} <= set(pins)
    assert "bonefem" not in pins and "pip" not in pins


def test_lock_satisfies_pyproject() -> None:
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [*project["dependencies"], *project["optional-dependencies"]["wheel"]]
    reqs += project["optional-dependencies"]["test"]
    pins = _lock_pins()
    for text in reqs:
        req = Requirement(text)
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins, f"{req.name} (pyproject.toml) is not in the lock: run scripts/lock.sh"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"the lock pins {name}=={pins[name]}, pyproject.toml wants {text}: run scripts/lock.sh"
        )


@pytest.mark.slow
def test_build_steps_verify_this_environment() -> None:
    """The images' check, on the venv that scripts/setup-env.sh made from the lock."""
    if importlib.util.find_spec("dolfinx_solver") is None:
        pytest.skip("DOLFINx is not the lock's wheel here (BONEFEM_SYSTEM_DOLFINX=1)")
    proc = _run(["bash", str(BUILD_STEPS), "verify", sys.prefix], env=_env())
    assert "exactly as pinned" in proc.stderr
    # pip installed the lock with its dependencies: nothing beside the pins (a dependency
    # missing from the lock would show here; a developer's own additions too)
    assert "not in the lock" not in proc.stderr, proc.stderr
    assert "DOLFINx JIT form OK on 2 rank(s)" in proc.stdout


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("BONEFEM_TEST_IMAGE_BUILD") != "1", reason="set BONEFEM_TEST_IMAGE_BUILD=1"
)
def test_build_steps_resolve_the_lock(tmp_path: Path) -> None:
    """pip resolves the lock in a fresh venv to exactly its pins (nothing missing or extra)."""
    proc = subprocess.run(
        ["bash", str(BUILD_STEPS), "resolve", str(tmp_path / "venv")],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
        check=False,
    )
    if proc.returncode != 0 and re.search(
        r"NewConnectionError|Network is unreachable|Temporary failure in name resolution",
        proc.stderr,
    ):
        pytest.skip("no package index reachable")
    assert proc.returncode == 0, proc.stderr
    assert "resolve OK" in proc.stderr


# ------------------------------------------------------------------------------------------
# the Dockerfile and the Apptainer definition


def test_dockerfile_uses_the_lock_and_the_build_steps() -> None:
    instructions = _dockerfile()
    runs = [rest for op, rest in instructions if op == "RUN"]
    copies = [rest for op, rest in instructions if op == "COPY"]
    assert any(c.split()[0] == "requirements/lock.txt" for c in copies)
    for step in ("system", "install /opt/bonefem/.venv", "verify /opt/bonefem/.venv"):
        assert any(f"docker/build-steps.sh {step}" in r for r in runs), step
    # every install goes through build-steps.sh (and so through scripts/setup-env.sh)
    for r in runs:
        assert "pip install" not in r and "apt-get" not in r, r
    # the install stage copies what setup-env.sh reads, before the rest of the source
    install_at = next(i for i, r in enumerate(runs) if "build-steps.sh install" in r)
    assert install_at < next(i for i, r in enumerate(runs) if "build-steps.sh verify" in r)
    needed = {"pyproject.toml", "README.md", "scripts/setup-env.sh", "scripts/find-python.sh"}
    early = " ".join(copies[: [c.split()[0] for c in copies].index(".")])
    assert all(n in early for n in needed), early


def test_dockerfile_base_matches_the_lock_python() -> None:
    base = _dockerfile_arg("PYTHON_IMAGE")
    m = re.fullmatch(r"python:(\d+\.\d+)[\w.-]*-slim-bookworm(@sha256:[0-9a-f]{64})?", base)
    assert m, base
    assert m.group(1) == _lock_python_minor()
    header, _ = _def_sections()
    assert header["Bootstrap"] == "docker"
    assert header["From"] == base, "bonefem.def and the Dockerfile must start from the same image"


def test_dockerfile_runtime_settings() -> None:
    instructions = _dockerfile()
    users = [rest for op, rest in instructions if op == "USER"]
    assert users, "the image must not run as root"
    uid = _dockerfile_arg("BONEFEM_UID")
    assert users[-1] == "${BONEFEM_UID}:${BONEFEM_UID}" and uid.isdigit() and int(uid) > 0
    workdirs = [rest for op, rest in instructions if op == "WORKDIR"]
    assert workdirs[-1] == "/work"
    entry = next(rest for op, rest in instructions if op == "ENTRYPOINT")
    assert entry == '["/usr/bin/tini", "--", "/opt/bonefem/docker/entrypoint.sh"]'
    assert os.access(DOCKER / "entrypoint.sh", os.X_OK)
    env = " ".join(rest for op, rest in instructions if op == "ENV")
    assert "PATH=/opt/bonefem/.venv/bin:" in env
    assert "BONEFEM_MESH_CACHE=/work/" in env and "XDG_CACHE_HOME=/work/" in env
    packages = (DOCKER / "apt-packages.txt").read_text()
    assert re.search(r"^tini$", packages, re.M) and re.search(r"^gcc$", packages, re.M)


def _dockerignored(path: str) -> bool:
    patterns = [
        ln.strip()
        for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch(part, pattern[3:]) for part in parts):
                return True
        elif any(fnmatch(prefix, pattern) for prefix in prefixes):
            return True
    return False


def test_build_context_holds_what_the_images_copy() -> None:
    sources = []
    for op, rest in _dockerfile():
        if op == "COPY":
            sources += [s for s in rest.split()[:-1] if not s.startswith("--")]
    _, sections = _def_sections()
    files = [ln.split()[0] for ln in sections["files"].splitlines() if ln.strip()]
    assert "requirements/lock.txt" in files and "docker" in files
    for src in [*sources, *files]:
        if src == ".":
            continue
        assert (ROOT / src).exists(), src
        assert not _dockerignored(src), f"{src} is copied but excluded by .dockerignore"
    for needed in ("bonefem/cli.py", "cases/menopause_vertebra.toml", "meshes/vertebra.toml"):
        assert not _dockerignored(needed)
        assert any(needed.startswith(f + "/") or needed == f for f in files), needed
    for excluded in (
        ".venv/bin/python",
        ".git/HEAD",
        "runs/x/metrics.csv",
        "bonefem/__pycache__/a.pyc",
    ):
        assert _dockerignored(excluded), excluded


def test_apptainer_definition() -> None:
    _, sections = _def_sections()
    known = {"setup", "files", "post", "environment", "runscript", "test", "labels", "help",
             "startscript", "app", "arguments"}  # fmt: skip
    assert set(sections) <= known, set(sections) - known
    post = sections["post"]
    assert "bash docker/build-steps.sh system" in post
    assert "bash docker/build-steps.sh install /opt/bonefem/.venv" in post
    assert "bash docker/build-steps.sh verify /opt/bonefem/.venv" in post
    assert "BONEFEM_IMAGE_BUILD=1" in post
    assert "pip install" not in post and "apt-get" not in post
    assert 'exec /opt/bonefem/docker/entrypoint.sh "$@"' in sections["runscript"]
    assert 'PATH="/opt/bonefem/.venv/bin:' in sections["environment"]
    # the caches stay in $HOME on clusters: no Docker-style /work paths
    assert "/work" not in sections["environment"]


def test_entrypoint_knows_every_bonefem_command() -> None:
    from bonefem.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    commands = set(sub.choices)  # type: ignore[arg-type]
    text = (DOCKER / "entrypoint.sh").read_text()
    m = re.search(r'^\s*-\* \| (.+?)\) exec bonefem "\$@"', text, re.M)
    assert m, "the dispatch line of entrypoint.sh"
    assert set(m.group(1).split(" | ")) == commands


def test_entrypoint_dispatch(tmp_path: Path) -> None:
    entry = str(DOCKER / "entrypoint.sh")
    assert _run(["bash", entry, "echo", "any", "program"], env=_env()).stdout == "any program\n"
    out = _run(["bash", entry, "cases"], env=_env(), cwd=tmp_path).stdout
    assert "menopause_vertebra" in out
    out = _run(["bash", entry, "bonefem", "--help"], env=_env()).stdout
    assert "usage: bonefem" in out
    assert "usage: bonefem" in _run(["bash", entry], env=_env()).stdout
    # cases/... that is not in the working folder names the bundled case
    out = _run(["bash", entry, "echo", "cases/menopause_vertebra.toml", "cases/x.toml"],
               env=_env(), cwd=tmp_path).stdout  # fmt: skip
    assert out.split() == [str(ROOT / "cases" / "menopause_vertebra.toml"), "cases/x.toml"]
    out = _run(["bash", entry, "check", "--no-mesh", "cases/menopause_vertebra.toml"],
               env=_env(), cwd=tmp_path).stderr  # fmt: skip
    assert "schema OK" in out


# ------------------------------------------------------------------------------------------
# sweeps and SLURM scripts


@pytest.mark.slow
def test_sweep_local_runs_the_points_and_the_report(tmp_path: Path) -> None:
    """sweep.sh --local: `bonefem sweep` runs the points, then the report, with the venv."""
    biology = MENOPAUSE + (
        "\n[[biology.denosumab]]\nstart_days = 50.0\nstop_days = 200.0\n"
        "dose_mg = 60.0\ninterval_days = 183.0"
    )
    template = write_case(tmp_path, "tiny", duration=182.625, step=30.0, mesh_size=4.0,
                          biology=biology, fields_every=182.625)  # fmt: skip
    env = _env(
        BONEFEM_IMAGE="none", BONEFEM_MESH_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1"
    )
    args = ["bash", str(DOCKER / "slurm" / "sweep.sh"), "--dir", str(tmp_path / "sw"), "--zip",
            "--set", "biology.denosumab.0.start_days=30.0,90.0",
            "--set", "biology.denosumab.0.stop_days=180.0,240.0", "--local", "--jobs", "2",
            str(template)]  # fmt: skip
    _run(args, env=env, cwd=tmp_path, timeout=600)
    sw = tmp_path / "sw"
    names = ["000_start_days=30.0_stop_days=180.0", "001_start_days=90.0_stop_days=240.0"]
    for name in names:
        assert '"status": "finished"' in (sw / name / "manifest.json").read_text()
    assert "finished,000_start_days=30.0" in (sw / "sweep.csv").read_text()
    assert (sw / "report" / "summary.md").is_file()
    # running it again resumes: finished runs are left alone
    proc = _run(args, env=env, cwd=tmp_path, timeout=600)
    assert "2 of 2 points had finished" in proc.stderr


def test_sweep_dry_run_submits_three_dependent_jobs(tmp_path: Path) -> None:
    template = write_case(tmp_path, "tiny", biology=MENOPAUSE)
    proc = _run(
        ["bash", str(DOCKER / "slurm" / "sweep.sh"), "--dry-run", "--max-parallel", "2",
         str(template), "--set", "run.duration_days=100.0,200.0,300.0", "--", "--ntasks=8"],
        env=_env(BONEFEM_IMAGE="none"),
        cwd=tmp_path,
    )  # fmt: skip
    sbatch = [ln for ln in proc.stderr.splitlines() if ln.startswith("sbatch ")]
    assert len(sbatch) == 3, proc.stderr
    assert "BONEFEM_COMMAND=check" in sbatch[0] and sbatch[0].endswith("docker/slurm/run.sbatch")
    assert "--dependency=afterok:" in sbatch[1] and "--ntasks=8" in sbatch[1]
    assert sbatch[1].endswith("sweep.sbatch")
    assert "--dependency=afterany:" in sbatch[2] and sbatch[2].endswith("sweep-report.sbatch")
    folder = tmp_path / "sweeps" / "tiny"
    script = (folder / "sweep.sbatch").read_text()
    assert "#SBATCH --array=0-2%2" in script and "--index" in script
    assert "3 points" in proc.stderr


# ------------------------------------------------------------------------------------------
# opt-in: the Dockerfile's build stages, emulated in a temporary folder


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("BONEFEM_TEST_IMAGE_BUILD") != "1", reason="set BONEFEM_TEST_IMAGE_BUILD=1"
)
def test_image_build_stages_emulated(tmp_path: Path) -> None:
    """Stage 2 (the install from the partial tree the Dockerfile copies), then stage 3."""
    opt = tmp_path / "opt" / "bonefem"
    opt.mkdir(parents=True)
    stage3 = False
    for op, rest in _dockerfile():
        if op != "COPY":
            continue
        *srcs, dest = rest.split()
        if srcs == ["."]:
            stage3 = True
            break
        for src in srcs:
            target = opt / dest.rstrip("/") / Path(src).name if dest.endswith("/") else opt / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / src, target)
    assert stage3
    env = _env(BONEFEM_IMAGE_BUILD="1", PIP_NO_CACHE_DIR="1")
    venv = opt / ".venv"
    _run(
        ["bash", str(opt / "docker" / "build-steps.sh"), "install", str(venv)],
        env=env,
        timeout=1200,
    )
    listed = _run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT).stdout.split()
    for rel in listed:
        if (ROOT / rel).is_file() and not _dockerignored(rel):
            (opt / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, opt / rel)
    _run(
        ["bash", str(opt / "docker" / "build-steps.sh"), "verify", str(venv)], env=env, timeout=600
    )
    out = _run([str(venv / "bin" / "bonefem"), "cases"], env=env, cwd=tmp_path).stdout
    assert "menopause_vertebra" in out
