"""The library digest each rule carries as a param: which modules a script runs, and
that the digest follows their source and nothing else."""

from __future__ import annotations

from pathlib import Path

from ecgap.bench import rule_bodies, rule_scripts
from ecgap.provenance import library_digest, library_modules

from conftest import REPO


def _package(tmp_path: Path) -> tuple[Path, Path]:
    package = tmp_path / "ecgap"
    (package / "stats").mkdir(parents=True)
    (package / "__init__.py").write_text("from ecgap.version import __version__\n")
    (package / "version.py").write_text("__version__ = '1'\n")
    (package / "fits.py").write_text("import numpy\nfrom . import stats\n\ndef fit():\n"
                                     "    from ecgap.io import save\n    return save\n")
    (package / "io.py").write_text("import os\n")
    (package / "stats/__init__.py").write_text("from .tests import t\n")
    (package / "stats/tests.py").write_text("import ecgap.maths as m\n")
    (package / "maths.py").write_text("import math\n")
    (package / "plots.py").write_text("from ecgap import io\n")
    script = tmp_path / "rule_script.py"
    script.write_text("import sys\nfrom ecgap import fits\nfrom ecgap.snake import run\n")
    return package, script


def test_a_script_runs_the_modules_it_imports_and_theirs(tmp_path):
    package, script = _package(tmp_path)
    # From the script: fits; from fits: the stats subpackage (a relative import) and io
    # (inside a function); from stats: its tests module, which imports maths under another
    # name; from __init__: version. snake is not in this package; plots is unused.
    found = [p.relative_to(package).as_posix() for p in library_modules(script, package)]
    assert found == ["__init__.py", "fits.py", "io.py", "maths.py", "stats/__init__.py",
                     "stats/tests.py", "version.py"]


def test_the_digest_follows_the_modules_a_script_runs_and_nothing_else(tmp_path):
    package, script = _package(tmp_path)
    before = library_digest(script, package)
    (package / "plots.py").write_text("from ecgap import io\nX = 1\n")
    assert library_digest(script, package) == before
    for module in ("io.py", "stats/tests.py", "version.py"):
        path = package / module
        path.write_text(path.read_text() + "# edited\n")
        assert library_digest(script, package) != before, module
        before = library_digest(script, package)


def test_every_rule_with_a_script_carries_the_digest_of_that_script():
    bodies, scripts = rule_bodies(), rule_scripts()
    assert len(scripts) > 25
    for rule, script in scripts.items():
        assert f'library=library_version("{script.name}")' in bodies[rule], rule


def test_the_first_level_digest_covers_the_fitting_code():
    modules = {p.stem for p in library_modules(REPO / "scripts/first_level.py")}
    assert {"first_level", "design", "ingest", "io", "snake"} <= modules
    assert "second_level" not in modules
