"""The grader's helpers inside the kernel that runs a submission; they decide nothing.

The grader process (course_lib.grading.run) decides every verdict. The kernel only runs
the chapter with the student's answers filled in and, when the grader asks, the student's
functions. These helpers move values across as files in the exchange folder the grader
made: :func:`capture` saves the values of a checker's arguments (functions stay here and
are called later by name), :func:`call` runs one of those functions (or a checker's
probe from course_lib.exercises beside it) on arguments the grader saved and saves the
result, :func:`fingerprint` lists which objects torch, numpy, builtins and course_lib
hold, so the grader can see when a submission replaced one.

A submission can change anything in this process, these helpers included; that only
changes what comes back, which the grader loads as data (tensors, numbers, strings,
containers, modules of torch and course_lib), never as code.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys

import torch

_functions: dict[str, object] = {}

# Modules and classes whose callables a submission has no reason to replace.
WATCHED_MODULES = (
    "builtins",
    "math",
    "operator",
    "functools",
    "numpy",
    "numpy.testing",
    "torch",
    "torch.nn",
    "torch.nn.functional",
    "torch.nn.init",
    "torch.linalg",
    "torch.autograd",
    "torch.optim",
    "torch.testing",
)
WATCHED_CLASSES = ("torch.Tensor", "torch._C.TensorBase", "torch.nn.Module", "numpy.ndarray")


def _describe(error: BaseException) -> dict:
    kind = type(error)
    return {
        "type": kind.__name__,
        "builtin": kind.__module__ == "builtins",
        "message": str(error)[:2000],
    }


def capture(exchange: str, key: str, thunks: dict) -> None:
    """Evaluate each argument; keep functions here, save every other value for the grader."""
    report = {}
    for name, thunk in thunks.items():
        try:
            value = thunk()
        except BaseException as error:  # a NameError when the cell failed, say
            report[name] = {"kind": "error", **_describe(error)}
            continue
        if callable(value) and not isinstance(value, (torch.nn.Module, torch.Tensor, type)):
            _functions[f"{key}.{name}"] = value
            report[name] = {"kind": "function"}
            continue
        try:
            torch.save(value, f"{exchange}/{key}.{name}.pt")
            report[name] = {"kind": "value"}
        except BaseException as error:
            report[name] = {"kind": "error", **_describe(error)}
    with open(f"{exchange}/{key}.json", "w") as file:
        json.dump(report, file)


def _probe(module: str, name: str):
    """A checker's probe (course_lib.checks.run_beside): only course_lib.exercises holds them."""
    if not module.startswith("course_lib.exercises.") or not name.isidentifier():
        raise ValueError(f"the grader runs probes from course_lib.exercises only, not {module}.{name}")
    return getattr(importlib.import_module(module), name)


def call(exchange: str, function: str, number: int) -> None:
    """Run a captured function on the arguments in ``call-N.in.pt``; save ``call-N.out.pt``.

    When the grader names a probe, run ``probe(function, *args)`` instead.
    """
    args, kwargs, probe = torch.load(f"{exchange}/call-{number}.in.pt", weights_only=False)
    try:
        target = _functions[function]
        if probe is not None:
            target = functools.partial(_probe(*probe), target)
        outcome = {"result": target(*args, **kwargs)}
    except BaseException as error:  # SystemExit and KeyboardInterrupt are answers too
        outcome = {"raised": _describe(error)}
    outcome["arguments"] = (args, kwargs)  # after the call: in-place changes travel back
    path = f"{exchange}/call-{number}.out.pt"
    try:
        torch.save(outcome, path)
    except BaseException as error:
        message = (
            f"the grader cannot read what your function returned ({_describe(error)['message']}): "
            "return tensors, numbers, strings, or tuples, lists and dicts of them"
        )
        raised = {"type": "TypeError", "builtin": True, "message": message}
        torch.save({"raised": raised, "arguments": (args, kwargs)}, path)


def _watched():
    for name in WATCHED_MODULES + tuple(n for n in sys.modules if n.startswith("course_lib")):
        if name in sys.modules and not name.startswith("course_lib.grading"):
            yield name, sys.modules[name]
    for path in WATCHED_CLASSES:
        module, _, attr = path.rpartition(".")
        if module in sys.modules:
            yield path, getattr(sys.modules[module], attr, None)


def fingerprint(path: str) -> None:
    """Save ``{"torch.allclose": id(...), ...}`` for every callable the watched names hold."""
    ids = {}
    for name, holder in _watched():
        ids[f"sys.modules[{name}]"] = id(sys.modules.get(name, holder))
        for attr, value in list(vars(holder).items()):
            if callable(value) or isinstance(value, (staticmethod, classmethod, property)):
                ids[f"{name}.{attr}"] = id(value)
    with open(path, "w") as file:
        json.dump(ids, file)
