"""The grader's side of a submission's kernel: reading its values, calling its functions.

A checker runs in the grader's own process. Each argument it needs comes from the kernel
that ran the submission: a value (a number, a tensor, a model) is saved there and loaded
here as data, with ``torch.load(weights_only=True)`` and an allow-list of torch, numpy and
course_lib classes, so a file the submission wrote can never run code here; a function
becomes a :class:`RemoteFunction`, which runs the student's function in the kernel on the
checker's arguments and brings back the result, the exception it raised, and any change
it made to its arguments in place. A checker whose test builds objects that cannot
travel (a ``Value`` and its closures) sends a probe's name instead, and the probe runs
beside the function in the kernel (:meth:`RemoteFunction.run_beside`). Whatever the
submission does to torch, the checker or the call stack inside its kernel, the comparison
happens here, where it cannot reach.
Explained in the instructor's guide ("How the grader decides").
"""

from __future__ import annotations

import builtins
import functools
import importlib
import pkgutil

import torch


class SubmissionTimeout(BaseException):
    """The notebook's time limit ran out (a BaseException: no checker may swallow it)."""


class KernelGone(BaseException):
    """The kernel running the submission died or stopped answering."""


class UnreadableValue(TypeError):
    """A value the submission sent is not plain data the grader can load safely."""


@functools.cache
def _safe_classes() -> tuple:
    import numpy as np

    classes = [np.dtype, np.ndarray, np._core.multiarray.scalar, np._core.multiarray._reconstruct]
    classes += [c for c in vars(np.dtypes).values() if isinstance(c, type)]
    classes += [torch._C.Generator, torch.Size]
    classes += [c for c in vars(torch.nn).values() if isinstance(c, type) and issubclass(c, torch.nn.Module)]
    import course_lib

    for info in pkgutil.walk_packages(course_lib.__path__, "course_lib."):
        if info.name.startswith("course_lib.grading"):
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception:  # an optional dependency missing: its classes cannot arrive anyway
            continue
        classes += [c for c in vars(module).values() if isinstance(c, type) and c.__module__ == info.name]
    return tuple(classes)


def load_untrusted(path) -> object:
    """Load a value the submission's kernel saved, as data only (never code)."""
    try:
        with torch.serialization.safe_globals(list(_safe_classes())):
            return torch.load(path, weights_only=True, map_location="cpu")
    except FileNotFoundError:
        raise UnreadableValue("the value never arrived (the kernel did not save it)") from None
    except Exception as error:
        first = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise UnreadableValue(f"the grader cannot load it as plain data ({first[:200]})") from None


def load_trusted(path) -> object:
    """Load a value the reference run (the handed-out notebook, no submission) saved."""
    return torch.load(path, weights_only=False, map_location="cpu")


def raised_error(description: object) -> Exception:
    """The exception the student's function raised, rebuilt here with its name and message."""
    if not isinstance(description, dict):
        return RuntimeError("your function failed in a way the grader cannot read")
    name = str(description.get("type", "Exception"))[:100]
    message = str(description.get("message", ""))[:2000]
    kind = getattr(builtins, name, None) if description.get("builtin") is True else None
    if isinstance(kind, type) and issubclass(kind, Exception):
        return kind(message)
    return type(name if name.isidentifier() else "Exception", (RuntimeError,), {})(message)


def copy_back(original, returned) -> None:
    """Apply in place to ``original`` what the student's function did to its copy."""
    if isinstance(original, torch.Tensor) and isinstance(returned, torch.Tensor):
        same = original.shape == returned.shape and original.dtype == returned.dtype
        if same and not torch.equal(original.detach().cpu(), returned):
            with torch.no_grad():
                original.copy_(returned)
    elif isinstance(original, torch.Generator) and isinstance(returned, torch.Generator):
        original.set_state(returned.get_state())
    elif isinstance(original, (list, tuple)) and isinstance(returned, (list, tuple)):
        for a, b in zip(original, returned):
            copy_back(a, b)
    elif isinstance(original, dict) and isinstance(returned, dict):
        for key in original.keys() & returned.keys():
            copy_back(original[key], returned[key])


class RemoteFunction:
    """Stands in the checker for a function the student wrote; it runs in the kernel.

    ``kernel`` is the :class:`~course_lib.grading.run.KernelRun` of the submission and
    ``key`` the name :func:`~course_lib.grading.kernel_side.capture` stored it under.
    """

    def __init__(self, kernel, key: str, name: str):
        self.kernel, self.key, self.__name__ = kernel, key, name

    def __repr__(self) -> str:
        return f"<your function {self.__name__}>"

    def __call__(self, *args, **kwargs):
        return self._run(None, args, kwargs)

    def run_beside(self, probe, *args):
        """Run ``probe(this function, *args)`` in the kernel (:func:`course_lib.checks.run_beside`).

        Only the probe's name travels; the kernel imports it from ``course_lib.exercises``.
        """
        if not probe.__module__.startswith("course_lib.exercises."):
            raise ValueError(f"a probe must live in course_lib.exercises, not {probe.__module__}")
        return self._run((probe.__module__, probe.__qualname__), args, {})

    def _run(self, probe, args, kwargs):
        number = self.kernel.next_call_number()
        exchange = self.kernel.exchange
        try:
            torch.save((args, kwargs, probe), exchange / f"call-{number}.in.pt")
        except Exception as error:  # the checker passed something that cannot travel
            self.kernel.grader_problem = f"the checker's arguments cannot be sent to the notebook ({error})"
            raise
        self.kernel.execute(f"__grader__.call({str(exchange)!r}, {self.key!r}, {number})")
        outcome = load_untrusted(exchange / f"call-{number}.out.pt")
        if not isinstance(outcome, dict) or not ({"result", "raised"} & outcome.keys()):
            raise UnreadableValue("the answer came back in a form the grader does not know")
        copy_back((args, kwargs), outcome.get("arguments"))
        self.kernel.calls.append(outcome.get("raised"))
        if "raised" in outcome:
            raise raised_error(outcome["raised"])
        return outcome["result"]


def replaced_names(before: dict, after: dict, ignore: set[str]) -> list[str]:
    """Names whose object changed or vanished between two kernel fingerprints."""
    return sorted(
        name
        for name, ident in before.items()
        if name not in ignore and after.get(name) != ident and not name.startswith("builtins._")
    )
