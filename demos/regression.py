"""Fit sin on [0, 1] with an MLP and MSE: a picture of the fit against the truth (pictures in demos/out/)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # a checkout works without installing the package
    sys.path.insert(0, str(HERE.parent))

from valuegrad.demos import regression  # noqa: E402
from valuegrad.demos._shared import script_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(script_main(regression, sys.argv[1:], prog="demos/regression.py", out=HERE / "out"))
