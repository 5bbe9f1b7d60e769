"""A scalar autograd engine, small enough to read in one sitting.

Explained in the backprop chapter, section 4. A :class:`Value` holds one number (``data``)
and, after :meth:`Value.backward`, the derivative of the final result with respect to it
(``grad``). Every operation on Values builds a new Value that remembers its inputs and a
small function that passes the gradient back to them: the local derivative times the
gradient that arrives from above (the chain rule). ``backward`` visits the nodes in reverse
topological order, so a node passes its gradient on only after it has collected all of it.

    >>> x = Value(2.0, label="x")
    >>> y = (x * x + 1).log()
    >>> y.backward()
    >>> round(x.grad, 6)  # d/dx log(x^2 + 1) = 2x / (x^2 + 1)
    0.8

:func:`graph` lists the nodes and edges (for :func:`draw_graph` or any other drawing tool).
"""

from __future__ import annotations

import math
from numbers import Real


class Value:
    """One scalar in a computation graph, with its gradient.

    Explained in the backprop chapter, section 4. Supports ``+ - * /``, ``**`` with a
    number as the exponent, and the methods :meth:`exp`, :meth:`log`, :meth:`tanh`,
    :meth:`sigmoid` and :meth:`relu`. Plain Python numbers mix in freely: ``2 * x + 1``.
    """

    def __init__(self, data, children: tuple = (), op: str = "", label: str = ""):
        if isinstance(data, Value):
            raise TypeError("Value(Value(...)): pass the number itself, e.g. Value(v.data).")
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
                f"Value ** {type(exponent).__name__}: the exponent must be a plain number; "
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
        """e to the power of this Value (backprop chapter, section 4)."""
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():  # d(e^a)/da = e^a
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        """Natural logarithm; the Value must be positive (backprop chapter, section 4)."""
        if self.data <= 0:
            raise ValueError(f"log of {self.data}: the logarithm needs a positive number.")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():  # d(log a)/da = 1/a
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        """Hyperbolic tangent (backprop chapter, section 4)."""
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():  # d tanh(a)/da = 1 - tanh(a)^2
            self.grad += (1 - out.data**2) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self) -> Value:
        """The logistic function 1 / (1 + e^-a), computed without overflow (backprop chapter, section 4)."""
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
        """max(0, a); its derivative at 0 is taken as 0, as PyTorch does (backprop chapter, section 4)."""
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
        """Fill ``grad`` of every node of the graph with d(self)/d(node) (backprop chapter, section 4).

        Gradients are reset to zero first, so calling ``backward`` twice gives the same
        numbers (PyTorch, by contrast, adds into ``.grad`` until you zero it).
        """
        order = topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0  # d(self)/d(self)
        for node in reversed(order):  # every node after all the nodes that use it
            node._backward()


def _as_value(x) -> Value:
    return x if isinstance(x, Value) else Value(x)


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each listed after its children (backprop chapter, section 4).

    A depth-first search with an explicit stack, so graphs thousands of nodes deep (an
    unrolled RNN) do not hit Python's recursion limit.
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
    """The nodes (inputs first) and the edges ``(child, parent)`` of the graph under ``root``.

    Explained in the backprop chapter, section 4; :func:`draw_graph` draws them.
    """
    nodes = topological_order(root)
    edges = [(child, node) for node in nodes for child in node.children]
    return nodes, edges


def draw_graph(root: Value, ax=None, title: str = ""):
    """Draw the computation graph under ``root`` with matplotlib; return the figure.

    Explained in the backprop chapter, section 4. Columns are depths (``root`` on the right,
    each input just left of the first node that uses it); each box shows the node's
    operation, label, value and gradient.
    """
    import matplotlib.pyplot as plt

    nodes, edges = graph(root)
    depth = {}
    for node in nodes:  # children come first, so their depth is known
        depth[id(node)] = 1 + max((depth[id(c)] for c in node.children), default=-1)
    users: dict[int, list[int]] = {}
    for child, parent in edges:
        users.setdefault(id(child), []).append(depth[id(parent)])
    for node in nodes:  # an input sits just left of the first node that uses it
        if not node.children and id(node) in users:
            depth[id(node)] = min(users[id(node)]) - 1
    columns: dict[int, list[Value]] = {}
    for node in nodes:
        columns.setdefault(depth[id(node)], []).append(node)
    position = {}
    for d, column in columns.items():
        for row, node in enumerate(column):
            position[id(node)] = (d, (len(column) - 1) / 2 - row)
    height = max(len(c) for c in columns.values())
    if ax is None:
        _, ax = plt.subplots(figsize=(1.4 * len(columns) + 0.4, 0.68 * height + 0.8))
    for child, parent in edges:
        ax.annotate(
            "",
            xy=position[id(parent)],
            xytext=position[id(child)],
            arrowprops=dict(arrowstyle="->", color="0.55", shrinkA=33, shrinkB=33),
        )
    for node in nodes:
        x, y = position[id(node)]
        head = " ".join(s for s in (node.op and f"[{node.op}]", node.label) if s) or "const"
        ax.text(
            x,
            y,
            f"{head}\ndata {node.data:.4f}\ngrad {node.grad:.4f}",
            ha="center",
            va="center",
            fontsize=8,
            family="monospace",
            bbox=dict(boxstyle="round", facecolor="#e8f0fe" if not node.children else "#fdf3e1", ec="0.4"),
        )
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_ylim(-height / 2 - 0.2, height / 2 + 0.2)
    ax.axis("off")
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure
