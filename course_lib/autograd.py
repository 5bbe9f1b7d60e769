"""A scalar autograd engine, small enough to read in one sitting.

Explained in book/backprop.md, section 4. A :class:`Value` holds one number (``data``)
and, after :meth:`Value.backward`, the derivative of the final result with respect to it
(``grad``). Every operation on Values builds a new Value that remembers its inputs and a
small function that passes the gradient back to them: the local derivative times the
gradient that arrives from above (the chain rule). ``backward`` visits the nodes in
reverse topological order, so a node passes its gradient on only after it has collected
all of it.

    >>> x = Value(2.0, label="x")
    >>> y = (x * x + 1).log()
    >>> y.backward()
    >>> round(x.grad, 6)  # d/dx log(x^2 + 1) = 2x / (x^2 + 1)
    0.8

:func:`graph` lists the nodes and edges (``course_lib.plots.draw_graph`` draws them).
Like PyTorch, ``backward`` *adds* into the inputs' ``grad``; :func:`zero_grad` resets
them.
"""

from __future__ import annotations

import math
from numbers import Real


class Value:
    """One scalar in a computation graph, with its gradient.

    Explained in book/backprop.md, section 4. Supports ``+ - * /``, ``**`` with a
    number as the exponent, and the methods :meth:`exp`, :meth:`log`, :meth:`tanh`,
    :meth:`sigmoid` and :meth:`relu`. Plain Python numbers mix in freely: ``2 * x + 1``.
    """

    def __init__(self, data, children: tuple = (), op: str = "", label: str = ""):
        if isinstance(data, Value):
            raise TypeError("Value(Value(...)): pass the number itself: Value(v.data).")
        if not isinstance(data, Real) or isinstance(data, bool):
            raise TypeError(
                f"a Value holds one real number, got {type(data).__name__} {data!r}; "
                "for a tensor element use float(t), for a tensor use torch.autograd."
            )
        self.data = float(data)
        self.grad = 0.0
        self.children = tuple(children)  # the Values this one was computed from
        self.op = op  # the operation that made it ("" for an input)
        self.label = label  # a name for drawings; optional
        self._backward = lambda: None  # adds this node's gradient into its children's

    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"

    # --- the operations: each returns a new node and says how to pass its gradient back

    def __add__(self, other) -> Value:
        other = _as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():  # d(a + b)/da = 1, d(a + b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __sub__(self, other) -> Value:
        other = _as_value(other)
        out = Value(self.data - other.data, (self, other), "−")

        def _backward():  # d(a - b)/da = 1, d(a - b)/db = -1
            self.grad += out.grad
            other.grad -= out.grad

        out._backward = _backward
        return out

    def __mul__(self, other) -> Value:
        other = _as_value(other)
        out = Value(self.data * other.data, (self, other), "×")

        def _backward():  # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent) -> Value:
        if isinstance(exponent, Value) or not isinstance(exponent, Real):
            raise TypeError(
                f"Value ** {type(exponent).__name__}: the exponent must be a plain "
                "number; "
                "for a Value exponent write (exponent * base.log()).exp()."
            )
        if self.data == 0 and exponent < 1:
            raise ZeroDivisionError(f"0 ** {exponent} has no finite derivative at 0.")
        if self.data < 0 and not float(exponent).is_integer():
            raise ValueError(f"({self.data}) ** {exponent}: a negative base needs a whole-number exponent.")
        out = Value(self.data**exponent, (self,), f"**{exponent:g}")

        def _backward():  # d(a^k)/da = k a^(k-1)
            self.grad += exponent * self.data ** (exponent - 1) * out.grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        """e to the power of this Value."""
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():  # d(e^a)/da = e^a
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        """Natural logarithm; the Value must be positive."""
        if self.data <= 0:
            raise ValueError(f"log of {self.data}: the logarithm needs a positive input")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():  # d(log a)/da = 1/a
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        """Hyperbolic tangent."""
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():  # d tanh(a)/da = 1 - tanh(a)^2
            self.grad += (1 - out.data**2) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self) -> Value:
        """The logistic function 1 / (1 + e^-a), computed without overflow."""
        if self.data >= 0:
            s = 1 / (1 + math.exp(-self.data))
        else:  # same number, but e^a cannot overflow for very negative a
            s = math.exp(self.data) / (1 + math.exp(self.data))
        out = Value(s, (self,), "σ")

        def _backward():  # dσ(a)/da = σ(a) (1 - σ(a))
            self.grad += out.data * (1 - out.data) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        """max(0, a); its derivative at 0 is taken as 0, as PyTorch does."""
        out = Value(max(0.0, self.data), (self,), "ReLU")

        def _backward():  # 1 where a > 0, else 0
            self.grad += (self.data > 0) * out.grad

        out._backward = _backward
        return out

    # --- the rest is built from the operations above

    def __neg__(self) -> Value:
        return self * -1

    def __truediv__(self, other) -> Value:
        other = _as_value(other)
        if other.data == 0:
            raise ZeroDivisionError("division of a Value by zero.")
        return self * other**-1

    def __radd__(self, other) -> Value:  # 1 + x
        return self + other

    def __rmul__(self, other) -> Value:  # 2 * x
        return self * other

    def __rsub__(self, other) -> Value:  # 1 - x
        return _as_value(other) - self

    def __rtruediv__(self, other) -> Value:  # 1 / x
        return _as_value(other) / self

    # --- backpropagation

    def backward(self) -> None:
        """Add d(self)/d(input) into ``grad`` of every input of the graph, like PyTorch.

        Inputs (Values made from a number) accumulate across calls until
        :func:`zero_grad` resets them; intermediate results start from zero on every
        call. Explained in book/backprop.md, section 4.
        """
        order = topological_order(self)
        for node in order:
            if node.children:  # an intermediate result: this pass's gradient only
                node.grad = 0.0
        self.grad += 1.0  # d(self)/d(self)
        for node in reversed(order):  # every node after all the nodes that use it
            node._backward()


def zero_grad(values) -> None:
    """Set the gradient of every Value in ``values`` to zero before the next backward.

    The same job as ``optimizer.zero_grad()`` in PyTorch. Explained in book/backprop.md,
    section 4.
    """
    for value in values:
        value.grad = 0.0


def __getattr__(name):  # draw_graph moved to course_lib.plots with the other figures
    if name == "draw_graph":
        from .plots import draw_graph

        return draw_graph
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _as_value(x) -> Value:
    return x if isinstance(x, Value) else Value(x)


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each listed after its children.

    Explained in book/backprop.md, section 4. A depth-first search with an explicit
    stack, so graphs thousands of nodes deep (an unrolled RNN) do not hit Python's
    recursion limit.
    """
    if not isinstance(root, Value):
        raise TypeError(f"expected a Value, got {type(root).__name__}.")
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))  # comes back after its children
            stack.extend((child, False) for child in node.children)
    return order


def graph(root: Value) -> tuple[list[Value], list[tuple[Value, Value]]]:
    """The nodes (inputs first) and the edges ``(child, parent)`` under ``root``.

    Explained in book/backprop.md, section 4; ``course_lib.plots.draw_graph`` draws
    them.
    """
    nodes = topological_order(root)
    edges = [(child, node) for node in nodes for child in node.children]
    return nodes, edges
