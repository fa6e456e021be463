"""No code names the paper's groups, sessions, periods, conditions or ratings: the study
design model (ecgap.design, built from the config) is the only source of them.

Checked: every identifier and non-docstring string of scripts/ (the paper-comparison
module excepted) and every code line of the rules and the Snakefile. The paper's design
lives in the config schema's defaults and the presets. Two of its words are generic and
not checked: "rating" (a rating scale) and "memory" (RAM, and the per-session scores'
table names, memory.tsv, kept for existing users).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import REPO

PAPER_LABELS = {"affect", "pre", "post1", "post2", "delta1", "delta2", "HE", "LE", "empathy",
                "positive_affect", "negative_affect", "affectGtMemory", "memoryGtAffect",
                "meanHELE", "HEMinusLE"}
#: The module that compares our statistics with the paper's and may name them.
PAPER_MODULES = {"scripts/ecgap/paper.py"}
WORD = re.compile(r"[A-Za-z0-9_]+")


def _docstrings(tree: ast.AST) -> set[int]:
    nodes = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, nodes) and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}


def _citations(tree: ast.AST) -> set[int]:
    """String constants of a REFERENCES table (the paper's citation names its topic)."""
    return {id(c) for node in ast.walk(tree) if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "REFERENCES" for t in node.targets)
            for c in ast.walk(node.value) if isinstance(c, ast.Constant)}


def python_words(path: Path) -> list[tuple[int, str]]:
    """(line, word) of every identifier and non-docstring string constant."""
    tree = ast.parse(path.read_text())
    skip = _docstrings(tree) | _citations(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            texts = [node.id]
        elif isinstance(node, ast.Attribute):
            texts = [node.attr]
        elif isinstance(node, ast.arg):
            texts = [node.arg]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in skip:
            texts = [node.value]
        else:
            continue
        out += [(node.lineno, w) for text in texts for w in WORD.findall(text)]
    return out


def snakemake_words(path: Path) -> list[tuple[int, str]]:
    """(line, word) of the code of a rules file: comments and docstrings removed."""
    text = re.sub(r'"""(.|\n)*?"""', lambda m: "\n" * m.group(0).count("\n"), path.read_text())
    return [(number, w) for number, line in enumerate(text.splitlines(), start=1)
            for w in WORD.findall(line.split("#", 1)[0])]


def test_no_code_names_a_label_of_the_papers_design():
    found = []
    for path in sorted((REPO / "scripts").rglob("*.py")):
        if str(path.relative_to(REPO)) not in PAPER_MODULES:
            found += [f"{path.relative_to(REPO)}:{n}: {w}" for n, w in python_words(path)
                      if w in PAPER_LABELS]
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        found += [f"{path.relative_to(REPO)}:{n}: {w}" for n, w in snakemake_words(path)
                  if w in PAPER_LABELS]
    assert not found, "paper labels in code:\n" + "\n".join(found[:40])


def test_the_check_sees_a_label_in_code_but_not_in_a_docstring(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('"""About HE videos."""\nX = {"LE": 1}\n\ndef f(affect):\n    return 1\n')
    assert sorted(w for _, w in python_words(module) if w in PAPER_LABELS) == ["LE", "affect"]
    rules = tmp_path / "r.smk"
    rules.write_text('# HE here is a comment\nrule a:\n    """delta1 in a docstring"""\n'
                     '    params: x="delta2"\n')
    assert [w for _, w in snakemake_words(rules) if w in PAPER_LABELS] == ["delta2"]
