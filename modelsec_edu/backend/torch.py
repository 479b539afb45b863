"""The PyTorch implementation of :mod:`modelsec_edu.backend` (``torch.autograd``, eager).

Every function here has a twin of the same name and signature in
:mod:`.tensorflow` and :mod:`.jax`.  Keras runs PyTorch eagerly, so "compiled"
functions are plain Python here.  Per-example gradients are one backward pass
per example over a shared forward pass (``retain_graph=True``): simple and
exact, slower than ``torch.func.vmap``, which cannot see through Keras layers.
Used in chapters 03-07.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import keras
import torch

from . import common

NAME = "torch"
LOOPS_IN_GRAPH = False  # eager anyway


def devices() -> list[dict[str, str]]:
    found = [{"type": "CPU", "name": "cpu"}]
    for i in range(torch.cuda.device_count()):
        found.append({"type": "GPU", "name": torch.cuda.get_device_name(i)})
    return found


def bf16_on_cpu() -> bool:
    return False


def value_and_grad(f: Callable[[Any], tuple[Any, Any]]) -> Callable[[Any], tuple[Any, Any, Any]]:
    def g(x):
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            value, aux = f(x)
            (grad,) = torch.autograd.grad(value, x)
        aux = aux.detach() if hasattr(aux, "detach") else aux
        return value.detach(), aux, grad.detach()

    return g


def compile_call(ref: weakref.ref, bind: Callable, low: keras.Model | None) -> Callable[..., Any]:
    return bind(*common.eager_logits(ref, low))


def weight_gradients(model: keras.Model, x: Any, y: Any) -> list[Any]:
    with torch.enable_grad():
        loss = keras.ops.mean(common.sparse_ce(y, model(x, training=False)))
        return list(torch.autograd.grad(loss, [v.value for v in model.trainable_variables]))


def _per_example(losses: Any, weights: list[Any]) -> list[Any]:
    """Row ``i`` of each result: the gradient of ``losses[i]`` alone (one backward pass each)."""
    rows = [torch.autograd.grad(losses[i], weights, retain_graph=True) for i in range(len(losses))]
    return [torch.stack(col) for col in zip(*rows, strict=True)]


def per_example_gradients(model: keras.Model, x: Any, y: Any) -> list[Any]:
    with torch.enable_grad():
        per = common.sparse_ce(y, model(x, training=False))
        return _per_example(per, [v.value for v in model.trainable_variables])


def train_step(
    ref: weakref.ref,
    optimizer: keras.optimizers.Optimizer,
    loss_fn: Callable[..., Any],
    per_example: Callable[..., Any] | None,
) -> Callable[..., Any]:
    variables = ref().trainable_variables

    def forward(x, training=True):
        return ref()(x, training=training)

    def step(x, y, aux=None):
        weights = [v.value for v in variables]
        with torch.enable_grad():
            loss = loss_fn(forward, x, y)
            if per_example is None:
                grads = list(torch.autograd.grad(loss, weights))
            else:
                grads = list(per_example(_per_example(loss, weights), aux))
                loss = keras.ops.mean(loss)
        optimizer.apply([g.detach() for g in grads], variables)
        return loss.detach()

    return step
