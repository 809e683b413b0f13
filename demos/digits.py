"""Train an MLP on scikit-learn's 8x8 handwritten digits with the batched backend (pictures in demos/out/)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # a checkout works without installing the package
    sys.path.insert(0, str(HERE.parent))

from valuegrad.demos import digits  # noqa: E402
from valuegrad.demos._shared import script_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(script_main(digits, sys.argv[1:], prog="demos/digits.py", out=HERE / "out"))
