"""One convolutional layer computed three ways, timed in the same run: loops, unfold, F.conv2d.

The convolutional networks chapter (section 2) times these three on its profile's batch
size; this script does the same on any device and batch size, so the ratios can be measured
on a GPU too. ``conv2d_loops`` and ``conv2d_unfold`` are the chapter's functions
(``tests/test_conv.py`` checks that these copies agree with ``F.conv2d``).

Layer: a batch of 28x28 maps with 32 channels into 64 filters of 3x3, padding 1 (the shape
of the classic CNN's middle layer at full resolution). All three run on the same batch;
each time is the best of ``--repeats`` runs after a warm-up, reported per image and as a
ratio to ``F.conv2d``.

    python benchmarks/bench_conv.py [--batch-size 64] [--repeats 5] [--device cuda]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from course_lib.config import banner, get_device, get_profile
from course_lib.conv import conv_output_size


def conv2d_loops(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """conv2d with a loop over output positions (chapter, section 1)."""
    x = F.pad(x, (padding, padding, padding, padding))
    n, c_in, h, w = x.shape
    c_out, _, k, _ = weight.shape
    span = dilation * (k - 1) + 1
    h_out, w_out = (h - span) // stride + 1, (w - span) // stride + 1
    y = x.new_zeros(n, c_out, h_out, w_out)
    for i in range(h_out):
        for j in range(w_out):
            top, left = i * stride, j * stride
            window = x[:, :, top : top + span : dilation, left : left + span : dilation]
            y[:, :, i, j] = torch.einsum("ncab,ocab->no", window, weight)
    if bias is not None:
        y += bias.reshape(1, -1, 1, 1)
    return y


def conv2d_unfold(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """conv2d as one matrix product with the unfolded input (chapter, section 2)."""
    n, _, h, w = x.shape
    c_out, _, k, _ = weight.shape
    cols = F.unfold(x, k, dilation=dilation, padding=padding, stride=stride)
    y = weight.reshape(c_out, -1) @ cols
    if bias is not None:
        y = y + bias.reshape(1, -1, 1)
    h_out = conv_output_size(h, k, stride, padding, dilation)
    w_out = conv_output_size(w, k, stride, padding, dilation)
    return y.reshape(n, c_out, h_out, w_out)


def best_time(fn, repeats: int, device: torch.device) -> float:
    """The fastest of ``repeats`` timed calls after one warm-up call, synchronising CUDA."""

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    args = parser.parse_args()

    device = get_device(args.device)
    profile = get_profile("gpu" if device.type != "cpu" else "cpu")
    print(banner(profile, device, "random 28x28 maps, 32 channels"))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch_size, 32, 28, 28, generator=g).to(device)
    weight = (torch.randn(64, 32, 3, 3, generator=g) / 17).to(device)
    bias = torch.zeros(64).to(device)
    ways = {"loops": conv2d_loops, "unfold": conv2d_unfold, "F.conv2d": F.conv2d}
    seconds = {}
    with torch.no_grad():
        reference = F.conv2d(x, weight, bias, padding=1)
        for name, conv in ways.items():
            if not torch.allclose(conv(x, weight, bias, padding=1), reference, atol=1e-3):
                raise AssertionError(f"{name} disagrees with F.conv2d")
            seconds[name] = best_time(
                lambda conv=conv: conv(x, weight, bias, padding=1), args.repeats, device
            )
    print(f"batch {args.batch_size}, 32 -> 64 channels, 3x3, padding 1, best of {args.repeats}")
    for name, s in seconds.items():
        ratio = s / seconds["F.conv2d"]
        print(f"{name:9} {1e3 * s / args.batch_size:9.4f} ms per image   {ratio:8.1f}x F.conv2d")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
