"""The one epoch loop and the one progress bar that every trainer of the course uses.

Plain training (:func:`modelsec_edu.models.fit`), adversarial training, the
article's GAN method, GANs, AdvGAN and the trainers of chapters 07-08 (DP-SGD,
shadow models, extraction) differ only in what one batch does.  They hand
that to :func:`epoch_loop`, which shuffles, slices, averages the batch
metrics into per-epoch logs, runs validation, honours Keras callbacks and
``stop_training``, and shows one ``tqdm`` bar for the whole run: the shape of
d2l's ``Trainer.fit`` / ``fit_epoch`` (Zhang et al., *Dive into Deep
Learning*, https://d2l.ai, chapter 3.2).  Used in chapters 01-08.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from modelsec_edu import validation

__all__ = ["ProgressBar", "epoch_loop"]

# Short names for the bar's caption; other keys are shown under their own name.
_SHORT = {"val_accuracy": "val", "val_robust_accuracy": "val_rob"}
_HIDDEN = ("seconds", "samples_per_second")


class ProgressBar:
    """One ``tqdm`` bar over every sample of a run, captioned with the latest epoch's metrics."""

    def __init__(self, total: int, desc: str, *, unit: str = "sample", enabled: bool = True):
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=True)

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def show(self, epoch: int, logs: dict[str, float]) -> None:
        if self._bar is not None:
            shown = {_SHORT.get(k, k): f"{v:.3f}" for k, v in logs.items() if k not in _HIDDEN}
            self._bar.set_postfix({"epoch": epoch + 1, **shown})

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _mean(values: list[Any]) -> float:
    return float(np.mean([keras.ops.convert_to_numpy(v) for v in values]))


def epoch_loop(
    train_batch: Callable[[slice, np.ndarray], dict[str, Any]],
    n: int,
    *,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    first_epoch: int = 0,
    drop_last: bool = False,
    begin_epoch: Callable[[int, np.ndarray], None] | None = None,
    end_epoch: Callable[[int, dict[str, float]], dict[str, float] | None] | None = None,
    model: keras.Model,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    progress: bool = True,
    desc: str = "training",
    unit: str = "sample",
) -> keras.callbacks.History:
    """Run epochs ``first_epoch .. epochs - 1`` over ``n`` samples; return a Keras ``History``.

    Each epoch draws ``order = rng.permutation(n)`` (before anything else the
    trainer draws from ``rng``), calls ``begin_epoch(epoch, order)``, then
    ``train_batch(sl, order[sl])`` for every batch, where ``sl`` is the
    batch's slice of the shuffled epoch (a trainer that gathered
    ``x[order]`` once in ``begin_epoch`` slices that) and ``order[sl]`` its
    indices into the data.  ``train_batch`` returns the batch's metrics
    (tensors or floats); their means are the epoch's logs, with ``seconds``
    and ``samples_per_second``.  ``end_epoch(epoch, logs)`` may return more
    logs (validation).  With ``drop_last`` a last, smaller batch is skipped
    (one compiled shape).  Keras callbacks see ``on_train_begin``,
    ``on_epoch_begin``, ``on_epoch_end`` and ``on_train_end``; the loop stops
    after an epoch that set ``model.stop_training``.  ``model`` is the model
    the callbacks see (the one trained, or the generator of a GAN).
    """
    model = validation.check_model(model)
    n = validation.check_int(n, "n", min=1)
    epochs = validation.check_int(epochs, "epochs", min=1)
    batch_size = validation.check_int(batch_size, "batch_size", min=1)
    first_epoch = validation.check_int(first_epoch, "first_epoch", min=0)
    drop_last = validation.check_bool(drop_last, "drop_last")
    progress = validation.check_bool(progress, "progress")
    if not callable(train_batch):
        raise TypeError(f"train_batch must be a callable, got {type(train_batch).__name__}")
    for hook, name in ((begin_epoch, "begin_epoch"), (end_epoch, "end_epoch")):
        if hook is not None and not callable(hook):
            raise TypeError(f"{name} must be a callable or None, got {type(hook).__name__}")
    for text, name in ((desc, "desc"), (unit, "unit")):
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    if drop_last and batch_size > n:
        raise ValueError(f"batch_size must be <= the {n} training samples, got {batch_size}")
    per_epoch = n - n % batch_size if drop_last else n
    history = keras.callbacks.History()
    cbs = keras.callbacks.CallbackList([*callbacks, history], model=model)
    bar = ProgressBar(max(epochs - first_epoch, 0) * per_epoch, desc, unit=unit, enabled=progress)
    model.stop_training = False
    cbs.on_train_begin()
    try:
        for epoch in range(first_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            start, metrics = time.perf_counter(), {}
            order = rng.permutation(n)
            if begin_epoch is not None:
                begin_epoch(epoch, order)
            for i in range(0, per_epoch, batch_size):
                sl = slice(i, min(i + batch_size, per_epoch))
                for k, v in train_batch(sl, order[sl]).items():
                    metrics.setdefault(k, []).append(v)
                bar.update(sl.stop - sl.start)
            logs = {k: _mean(vs) for k, vs in metrics.items()}
            logs["seconds"] = time.perf_counter() - start
            logs["samples_per_second"] = per_epoch / logs["seconds"]
            if end_epoch is not None:
                logs.update(end_epoch(epoch, logs) or {})
            bar.show(epoch, logs)
            cbs.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
    finally:
        bar.close()
    cbs.on_train_end()
    return history
