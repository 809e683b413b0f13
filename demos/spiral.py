"""Three-class spiral with softmax + cross-entropy: a picture of the decision regions (pictures in demos/out/)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # a checkout works without installing the package
    sys.path.insert(0, str(HERE.parent))

from valuegrad.demos import spiral  # noqa: E402
from valuegrad.demos._shared import script_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(script_main(spiral, sys.argv[1:], prog="demos/spiral.py", out=HERE / "out"))
