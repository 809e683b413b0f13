"""Train an MLP on two moons: decision boundary, loss curves, a neuron's graph (pictures in demos/out/)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # a checkout works without installing the package
    sys.path.insert(0, str(HERE.parent))

from valuegrad.demos import moons  # noqa: E402
from valuegrad.demos._shared import script_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(script_main(moons, sys.argv[1:], prog="demos/moons.py", out=HERE / "out"))
