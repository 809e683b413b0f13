"""save / load an MLP as JSON (architecture + exact float weights), written atomically; no pickle."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from .module import ACTIVATIONS, MLP

FORMAT = "valuegrad-mlp"
VERSION = 1
# JSON has no nan/inf: such weights are stored as these strings.
_SPECIAL = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _encode(x: float) -> float | str:
    if math.isfinite(x):
        return x  # json writes repr(float), which round-trips exactly
    if math.isnan(x):
        return "nan"
    return "inf" if x > 0 else "-inf"


def save(model: MLP, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` as JSON and return the path.

    The file is written to a temporary file in the same directory and renamed over
    ``path``, so an existing file is either fully replaced or left as it was.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"save(): model must be an nn.MLP, got {type(model).__name__}")
    path = Path(path)
    document = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": model.architecture(),
        "weights": {name: _encode(value) for name, value in model.state_dict().items()},
    }
    text = json.dumps(document, indent=1, allow_nan=False) + "\n"
    directory = path.parent
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise
    return path


def _fail(path: Path, problem: str) -> ValueError:
    return ValueError(f"load(): {path}: {problem}")


def _weight(value: Any, name: str, path: Path) -> float:
    if isinstance(value, str) and value in _SPECIAL:
        return _SPECIAL[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, f"weight {name!r} must be a number, got {type(value).__name__}: {value!r:.60}")
    return float(value)


def _architecture(arch: Any, path: Path) -> dict[str, Any]:
    if not isinstance(arch, dict):
        raise _fail(path, f"'architecture' must be an object, got {type(arch).__name__}")
    expected = {"nin", "nouts", "activation", "out_activation"}
    if set(arch) != expected:
        raise _fail(path, f"'architecture' must have exactly the keys {sorted(expected)}, got {sorted(arch)}")
    nin, nouts = arch["nin"], arch["nouts"]
    if isinstance(nin, bool) or not isinstance(nin, int) or nin < 1:
        raise _fail(path, f"architecture 'nin' must be a positive int, got {nin!r:.60}")
    if (
        not isinstance(nouts, list)
        or not nouts
        or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in nouts)
    ):
        raise _fail(path, f"architecture 'nouts' must be a non-empty list of positive ints, got {nouts!r:.60}")
    for key in ("activation", "out_activation"):
        if arch[key] not in ACTIVATIONS:
            raise _fail(path, f"architecture {key!r} must be one of {list(ACTIVATIONS)}, got {arch[key]!r:.60}")
    return arch


def load(path: str | os.PathLike[str]) -> MLP:
    """Read a file written by :func:`save` and rebuild the MLP with exactly the saved weights.

    A truncated, corrupt, wrong-format, wrong-version or shape-mismatched file raises a
    ``ValueError`` naming the file and the problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise _fail(path, f"not a UTF-8 text file (corrupt?): {e}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise _fail(path, f"not valid JSON (truncated or corrupt?): {e}") from None
    if not isinstance(document, dict):
        raise _fail(path, f"expected a JSON object, got {type(document).__name__}")
    if document.get("format") != FORMAT:
        raise _fail(path, f"not a {FORMAT} file (format is {document.get('format')!r})")
    version = document.get("version")
    if version != VERSION or isinstance(version, bool):
        raise _fail(path, f"unsupported version {version!r}; this valuegrad reads version {VERSION}")
    arch = _architecture(document.get("architecture"), path)
    weights = document.get("weights")
    if not isinstance(weights, dict):
        raise _fail(path, f"'weights' must be an object of name -> number, got {type(weights).__name__}")
    model = MLP(arch["nin"], arch["nouts"], arch["activation"], out_activation=arch["out_activation"], seed=0)
    names = [name for name, _ in model.named_parameters()]
    missing = [name for name in names if name not in weights]
    extra = sorted(set(weights) - set(names))
    if missing or extra:
        parts = [f"{len(missing)} missing (e.g. {missing[:3]})"] if missing else []
        parts += [f"{len(extra)} unexpected (e.g. {extra[:3]})"] if extra else []
        raise _fail(path, f"weights do not match the architecture {arch['nin']} -> {arch['nouts']}: {', '.join(parts)}")
    model.load_state_dict({name: _weight(weights[name], name, path) for name in names})
    return model
