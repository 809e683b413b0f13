"""valuegrad's neural-network library: micrograd-compatible layers, losses, optimizers, fit(), data, io, matrices."""

from autograd import __version__ as __version__  # one version for the distribution: autograd's

from . import functional
from .data import MinMaxScaler, make_circles, make_moons, make_spiral, make_xor, train_test_split
from .functional import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    log_softmax,
    mse_loss,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from .idx import load_idx
from .io import load, save
from .matrix import LayerBackprop, backprop_matrices
from .module import MLP, Layer, Module, Neuron
from .optim import SGD, Adam, Optimizer
from .torch_bridge import from_torch, to_torch
from .train import EarlyStopping, History, evaluate, fit, train_step

__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "EarlyStopping",
    "History",
    "Layer",
    "LayerBackprop",
    "MinMaxScaler",
    "Module",
    "Neuron",
    "Optimizer",
    "backprop_matrices",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "evaluate",
    "fit",
    "from_torch",
    "functional",
    "hinge_loss",
    "load",
    "load_idx",
    "log_softmax",
    "make_circles",
    "make_moons",
    "make_spiral",
    "make_xor",
    "mse_loss",
    "relu",
    "save",
    "sigmoid",
    "softmax",
    "tanh",
    "to_torch",
    "train_step",
    "train_test_split",
]
