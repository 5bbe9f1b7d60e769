"""One epoch of the MNIST project's CNN, fed two ways, timed in the same run.

* ``course_lib``: the whole data set is one tensor on the device; a batch is an index slice
  (``course_lib.train.train_epoch``).
* ``DataLoader``: the recipe of pytorch/examples ``mnist/main.py``: a torchvision data set
  with ``ToTensor`` + ``Normalize``, a shuffling ``DataLoader`` (one worker, pinned memory
  on CUDA), each batch copied to the device.

Same model (``ClassicCNN``), optimizer (Adam, lr 1e-3), batch size and images. Uses the full
Fashion-MNIST training set (60,000 images, Debian's ``dataset-fashion-mnist``) when present,
else the 4,000-image MNIST sample. Prints samples per second for each way and their ratio.

    python benchmarks/bench_batching.py [--batch-size 64] [--limit N] [--device cuda]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

from course_lib.config import banner, get_device, get_profile, seed_everything
from course_lib.data import DataError, Split, data_root, load_fashion_mnist, mnist_sample_root
from course_lib.models import ClassicCNN
from course_lib.train import train_epoch


def torchvision_dataset(use_fashion: bool, mean: float, std: float):
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean,), (std,))])
    if use_fashion:
        return datasets.FashionMNIST(str(data_root()), train=True, download=False, transform=transform)
    return datasets.MNIST(str(mnist_sample_root()), train=True, download=False, transform=transform)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_course_lib(split: Split, batch_size: int, device: torch.device) -> float:
    seed_everything(0)
    model = ClassicCNN().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    sync(device)
    start = time.perf_counter()
    train_epoch(model, split, optimizer, batch_size=batch_size, generator=generator)
    sync(device)
    return time.perf_counter() - start


def time_dataloader(dataset, batch_size: int, device: torch.device) -> float:
    seed_everything(0)
    model = ClassicCNN().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=1, pin_memory=device.type == "cuda"
    )
    model.train()
    sync(device)
    start = time.perf_counter()
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    sync(device)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    parser.add_argument("--repeats", type=int, default=1, help="epochs per way; the fastest counts")
    args = parser.parse_args()

    device = get_device(args.device)
    profile = get_profile("gpu" if device.type != "cpu" else "cpu")
    try:
        data = load_fashion_mnist(profile, device=device)
        use_fashion = True
    except DataError as error:
        from course_lib.data import load_mnist

        print(f"Fashion-MNIST unavailable ({error}); falling back to the MNIST sample.")
        data = load_mnist(profile, source="sample", device=device)
        use_fashion = False
    dataset = torchvision_dataset(use_fashion, data.mean, data.std)
    n = min(args.limit or len(dataset), len(dataset))
    dataset = Subset(dataset, range(n))
    # The same n images, normalised the same way, as one device tensor.
    images = torch.stack([dataset[i][0] for i in range(n)]).to(device)
    labels = torch.tensor([dataset[i][1] for i in range(n)], device=device)
    split = Split(images, labels)
    print(banner(profile, device, f"{data.name} training images, first {n:,}"))
    print(f"one epoch of ClassicCNN, batch size {args.batch_size}, {n:,} images, best of {args.repeats}")

    # Warm-up: first calls pay for kernel selection and allocation, not for batching.
    warm = Split(split.x[: 4 * args.batch_size], split.y[: 4 * args.batch_size])
    time_course_lib(warm, args.batch_size, device)
    time_dataloader(Subset(dataset, range(4 * args.batch_size)), args.batch_size, device)

    ours = min(time_course_lib(split, args.batch_size, device) for _ in range(args.repeats))
    theirs = min(time_dataloader(dataset, args.batch_size, device) for _ in range(args.repeats))
    print(f"course_lib index batching : {n / ours:>10,.0f} samples/s  ({ours:.2f} s)")
    print(f"DataLoader + ToTensor     : {n / theirs:>10,.0f} samples/s  ({theirs:.2f} s)")
    print(f"ratio (course_lib / DataLoader): {theirs / ours:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
