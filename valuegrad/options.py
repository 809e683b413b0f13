"""Command-line plumbing shared by every subcommand: bounded argparse types and one-line usage errors."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Callable, NoReturn


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (no usage block, never a traceback), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def integer(minimum: int, maximum: int) -> Callable[[str], int]:
    """argparse type: a decimal integer in [minimum, maximum]; the bounds are part of the message."""

    def parse(text: str) -> int:
        try:
            number = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer from {minimum} to {maximum}, got {text!r}") from None
        if not minimum <= number <= maximum:
            raise argparse.ArgumentTypeError(f"expected an integer from {minimum} to {maximum}, got {number}")
        return number

    parse.__name__ = f"integer {minimum}..{maximum}"  # what argparse names the type in its messages
    return parse


def number(maximum: float) -> Callable[[str], float]:
    """argparse type: a finite float in (0, maximum]."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number in (0, {maximum:g}], got {text!r}") from None
        if not (math.isfinite(value) and 0.0 < value <= maximum):
            raise argparse.ArgumentTypeError(f"expected a finite number in (0, {maximum:g}], got {text}")
        return value

    parse.__name__ = f"number in (0, {maximum:g}]"
    return parse


NAME_MAX = 255  # bytes per path component on Linux, macOS and Windows file systems


def path(text: str) -> Path:
    """argparse type: a non-empty path whose components fit a file system (checked here, not as an OSError later)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    # "." has no parts at all: max() needs the default, or argparse reports an internal ValueError.
    longest = max(Path(text).parts, key=lambda part: len(part.encode("utf-8", "surrogateescape")), default="")
    if len(longest.encode("utf-8", "surrogateescape")) > NAME_MAX:
        raise argparse.ArgumentTypeError(f"a path component is longer than {NAME_MAX} bytes: {longest[:40]!r}...")
    return Path(text)


def letters(allowed: str) -> Callable[[str], str]:
    """argparse type: a non-empty string of letters from ``allowed`` (e.g. which benchmark sections to run)."""

    def parse(text: str) -> str:
        unknown = sorted(set(text) - set(allowed))
        if not text or unknown:
            raise argparse.ArgumentTypeError(f"expected letters from {allowed!r}, got {text!r}")
        return text

    parse.__name__ = f"letters from {allowed}"
    return parse
