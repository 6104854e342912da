"""Every command's --help ends with an example a person can copy."""

from __future__ import annotations

import argparse

from app.cli import build_parser


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(path, parser) for the top and every subcommand, depth first."""
    yield path, parser
    for action in parser._actions:  # noqa: SLF001 - argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, child in action.choices.items():
                yield from commands(child, (*path, name))


def test_every_command_has_an_example_in_its_help():
    missing = []
    for path, parser in commands(build_parser()):
        _usage, found, examples = parser.format_help().partition("\nexample")
        if not found or f"mailsiren {' '.join(path)}".strip() not in examples:
            missing.append(" ".join(path) or "(top)")
    assert not missing, f"no example in --help of: {', '.join(missing)}"
    assert len(list(commands(build_parser()))) > 40


def test_the_selectors_help_says_what_it_chooses_in_words():
    helps = {path: parser.format_help() for path, parser in commands(build_parser())}
    for action, done in (("accept", "accepted"), ("resolve", "resolved")):
        said = " ".join(helps[("incidents", action)].split())  # argparse wraps lines
        assert f"the source's incidents that can be {done}" in said  # not 'resolveed'
