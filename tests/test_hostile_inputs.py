"""Bad input to any public function is refused cleanly, and no valid call mutates its inputs.

One table-driven test over the whole public API (issue 8).  For every function
in a module's ``__all__``:

* a **valid call** (tests/hostile_table.py builds it from the parameter names and
  the function's row) must succeed and leave every array it was given unchanged;
* then each **hostile probe** spoils one argument of that call -- a string where a
  number belongs, a bool where an int belongs, NaN, a negative budget, an empty
  batch, labels out of range, ``None``, a plain object as the model, ``clip`` with
  lo > hi -- and the call must raise ``TypeError`` or ``ValueError`` (or a subclass,
  such as ``IntegrityError``) whose message names the parameter.

The rule itself lives in ``modelsec_edu/validation.py``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import numpy as np
import pytest

import modelsec_edu
from tests import hostile_table as table


def _public_functions() -> dict[str, object]:
    found: dict[str, object] = {}
    for info in pkgutil.walk_packages(modelsec_edu.__path__, "modelsec_edu."):
        short = info.name.removeprefix("modelsec_edu.")
        if any(part.startswith("_") for part in short.split(".")) or table.exemption(short):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isfunction(obj) and obj.__module__.startswith("modelsec_edu."):
                qual = f"{obj.__module__.removeprefix('modelsec_edu.')}.{obj.__name__}"
                if not table.exemption(qual):
                    found[qual] = obj
    return dict(sorted(found.items()))


FUNCTIONS = _public_functions()


def _parameters(fn) -> list[inspect.Parameter]:
    kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [p for p in inspect.signature(fn).parameters.values() if p.kind not in kinds]


def _has_classes(fn) -> bool:
    """The function knows its number of classes: from a model, or a ``num_classes`` it is given."""
    params = {p.name: p for p in _parameters(fn)}
    counts = [params[n] for n in ("num_classes", "n_classes") if n in params]
    return "model" in params or any(p.default is not None for p in counts)


def _cases():
    for qual, fn in FUNCTIONS.items():
        for i, param in enumerate(_parameters(fn)):
            if table.param_exemption(qual, param.name, first=i == 0):
                continue
            for label, _ in table.probes(param, has_classes=_has_classes(fn)):
                case = f"{qual}:{param.name}:{label}"
                if case in table.VALID_PROBES:  # a valid input there, not a hostile one
                    marks = [pytest.mark.skip(reason=table.VALID_PROBES[case])]
                else:
                    marks = _gap(case)
                yield pytest.param(qual, param.name, label, id=case, marks=marks)


def _gap(case: str) -> list:
    """Open work for issue 8 (``table.KNOWN_GAPS``), expected to fail.

    Not strict: a few of these pass or fail with the order xdist runs them in (shared models and
    caches in one worker), so a strict mark made CI flaky; the list is the record of open work.
    """
    if case in table.KNOWN_GAPS:
        return [pytest.mark.xfail(strict=False, reason="open work for issue 8 (KNOWN_GAPS)")]
    return []


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return table.Inputs(tmp_path_factory.mktemp("hostile"))


def _valid_kwargs(qual: str, fn, inputs) -> dict:
    given = table.CALLS[qual](inputs) if qual in table.CALLS else {}
    kwargs = {"*": given["*"]} if "*" in given else {}  # a ``*args`` function's arguments
    for param in _parameters(fn):
        if param.name in given:
            kwargs[param.name] = given[param.name]
        elif param.default is inspect.Parameter.empty:
            if param.name not in table.BY_NAME:
                pytest.fail(
                    f"{qual}: no valid value for required parameter {param.name!r}; "
                    "add a row to tests/hostile_table.py"
                )
            kwargs[param.name] = table.BY_NAME[param.name](inputs)
    return kwargs


def _call(fn, kwargs: dict):
    args, rest = [], dict(kwargs)
    for param in _parameters(fn):
        if param.kind == inspect.Parameter.POSITIONAL_ONLY and param.name in rest:
            args.append(rest.pop(param.name))
    args += list(rest.pop("*", ()))
    return fn(*args, **rest)


def _close_figures():
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize("qual", [pytest.param(q, marks=_gap(q)) for q in FUNCTIONS])
def test_a_valid_call_succeeds_and_leaves_its_inputs_alone(qual, inputs):
    fn = FUNCTIONS[qual]
    kwargs = _valid_kwargs(qual, fn, inputs)
    before = {k: v.copy() for k, v in kwargs.items() if isinstance(v, np.ndarray)}  # not "*"
    try:
        _call(fn, kwargs)
    finally:
        _close_figures()
    for name, copy in before.items():
        np.testing.assert_array_equal(
            kwargs[name], copy, err_msg=f"{qual} changed its input {name!r}"
        )


@pytest.mark.parametrize(("qual", "param", "label"), list(_cases()))
def test_hostile_input_is_refused_naming_the_parameter(qual, param, label, inputs):
    fn = FUNCTIONS[qual]
    kwargs = _valid_kwargs(qual, fn, inputs)
    target = next(p for p in _parameters(fn) if p.name == param)
    spoil = dict(table.probes(target, has_classes=_has_classes(fn)))[label]
    valid = kwargs[param] if param in kwargs else target.default
    kwargs[param] = spoil(valid)
    try:
        with pytest.raises((TypeError, ValueError)) as caught:
            _call(fn, kwargs)
    finally:
        _close_figures()
    assert re.search(rf"\b{re.escape(param)}\b", str(caught.value)), (
        f"{qual}({param}={label}) raised {type(caught.value).__name__} without naming "
        f"{param!r}: {caught.value}"
    )
