"""Run the valuegrad benchmark (same as `valuegrad bench`): python benchmarks/bench.py [--quick] [--json PATH]."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from valuegrad import bench  # noqa: E402 - after the path tweak above


def main() -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/bench.py", description=__doc__)
    bench.add_arguments(parser)
    return bench.run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
