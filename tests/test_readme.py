"""The README's examples stay true to the CLI: every ``neuroscape ...`` line of its code blocks
parses with the current parser (no abbreviations allowed, so a renamed option fails here), its
Python snippets compile, and it cites papers, never internal document numbers or paths outside
the repository. Nothing is run: the whole file takes about a second."""

from __future__ import annotations

import argparse
import ast
import re
import shlex
from pathlib import Path

import pytest

from neuroscape.cli.main import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def _blocks(lang: str) -> list[str]:
    return [body for kind, body in FENCE.findall(TEXT) if kind == lang]


def _join_continuations(body: str) -> list[str]:
    """Logical lines of a shell block: a line ending in a backslash (before any comment)
    continues on the next one."""
    lines, cur = [], ""
    for raw in body.splitlines():
        code = raw.split(" #")[0].rstrip()
        if code.endswith("\\"):
            cur += code[:-1] + " "
            continue
        lines.append(cur + raw)
        cur = ""
    if cur:
        lines.append(cur)
    return lines


def _drop_placeholders(tokens: list[str]) -> list[str]:
    """Remove optional placeholders such as ``[--n 20000]`` (a token run from '[' to ']')."""
    out, depth = [], 0
    for tok in tokens:
        if depth == 0 and tok.startswith("["):
            depth = 1
        if depth:
            if tok.endswith("]"):
                depth = 0
            continue
        out.append(tok)
    return out


def cli_examples() -> list[list[str]]:
    """Every neuroscape command of the README's shell blocks, as an argv (program name first)."""
    found = []
    for body in _blocks("bash"):
        for line in _join_continuations(body):
            tokens = shlex.split(line, comments=True)
            while tokens and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", tokens[0]):
                tokens = tokens[1:]  # an environment assignment before the command
            if tokens and Path(tokens[0]).name == "neuroscape":
                found.append(_drop_placeholders(tokens))
    return found


def _strict(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The parser and its subparsers without prefix matching: argparse would otherwise accept
    a README's ``--duration`` for a renamed ``--duration-ms-x``, and this test would not fail."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _strict(sub)
    return parser


EXAMPLES = cli_examples()


def test_readme_cites_papers_not_internal_documents():
    assert not re.search(r"seed[ -]?0\d\d", TEXT, re.I), "cite the paper, not a seed number"
    assert not re.search(r"(?<![\w.])shared/", TEXT), "a path outside the repository"


def test_readme_has_its_examples_and_set_up_commands():
    # a README whose blocks stopped being found would make the parse test below pass vacuously
    assert len(EXAMPLES) >= 25, [" ".join(a) for a in EXAMPLES]
    first = _blocks("bash")[0]
    assert "./dev demo" in first and "./dev test" in first


@pytest.mark.parametrize("argv", EXAMPLES, ids=[" ".join(a[1:4]) for a in EXAMPLES])
def test_readme_example_parses(argv, capsys):
    parser = _strict(build_parser())
    try:
        args = parser.parse_args(argv[1:])
    except SystemExit:
        err = capsys.readouterr().err.strip()
        pytest.fail(f"README example does not parse: {' '.join(argv)}\n{err}")
    assert callable(args.func)


def test_placeholders_are_dropped_and_a_renamed_option_fails(capsys):
    """The helpers themselves: placeholders go, and an unknown (or abbreviated) option is an
    error rather than a silent prefix match."""
    argv = shlex.split("neuroscape db summary runs.db [--json]  # comment", comments=True)
    assert _drop_placeholders(argv) == ["neuroscape", "db", "summary", "runs.db"]
    parser = _strict(build_parser())
    for bad in (["db", "summary", "runs.db", "--jso"], ["simulate", "cortical", "--qui"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
    capsys.readouterr()


def test_readme_python_snippets_compile_and_use_public_names():
    import neuroscape

    blocks = _blocks("python")
    assert blocks
    for body in blocks:
        tree = ast.parse(body)  # a SyntaxError names the line
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "ns"
            ):
                assert hasattr(neuroscape, node.attr), f"neuroscape.{node.attr} does not exist"


def test_readme_dev_tasks_exist():
    dev = (README.parent / "dev").read_text(encoding="utf-8")
    tasks = set(re.findall(r"^  ([a-z-]+)\) ", dev, re.M))
    for task in set(re.findall(r"\./dev ([a-z-]+)", TEXT)):
        assert task in tasks, f"./dev {task}: no such task; allowed: {sorted(tasks)}"
