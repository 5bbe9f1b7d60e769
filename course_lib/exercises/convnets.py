"""Checkers for the convolutional networks chapter's exercises.

Each returns a :class:`~course_lib.checks.Verdict` that says what was expected and what came
back. ``tests/test_exercises_convnets.py`` runs each against the chapter's reference solution
(must pass), the empty stub and plausible wrong answers (must fail).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..checks import Wrong, answer_int, answer_number, answer_tensor, checker, matches, precision_note
from ..conv import named_kernels, shift_images


def _random_conv_cases(generator: torch.Generator, n: int):
    """Random (x, weight, bias, stride, padding) with the kernel always fitting the padded input."""
    cases = []
    for i in range(n):
        k = int(torch.randint(1, 5, (), generator=generator))
        stride = 1 if i < 2 else int(torch.randint(1, 4, (), generator=generator))
        padding = 0 if i < 2 else int(torch.randint(0, 3, (), generator=generator))
        h = int(torch.randint(max(k - 2 * padding, 1), 12, (), generator=generator))
        w = int(torch.randint(max(k - 2 * padding, 1), 12, (), generator=generator))
        n_img, c_in, c_out = (int(torch.randint(1, 4, (), generator=generator)) for _ in range(3))
        x = torch.randn(n_img, c_in, h, w, generator=generator, dtype=torch.float64)
        weight = torch.randn(c_out, c_in, k, k, generator=generator, dtype=torch.float64)
        bias = torch.randn(c_out, generator=generator, dtype=torch.float64)
        cases.append((x, weight, bias, stride, padding))
    # one case where stride and padding both matter and the kernel is not symmetric
    x = torch.randn(2, 3, 9, 8, generator=generator, dtype=torch.float64)
    weight = torch.randn(4, 3, 3, 3, generator=generator, dtype=torch.float64)
    cases.append((x, weight, torch.randn(4, generator=generator, dtype=torch.float64), 2, 1))
    return cases


@checker("Exercise 1, conv2d as a sum of shifted matrix products")
def check_conv2d(student_fn) -> str:
    """``student_fn(x, weight, bias, stride, padding)`` must equal ``F.conv2d`` on random shapes.

    Used by the convolutional networks chapter's exercises.
    """
    cases = _random_conv_cases(torch.Generator().manual_seed(11), 24)
    for x, weight, bias, stride, padding in cases:
        expected = F.conv2d(x, weight, bias, stride=stride, padding=padding)
        originals = (x.clone(), weight.clone(), bias.clone())
        got = student_fn(x, weight, bias, stride, padding)
        setting = f"x {tuple(x.shape)}, weight {tuple(weight.shape)}, stride={stride}, padding={padding}"
        if not all(torch.equal(a, b) for a, b in zip(originals, (x, weight, bias))):
            raise Wrong(f"your function changed its inputs in place ({setting}): compute new tensors.")
        got = answer_tensor(got, f"your output for {setting}")
        if tuple(got.shape) != tuple(expected.shape):
            raise Wrong(
                f"for {setting} expected output shape {tuple(expected.shape)}, got {tuple(got.shape)}. "
                "Each spatial size is floor((size + 2*padding - kernel_size) / stride) + 1."
            )
        if matches(got, expected, atol=1e-8, rtol=1e-6):
            continue
        flipped = F.conv2d(x, weight.flip(-1, -2), bias, stride=stride, padding=padding)
        if matches(got, flipped, atol=1e-8, rtol=1e-6):
            raise Wrong(
                "your output is a true convolution (kernel flipped). PyTorch's conv2d is a "
                "cross-correlation: multiply the window by the kernel as it is, without flipping."
            )
        if matches(got, expected - bias.reshape(1, -1, 1, 1), atol=1e-8, rtol=1e-6):
            raise Wrong("the values are right except for the bias: add bias[o] to every output of filter o.")
        worst = (got.double() - expected).abs().max().item()
        note = precision_note(got, expected)
        raise Wrong(f"for {setting} your output differs from F.conv2d by up to {worst:.3g}.{note}")
    return f"matches F.conv2d on {len(cases)} random shapes, strides and paddings."


@checker("Exercise 2, the output-size formula")
def check_output_size(student_fn) -> str:
    """``student_fn(size, kernel_size, stride, padding, dilation)`` must give F.conv2d's output size.

    It must also raise ``ValueError`` when the (dilated) kernel is larger than the padded
    input. Used by the convolutional networks chapter's exercises.
    """
    g = torch.Generator().manual_seed(5)
    valid = 0
    for _ in range(300):
        size, kernel_size, stride, padding, dilation = (
            int(torch.randint(lo, hi, (), generator=g))
            for lo, hi in ((1, 16), (1, 6), (1, 4), (0, 3), (1, 4))
        )
        setting = (
            f"size={size}, kernel_size={kernel_size}, stride={stride}, padding={padding}, dilation={dilation}"
        )
        span = dilation * (kernel_size - 1) + 1
        if span > size + 2 * padding:
            try:
                got = student_fn(size, kernel_size, stride, padding, dilation)
            except ValueError:
                continue
            raise Wrong(
                f"for {setting} the kernel spans {span} pixels but the padded input has only "
                f"{size + 2 * padding}: PyTorch refuses this; raise ValueError with a clear message "
                f"(your function returned {got!r})."
            )
        expected = F.conv2d(
            torch.zeros(1, 1, size, 1), torch.zeros(1, 1, kernel_size, 1),
            stride=(stride, 1), padding=(padding, 0), dilation=(dilation, 1),
        ).shape[2]  # fmt: skip
        got = answer_int(student_fn(size, kernel_size, stride, padding, dilation), f"the size for {setting}")
        if got != expected:
            hint = ""
            no_dilation = (size + 2 * padding - kernel_size) // stride + 1
            if dilation > 1 and got == no_dilation:
                hint = " With dilation d a k-wide kernel spans d*(k-1)+1 pixels."
            elif got == -(-(size + 2 * padding - span) // stride) + 1:
                hint = " Round down (floor): a window that would stick out past the edge is not used."
            raise Wrong(f"for {setting} F.conv2d gives an output of size {expected}, you gave {got}.{hint}")
        valid += 1
    return f"{valid} valid settings agree with F.conv2d, and the impossible ones raise ValueError."


@checker("Exercise 3, the backward pass of 2x2 max pooling")
def check_maxpool_backward(student_fn) -> str:
    """``student_fn(x, grad_out)`` must return d(loss)/dx of ``F.max_pool2d(x, 2)``, as autograd does.

    Inputs are random floats, so no window has a tie (where PyTorch would send the whole
    gradient to the first maximum in the window). Odd sizes check that the row and column
    left over by the floor get zero gradient. Used by the convolutional networks chapter.
    """
    g = torch.Generator().manual_seed(7)
    shapes = [(1, 1, 4, 4), (2, 3, 6, 8), (1, 2, 5, 7), (3, 1, 2, 2)]
    for shape in shapes:
        x = torch.randn(shape, generator=g, dtype=torch.float64)
        leaf = x.clone().requires_grad_(True)
        out = F.max_pool2d(leaf, 2)
        grad_out = torch.randn(out.shape, generator=g, dtype=torch.float64)
        out.backward(grad_out)
        expected = leaf.grad
        hint = "The gradient has the input's shape."
        got = answer_tensor(student_fn(x.clone(), grad_out.clone()), "your gradient", x.shape, hint=hint)
        if matches(got, expected):
            continue
        avg_input = x.clone().requires_grad_(True)
        F.avg_pool2d(avg_input, 2).backward(grad_out)
        raise_spread = matches(got, avg_input.grad)
        if raise_spread:
            raise Wrong(
                "you spread each window's gradient evenly over its 4 pixels: that is average "
                "pooling's gradient. Max pooling's output depends only on the largest pixel of each "
                "window, so all of the gradient goes there and the other 3 get 0."
            )
        if (got != 0).sum() > (expected != 0).sum():
            raise Wrong(
                f"for input shape {tuple(x.shape)} {int((got != 0).sum())} pixels got a gradient, but only "
                f"the {int((expected != 0).sum())} window maxima should (one per window; pixels outside "
                "every window, in an odd last row or column, get 0)."
            )
        worst = (got.double() - expected).abs().max().item()
        raise Wrong(
            f"for input shape {tuple(x.shape)} your gradient differs from autograd's by up to {worst:.3g}."
            + precision_note(got, expected)
        )
    return f"matches autograd on {len(shapes)} random inputs, odd sizes included."


def _step_images(size: int = 12) -> dict[str, torch.Tensor]:
    """Synthetic edges: bright above / dark below, its opposite, and the two vertical ones."""
    top = torch.zeros(1, 1, size, size)
    top[..., : size // 2, :] = 1.0
    left = top.transpose(-1, -2).contiguous()
    return {"bright above": top, "bright below": 1 - top, "bright left": left, "bright right": 1 - left}


@checker("Exercise 4, a kernel for one edge orientation")
def check_edge_kernel(kernel, digits: torch.Tensor | None = None) -> str:
    """``kernel`` (3x3, or a function returning it) must find horizontal edges bright above, dark below.

    On synthetic step edges: a clearly positive response to "bright above, dark below", at most
    a quarter of it to either vertical edge, and a negative (or no) response to the opposite
    polarity; on a flat image: about 0 (the weights sum to about 0). On real ``digits``
    (N, 1, H, W) pixel images, if given: the response must follow the digits' own
    bright-above-dark-below edges (cosine similarity with the flipped Sobel y response at
    least 0.5, and twice its similarity with the vertical Sobel response).
    Used by the convolutional networks chapter's exercises.
    """
    if callable(kernel):  # the chapter passes a function, so an unfinished stub raises in here
        kernel = kernel()
    k = answer_tensor(kernel, "your 3x3 kernel", (3, 3)).to(torch.float64)
    scale = k.abs().sum().item()
    if scale == 0:
        raise Wrong("your kernel is all zeros: it responds to nothing.")
    weight = k.reshape(1, 1, 3, 3)
    flat = F.conv2d(torch.ones(1, 1, 5, 5, dtype=torch.float64), weight).abs().max().item()
    if flat > 1e-3 * scale:
        raise Wrong(
            f"on a flat grey image your kernel gives {flat:.3g}, not 0: make its weights sum to 0, so "
            "that only a change in brightness produces a response."
        )
    response = {name: F.conv2d(img.double(), weight).max().item() for name, img in _step_images().items()}
    strongest = max(response["bright above"], 0.0)
    vertical = max(abs(response["bright left"]), abs(response["bright right"]))
    below = response["bright below"]
    if below > 0.25 * scale and below > strongest and vertical <= 0.25 * below:
        raise Wrong(
            "your kernel responds to edges that are dark above and bright below: the opposite "
            "polarity. Flip its sign."
        )
    if strongest < 0.25 * scale:
        if vertical >= 0.25 * scale:
            what = "vertical edges"
        elif below > 0.25 * scale:
            what = "horizontal edges of the opposite polarity (dark above, bright below)"
        else:
            what = "no edge clearly"
        raise Wrong(
            f"on an edge bright above and dark below your kernel's largest response is {strongest:.3g} "
            f"(weights' total size {scale:.3g}); it responds to {what}. Put positive weights in the top "
            "row and negative ones in the bottom row."
        )
    if vertical > 0.25 * strongest:
        raise Wrong(
            f"your kernel also responds to vertical edges ({vertical:.3g} against {strongest:.3g} for the "
            "horizontal one): make each column's weights the same pattern, so left-right changes cancel."
        )
    if digits is not None:
        d = digits.detach().double().cpu()
        sobel = named_kernels()
        target = F.conv2d(d, -sobel["horizontal edges (Sobel y)"].double().reshape(1, 1, 3, 3)).flatten()
        across = F.conv2d(d, sobel["vertical edges (Sobel x)"].double().reshape(1, 1, 3, 3)).flatten()
        own = F.conv2d(d, weight).flatten()
        along = F.cosine_similarity(own, target, dim=0).item()
        other = abs(F.cosine_similarity(own, across, dim=0).item())
        if along < 0.5 or along < 2 * other:
            raise Wrong(
                f"on real digits your kernel's response resembles the bright-above-dark-below edge map "
                f"only weakly (cosine similarity {along:.2f}, against {other:.2f} for vertical edges)."
            )
        return (
            f"strong on horizontal edges bright above ({strongest:.3g}), weak on vertical ones "
            f"({vertical:.3g}); on {len(d)} real digits its response follows their edges "
            f"(cosine similarity {along:.2f})."
        )
    return (
        f"strong on horizontal edges bright above ({strongest:.3g}), weak on vertical ones ({vertical:.3g})."
    )


def _moved_accuracy(models, data, split, move) -> dict[str, float]:
    """Accuracy of each model on ``split`` with ``move`` (a ``(dx, dy)`` or a function) applied."""
    from ..metrics import accuracy, predict_logits

    pixels = data.pixels(split.x)
    moved = data.normalize(move(pixels) if callable(move) else shift_images(pixels, *move))
    return {name: accuracy(predict_logits(net, moved), split.y) for name, net in models.items()}


@checker("Exercise 5, shifting the digits diagonally")
def check_diagonal_shift(student_fn, models, data) -> str:
    """``student_fn()`` must return ``{name: [accuracy for shift 0, 1, 2, 3]}`` for ``models``.

    Each accuracy is on the validation split, every digit moved ``shift`` pixels right and
    ``shift`` down with zeros filling in. Used by book/convnets.md, exercise 5.
    """
    shifts = range(4)
    table = student_fn()
    if not isinstance(table, dict) or set(table) != set(models):
        raise Wrong(f"expected a dict with the keys {sorted(models)}, got {table!r:.200}.")
    got = {}
    for name in models:
        values = table[name]
        if isinstance(values, (torch.Tensor, np.ndarray)) and values.ndim == 1:
            values = list(values)  # an array of accuracies is as good as a list
        if not isinstance(values, (list, tuple)) or len(values) != len(shifts):
            raise Wrong(f"{name}: expected a list of {len(shifts)} accuracies (shifts 0 to 3).")
        got[name] = [answer_number(v, f"{name}, shift {s}", "0.91") for s, v in zip(shifts, values)]
        if any(1 < v <= 100 for v in got[name]):
            raise Wrong(f"{name}: these look like percentages; give accuracies as fractions.")

    def agrees(shift, expected):
        return all(abs(got[name][shift] - expected[name]) <= 1e-4 for name in models)

    if all(agrees(s, _moved_accuracy(models, data, data.val, (s, s))) for s in shifts):
        return f"the {len(models) * len(shifts)} validation accuracies match."
    last = shifts[-1]  # the largest shift tells the usual mistakes apart
    mistakes = [
        (data.test, (last, last), "these are test accuracies: compare models on the validation "
         "split (data.val) and keep the test split for the final number."),
        (data.val, (last, -last), "your digits move right and up: a positive dy moves them down."),
        (data.val, (-last, last), "your digits move left and down: a positive dx moves them right."),
        (data.val, (-last, -last), "your digits move left and up: use dx = dy = +shift."),
        (data.val, (last, 0), "your digits only move right: move them down as well."),
        (data.val, (0, last), "your digits only move down: move them right as well."),
        (data.val, lambda x: x.roll((last, last), dims=(-2, -1)),
         "your shift wraps around (torch.roll): pixels pushed out must not come back on the other "
         "side; use shift_images."),
    ]  # fmt: skip
    for split, move, hint in mistakes:
        if agrees(last, _moved_accuracy(models, data, split, move)):
            raise Wrong(hint)
    raise Wrong(
        "your accuracies differ from those of the validation digits shifted right and down "
        "(shift_images(pixels, shift, shift)); shift the pixels, then normalise, then predict."
    )


@checker("Exercise 6, depth for a 28-pixel receptive field")
def check_receptive_depths(student_fn) -> str:
    """``student_fn()`` must return ``(plain_depth, dilated_depth)`` for a 28-pixel field.

    Plain: 3x3 convolutions with stride 1; dilated: the dilation doubling every layer.
    Used by book/convnets.md, exercise 6.
    """
    from ..conv import receptive_fields

    def depth(dilation_of_layer):
        n = 1
        while receptive_fields([(3, 1, dilation_of_layer(i)) for i in range(n)])[-1].size < 28:
            n += 1
        return n

    expected = (depth(lambda i: 1), depth(lambda i: 2**i))
    got = student_fn()
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Wrong(f"expected a pair (plain_depth, dilated_depth), got {got!r}.")
    got = tuple(answer_int(v, f"the {which} depth") for v, which in zip(got, ("plain", "dilated")))
    if got == expected:
        return "both depths are right."
    if got == expected[::-1]:
        raise Wrong("the two depths are swapped: plain first, then dilated.")
    if got in (
        (expected[0] - 1, expected[1]),
        (expected[0], expected[1] - 1),
        (expected[0] - 1, expected[1] - 1),
    ):
        raise Wrong(
            "one layer short: the unit must see all 28 pixels, so stop at the first depth whose "
            "receptive field is at least 28, not the last one below it."
        )
    raise Wrong(
        f"got {got}. Build the stack as (kernel_size, stride, dilation) tuples, one per layer, and "
        "read receptive_fields(stack)[-1].size; add layers until it reaches 28."
    )
