"""`valuegrad check TARGET`: grade your own micrograd-style Value class against valuegrad's engine."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator

from autograd.files import write_atomic
from valuegrad import options

EPILOG = """\
TARGET is package.module:Class or path/to/file.py:Class. Every op the class supports is checked
against valuegrad's engine (values to 1e-12, gradients to 1e-9), alone and in random graphs that
hypothesis shrinks to the smallest failing one; the report names each wrong op with its inputs,
expected vs got and the classic mistake behind it.

exit status: 0 every supported op is correct, 1 something is wrong (with --strict, also a
limitation such as a recursion limit), 2 usage error.

examples:
  valuegrad check micrograd.engine:Value
  valuegrad check my_micrograd/engine.py:Value --examples 500 --seed 3 --json report.json
"""


class TargetError(Exception):
    """TARGET cannot be loaded: the message is the one line the command prints."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("target", metavar="TARGET", help="package.module:Class or path/to/file.py:Class")
    parser.add_argument("--examples", type=options.integer(1, 100_000), default=200,
                        help="random expression graphs to try (default 200)")
    parser.add_argument("--seed", type=options.integer(0, 2**32 - 1), default=0,
                        help="seed of the random graphs (default 0)")
    parser.add_argument("--json", metavar="PATH", type=options.path, default=None,
                        help="also write the report as JSON to PATH")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 on limitations too (recursion limit, exponential backward, missing reflected op)")


@contextlib.contextmanager
def _on_sys_path(directory: str) -> Iterator[None]:
    """Let the target import its neighbours (``from engine import Value``) while it loads."""
    sys.path.insert(0, directory)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)


def _load_module(where: str) -> Any:
    if where.endswith(".py") or "/" in where or os.sep in where:
        path = Path(where)
        if not path.is_file():
            raise TargetError(f"no such file: {where}")
        name = "_valuegrad_check_" + "".join(ch if ch.isalnum() else "_" for ch in path.stem)
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise TargetError(f"cannot import {where}: not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses and pickling look their module up here
        with _on_sys_path(str(path.resolve().parent)):
            spec.loader.exec_module(module)
        return module
    with _on_sys_path(os.getcwd()):
        return importlib.import_module(where)


def load_target(target: str) -> type:
    """The class named by ``module:Class`` or ``file.py:Class`` (TargetError with one line otherwise)."""
    where, colon, name = target.rpartition(":")
    if not colon or not where or not name:
        raise TargetError(f"TARGET must be package.module:Class or path/to/file.py:Class, got {target!r}")
    try:
        module = _load_module(where)
    except TargetError:
        raise
    except Exception as exc:  # the target's own import failed: say how, in one line
        raise TargetError(f"cannot import {where}: {type(exc).__name__}: {exc}") from None
    found = module
    for part in name.split("."):
        if not hasattr(found, part):
            raise TargetError(f"{where} has no attribute {name!r}")
        found = getattr(found, part)
    if not inspect.isclass(found):
        raise TargetError(f"{target} is not a class but {type(found).__name__} {found!r:.60}")
    return found


def run(args: argparse.Namespace) -> int:
    from autograd.check import check_value_class

    try:
        if args.json is not None and not (args.json.parent.is_dir() and not args.json.is_dir()):
            raise TargetError(f"--json {args.json}: not a file in an existing directory")
        cls = load_target(args.target)
    except TargetError as exc:
        print(f"valuegrad check: error: {exc}", file=sys.stderr)
        return 2
    report = check_value_class(cls, examples=args.examples, seed=args.seed)
    report.target = args.target
    print(report)
    if args.json is not None:
        try:
            print(f"wrote {write_atomic(args.json, json.dumps(report.to_dict(), indent=2) + chr(10))}")
        except OSError as exc:
            print(f"valuegrad check: error: cannot write {args.json}: {exc}", file=sys.stderr)
            return 1
    return report.exit_code(strict=args.strict)
