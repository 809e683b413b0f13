"""The way out when a model outgrows scalars: an MLP to a torch.nn.Sequential and back, exactly in float64."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .module import MLP

if TYPE_CHECKING:
    import torch

INSTALL = "pip install 'valuegrad[torch]'   (or: pip install torch==2.13.0)"
# Our activation names and the torch modules computing them; "linear" is no module at all.
_TORCH_ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def _missing_torch(where: str) -> ImportError:
    return ImportError(f"{where} needs PyTorch, which is not installed. Install it with: {INSTALL}")


def to_torch(model: MLP, *, dtype: torch.dtype | None = None) -> torch.nn.Sequential:
    """``model`` as a ``torch.nn.Sequential`` of ``Linear`` layers and activations, same weights.

    ``MLP(2, [16, 16, 1])`` becomes ``Sequential(Linear(2, 16), ReLU(), Linear(16, 16), ReLU(),
    Linear(16, 1))``: ``"linear"`` activations add no module, the others are ``ReLU``,
    ``Tanh``, ``Sigmoid``. ``dtype`` defaults to ``torch.float64``, in which the weights are
    copied bit for bit and outputs agree with valuegrad's to rounding (1e-12); ``torch.float32``
    rounds them. The model's state_dict keys are ``<k>.weight`` / ``<k>.bias``, which
    ``MLP.load_state_dict`` also accepts. torch's random generator is not touched.
    """
    try:
        import torch  # lazily: torch is an optional dependency
    except ImportError as exc:
        raise _missing_torch("nn.to_torch()") from exc
    if not isinstance(model, MLP):
        raise TypeError(f"nn.to_torch(): model must be an nn.MLP, got {type(model).__name__}")
    dtype = torch.float64 if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"nn.to_torch(): dtype must be a floating torch.dtype such as torch.float64, got {dtype!r}")
    modules: list[torch.nn.Module] = []
    state = model.state_dict()
    for i, layer in enumerate(model.layers):
        # skip_init: no random initialisation that would be overwritten (and would move torch's RNG)
        linear = torch.nn.utils.skip_init(torch.nn.Linear, layer.nin, layer.nout, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(state[f"layers.{i}.weight"], dtype=torch.float64))
            linear.bias.copy_(torch.tensor(state[f"layers.{i}.bias"], dtype=torch.float64))
        modules.append(linear)
        if layer.activation in _TORCH_ACTIVATIONS:
            modules.append(getattr(torch.nn, _TORCH_ACTIVATIONS[layer.activation])())
    return torch.nn.Sequential(*modules)


def _refuse_custom_behaviour(module: torch.nn.Module, torch: Any, where: str) -> None:
    """TypeError/ValueError unless ``module`` computes exactly what its layers say.

    A ``Sequential`` subclass may override ``forward``, and a forward hook or pre-hook (on the
    Sequential, on one of its layers, or registered globally) may change inputs or outputs; an
    MLP built from the layers alone would then compute something else without a word.
    """
    if type(module) is not torch.nn.Sequential:
        kind = "a subclass of torch.nn.Sequential" if isinstance(module, torch.nn.Sequential) else "a"
        raise TypeError(
            f"{where}: module must be exactly a torch.nn.Sequential of Linear layers and activations "
            f"(not a subclass, whose forward may differ), got {kind} {type(module).__name__}"
        )
    registry = torch.nn.modules.module
    if getattr(registry, "_global_forward_hooks", None) or getattr(registry, "_global_forward_pre_hooks", None):
        raise ValueError(f"{where}: global forward hooks are registered (torch.nn.modules.module."
                         "register_module_forward_hook); they would change what the model computes; remove them")
    for name, part in [("the Sequential", module)] + [(f"layer {i} {m!r}", m) for i, m in enumerate(module.children())]:
        if part._forward_hooks or part._forward_pre_hooks:
            raise ValueError(f"{where}: {name} has forward hooks or pre-hooks, which change what it "
                             "computes; remove them (the handle's .remove()) before converting")
        if "forward" in vars(part):
            raise ValueError(f"{where}: {name} has its own forward assigned on the instance; "
                             "an MLP can only compute the standard layers")


def _linears_and_activations(module: torch.nn.Module, torch: Any, where: str) -> tuple[list[Any], list[str]]:
    """The Linear layers in order and the activation after each ("linear" for none); ValueError naming a bad layer."""
    names = {getattr(torch.nn, name): ours for ours, name in _TORCH_ACTIVATIONS.items()}
    linears: list[torch.nn.Linear] = []
    activations: list[str] = []  # the activation after each Linear
    for index, (name, layer) in enumerate(module.named_children()):
        label = f"layer {index}" + (f" ({name!r})" if name != str(index) else "")
        kind = type(layer)
        if isinstance(layer, torch.nn.Linear) and kind is torch.nn.Linear:  # exactly Linear: no subclass forward
            if layer.in_features < 1 or layer.out_features < 1:
                raise ValueError(f"{where}: {label} {layer!r} has zero width; every MLP layer needs at least "
                                 "one input and one output")
            if linears and layer.in_features != linears[-1].out_features:
                raise ValueError(
                    f"{where}: {label} {layer!r} takes {layer.in_features} inputs but the Linear before it "
                    f"gives {linears[-1].out_features}"
                )
            if not layer.weight.is_floating_point():
                raise ValueError(f"{where}: {label} {layer!r} has weights of dtype {layer.weight.dtype}, not floating")
            linears.append(layer)
            activations.append("linear")
        elif kind in names or kind is torch.nn.Identity:
            if not linears:
                raise ValueError(f"{where}: {label} {layer!r} comes before the first Linear layer")
            if kind is torch.nn.Identity:
                continue
            if activations[-1] != "linear":
                raise ValueError(f"{where}: {label} {layer!r} follows another activation; an MLP applies one")
            activations[-1] = names[kind]
        else:
            raise ValueError(
                f"{where}: {label} {layer!r} is not supported; an MLP converts from Linear layers with "
                f"ReLU, Tanh, Sigmoid or Identity between them"
            )
    if not linears:
        raise ValueError(f"{where}: the Sequential has no Linear layer")
    return linears, activations


def from_torch(module: torch.nn.Module) -> MLP:
    """An :class:`MLP` with exactly the weights of a ``torch.nn.Sequential`` of ``Linear`` layers.

    Between the ``Linear`` layers (and after the last) may stand one ``ReLU``, ``Tanh`` or
    ``Sigmoid`` (or nothing, or ``Identity``); the hidden layers must share one activation,
    as an MLP's do. Weights of any floating dtype are converted to float64 exactly; a
    ``Linear`` without bias gets zero biases. A single ``Linear`` gives an MLP whose (unused)
    hidden ``activation`` is the default ``"relu"``. Only what the layers themselves compute
    converts: a ``Sequential`` subclass (its ``forward`` may differ) is a TypeError, and forward
    hooks or pre-hooks (on the module, a layer, or global) a ValueError, as is a zero-width
    ``Linear``. Anything else raises a ``ValueError`` naming the first layer that cannot be
    converted and its index.
    """
    try:
        import torch  # lazily: torch is an optional dependency
    except ImportError as exc:
        raise _missing_torch("nn.from_torch()") from exc
    where = "nn.from_torch()"
    _refuse_custom_behaviour(module, torch, where)
    linears, activations = _linears_and_activations(module, torch, where)
    hidden = activations[:-1]
    if any(act != hidden[0] for act in hidden):
        first = next(i for i, act in enumerate(hidden) if act != hidden[0])
        raise ValueError(
            f"{where}: the hidden layers use different activations (after Linear 0: {hidden[0]}, after Linear "
            f"{first}: {hidden[first]}); an MLP uses one activation between all its layers"
        )
    weights = [layer.weight.detach().to(device="cpu", dtype=torch.float64).tolist() for layer in linears]
    biases = [
        [0.0] * layer.out_features
        if layer.bias is None
        else layer.bias.detach().to(device="cpu", dtype=torch.float64).tolist()
        for layer in linears
    ]
    return MLP._from_weights(
        linears[0].in_features,
        [layer.out_features for layer in linears],
        hidden[0] if hidden else "relu",
        activations[-1],
        weights,
        biases,
    )


__all__ = ["from_torch", "to_torch"]
