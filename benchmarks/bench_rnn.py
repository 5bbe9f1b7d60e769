"""One LSTM layer's forward pass two ways, timed in the same run: our cell in a Python loop
against nn.LSTM (cuDNN on an NVIDIA GPU).

The recurrent networks chapter (section 9) runs the same measurement on its own device;
both call ``course_lib.rnn.time_lstm``, so nothing is copied. Each rate is the best of
``--repeats`` runs after the two results are checked to agree, reported in characters
(sequence steps x batch) per second and as a ratio to ``nn.LSTM``.

    python benchmarks/bench_rnn.py [--device cuda] [--batch-size 64] [--seq-len 100]
"""

from __future__ import annotations

import argparse

from course_lib.config import banner, get_device, get_profile
from course_lib.rnn import time_lstm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    device = get_device(args.device)
    profile = get_profile("gpu" if device.type != "cpu" else "cpu")
    print(banner(profile, device, "random inputs"))
    rates = time_lstm(device, args.batch_size, args.seq_len, args.hidden_size, args.repeats)
    print(
        f"one LSTM layer, batch {args.batch_size}, {args.seq_len} steps, "
        f"{args.hidden_size} units, best of {args.repeats}"
    )
    for name, rate in rates.items():
        ratio = rates["nn.LSTM"] / rate
        print(f"{name:15} {rate:14,.0f} characters/s   nn.LSTM is {ratio:7.1f}x faster")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
