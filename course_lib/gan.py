"""Generative adversarial networks: the losses, one training step, and how to judge samples.

Read it top to bottom: the two losses in logits, the training step and loop (two
optimisers, detached fakes, a fresh discriminator output for the generator), the 2-D ring
of Gaussians that makes mode collapse countable, and the numbers samples are judged by on
the course's own classifier features (Fréchet distance, class coverage, precision and
recall, nearest training neighbours). Explained in book/gans.md.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ._book import on_static_site
from .data import batches

# --------------------------------------------------------------------------- losses


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss, minus the minimax value: -E log D(x) - E log(1 - D(G(z))).

    In logits, with D = sigmoid(logit): mean(softplus(-real)) + mean(softplus(fake)).
    Explained in book/gans.md, section 1.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, saturating: bool = False) -> torch.Tensor:
    """The generator's loss: -E log D(G(z)) (non-saturating), or E log(1 - D(G(z))) (minimax).

    In logits: mean(softplus(-fake)), or -mean(softplus(fake)) with ``saturating=True``.
    Explained in book/gans.md, section 1.
    """
    if saturating:
        return -F.softplus(fake_logits).mean()
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean squared norm of the discriminator's gradient at real data, E ||grad_x logit(x)||^2.

    ``real`` must have ``requires_grad`` set before ``real_logits`` were computed from it.
    The penalty keeps the discriminator flat on the data (Mescheder et al., 2018).
    Explained in book/gans.md, section 3.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


# --------------------------------------------------------------------------- training


@dataclass
class GAN:
    """Two networks, one optimiser each, and the choices a training step makes.

    ``saturating`` uses the minimax generator loss (section 1), ``r1_weight`` adds
    ``r1_weight / 2 * r1_penalty`` to the discriminator's loss (section 3), and ``d_loss``
    replaces :func:`discriminator_loss` (label smoothing, say). Explained in book/gans.md,
    section 2.
    """

    generator: nn.Module
    discriminator: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    saturating: bool = False
    r1_weight: float = 0.0
    d_loss: Callable = discriminator_loss

    def __post_init__(self):
        require_own_optimiser(self.opt_g, self.generator, self.discriminator, ("opt_g", "generator"))
        require_own_optimiser(self.opt_d, self.discriminator, self.generator, ("opt_d", "discriminator"))


def require_own_optimiser(optimiser, owner: nn.Module, other: nn.Module, names: tuple[str, str]) -> None:
    """Raise ValueError unless ``optimiser`` updates only ``owner``'s parameters.

    One optimiser over both networks would move the discriminator in the generator's step.
    ``names`` are the optimiser's and the owner's names for the message. Explained in
    book/gans.md, section 2.
    """
    optimiser_name, owner_name = names
    mine = {id(p) for p in owner.parameters()}
    theirs = {id(p) for p in other.parameters()}
    updated = {id(p) for group in optimiser.param_groups for p in group["params"]}
    if not updated <= mine:
        other_name = "discriminator" if owner_name == "generator" else "generator"
        raise ValueError(
            f"{optimiser_name} must update only the {owner_name}'s parameters, but "
            f"{len(updated & theirs)} of the tensors it updates belong to the {other_name} "
            f"(and {len(updated - mine - theirs)} to neither network). Give each network its own "
            "optimiser: torch.optim.Adam(generator.parameters()) and "
            "torch.optim.Adam(discriminator.parameters())."
        )


def train_step(gan: GAN, real: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of GAN training: the discriminator on detached fakes, then the generator.

    Returns the two losses as detached 0-dim tensors. Explained in book/gans.md, section 2.
    """
    fake = gan.generator(z)

    # 1. Discriminator. Real and fake batches pass separately, so BatchNorm normalises each
    #    kind on its own; detach() stops this loss at the fakes, so no gradient reaches G.
    if gan.r1_weight:
        real = real.detach().requires_grad_(True)
    real_logits = gan.discriminator(real)
    d_loss = gan.d_loss(real_logits, gan.discriminator(fake.detach()))
    if gan.r1_weight:
        d_loss = d_loss + gan.r1_weight / 2 * r1_penalty(real_logits, real)
    gan.opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    gan.opt_d.step()

    # 2. Generator, against a fresh output of the discriminator just updated. The gradient
    #    also lands in D's .grad; D's next zero_grad clears it and opt_g never reads it.
    g_loss = generator_loss(gan.discriminator(fake), saturating=gan.saturating)
    gan.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    gan.opt_g.step()
    return d_loss.detach(), g_loss.detach()


@dataclass
class GANHistory:
    """Losses per step and whatever the loop's callback returned every few steps.

    Explained in book/gans.md, section 5.
    """

    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    checkpoints: list[tuple[int, object]] = field(default_factory=list)
    seconds: float = 0.0


def train_gan(
    gan: GAN,
    real_data: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    latent_dim: int | tuple[int, ...],
    seed: int = 0,
    every: int = 0,
    callback: Callable[[int], object] | None = None,
    progress: bool = True,
) -> GANHistory:
    """Run :func:`train_step` for ``steps`` steps over shuffled batches of ``real_data``.

    Noise of shape ``(batch_size, latent_dim)`` (or ``(batch_size, *latent_dim)`` for a
    tuple, as the ensembles of section 4 use) and the shuffling come from one seeded CPU
    generator, so a seed repeats a run. Every ``every`` steps (and after the last)
    ``callback(step)`` is called and its result kept in ``history.checkpoints``.
    Explained in book/gans.md, section 5.
    """
    if steps < 1 or batch_size < 1 or batch_size > len(real_data):
        raise ValueError(
            f"need steps >= 1 and 1 <= batch_size <= len(real_data) = {len(real_data)}, "
            f"got steps={steps}, batch_size={batch_size}"
        )
    generator = torch.Generator().manual_seed(seed)
    device = real_data.device
    shape = latent_dim if isinstance(latent_dim, tuple) else (latent_dim,)
    history, losses, step, start = GANHistory(), [], 0, time.perf_counter()
    bar = tqdm(total=steps, desc="GAN", unit="step", disable=not progress or on_static_site())
    while step < steps:
        for idx in batches(len(real_data), batch_size, shuffle=True, generator=generator, device=device):
            if len(idx) < batch_size:  # a short last batch would give BatchNorm odd statistics
                continue
            z = torch.randn(batch_size, *shape, generator=generator).to(device)
            losses.append(torch.stack(train_step(gan, real_data[idx], z)))
            step += 1
            bar.update(1)
            if callback is not None and (step == steps or (every and step % every == 0)):
                history.checkpoints.append((step, callback(step)))
            if step == steps:
                break
    bar.close()
    # one transfer at the end, not one .item() per step, keeps a GPU busy
    history.d_loss, history.g_loss = torch.stack(losses).T.cpu().tolist()
    history.seconds = time.perf_counter() - start
    return history


@torch.no_grad()
def sample(generator: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """The generator's output for ``z`` in eval mode (BatchNorm's running statistics).

    The generator goes back to the mode it was in. Explained in book/gans.md, section 5.
    """
    was_training = generator.training
    generator.eval()
    out = generator(z)
    generator.train(was_training)
    return out


# --------------------------------------------------------------------------- a 2-D ring


def ring_centres(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The ``modes`` centres evenly spaced on a circle, shape (modes, 2).

    Explained in book/gans.md, section 4.
    """
    angles = torch.arange(modes, dtype=torch.float32) * (2 * math.pi / modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def ring_mixture(
    n: int, generator: torch.Generator, modes: int = 8, radius: float = 2.0, std: float = 0.02
) -> torch.Tensor:
    """``n`` points from an equal mixture of Gaussians (std ``std``) on a ring, shape (n, 2).

    Explained in book/gans.md, section 4.
    """
    which = torch.randint(modes, (n,), generator=generator)
    return ring_centres(modes, radius)[which] + std * torch.randn(n, 2, generator=generator)


@dataclass
class ModeReport:
    """How well samples cover a mixture: modes captured, high-quality share, reverse KL.

    Explained in book/gans.md, section 4.
    """

    modes_captured: int
    high_quality: float
    reverse_kl: float
    counts: list[int]


def mode_report(samples: torch.Tensor, centres: torch.Tensor, std: float) -> ModeReport:
    """Count, for 2-D ``samples``, the modes among ``centres`` they cover (VEEGAN's measures).

    A sample is *high quality* within 3 std of its nearest centre; a mode is *captured* when
    it gets at least a fifth of its fair share of all samples as high-quality ones. The
    reverse KL compares the share of samples nearest each mode with the uniform one.
    Explained in book/gans.md, section 4.
    """
    samples = samples.detach().float().cpu()
    distance, nearest = torch.cdist(samples, centres.float().cpu()).min(dim=1)
    good = distance <= 3 * std
    modes = len(centres)
    counts = torch.bincount(nearest[good], minlength=modes)
    share = torch.bincount(nearest, minlength=modes).double() / len(samples)
    present = share > 0
    reverse_kl = (share[present] * (share[present] * modes).log()).sum().item()
    captured = int((counts >= len(samples) / (5 * modes)).sum())
    return ModeReport(captured, good.float().mean().item(), reverse_kl, counts.tolist())


class EnsembleLinear(nn.Module):
    """``models`` independent linear layers at once: (B, models, in) -> (B, models, out).

    Model ``s`` computes ``x[:, s] @ weight[s] + bias[s]`` and gets gradients only from its
    own outputs, so a network of these layers trains several seeds for about the price of
    one. Initialised like ``nn.Linear``. Explained in book/gans.md, section 4.
    """

    def __init__(self, models: int, in_features: int, out_features: int):
        super().__init__()
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(models, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(models, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or tuple(x.shape[1:]) != tuple(self.weight.shape[:2]):
            raise ValueError(
                f"EnsembleLinear expects (batch, {self.weight.shape[0]}, {self.weight.shape[1]}), "
                f"got {tuple(x.shape)}: put the model axis second."
            )
        return torch.einsum("bsi,sio->bso", x, self.weight) + self.bias


def ensemble_mlp(models: int, sizes: list[int]) -> nn.Sequential:
    """``models`` independent MLPs with layer widths ``sizes`` and ReLU between layers.

    Explained in book/gans.md, section 4.
    """
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(EnsembleLinear(models, n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- judging images


def require_pixels(images: torch.Tensor, name: str = "images", size: int = 28) -> torch.Tensor:
    """Raise a clear error unless ``images`` is a float batch (N, 1, size, size) in [0, 1].

    Explained in book/gans.md, section 6.
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (N, 1, {size}, {size}), got {type(images).__name__}."
        )
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, size, size):
        hint = ""
        if images.ndim == 2 and images.shape[1] == size * size:
            hint = f" Flattened images? Use images.reshape(-1, 1, {size}, {size})."
        raise ValueError(f"{name} must have shape (N, 1, {size}, {size}), got {tuple(images.shape)}.{hint}")
    if not images.is_floating_point():
        raise TypeError(
            f"{name} must be floating point in [0, 1], got dtype {images.dtype}; use images.float() / 255."
        )
    low, high = images.min().item(), images.max().item()
    if not (math.isfinite(low) and math.isfinite(high)) or low < -1e-4 or high > 1 + 1e-4:
        raise ValueError(
            f"{name} must hold pixel intensities in [0, 1], got values from {low:.3g} to {high:.3g}. "
            "A generator with a tanh output gives [-1, 1]: map it with (x + 1) / 2; normalised "
            "data go back with data.pixels(x)."
        )
    return images


class ClassifierFeatures:
    """The course's own classifier as a judge: features (its last hidden layer) and labels.

    ``model`` is a trained :class:`~course_lib.models.ClassicCNN`; ``mean``/``std`` are the
    statistics its inputs were normalised with. Inputs are pixel images in [0, 1].
    Explained in book/gans.md, section 6.
    """

    def __init__(self, model: nn.Module, mean: float, std: float):
        self.model, self.mean, self.std = model.eval(), mean, std

    @torch.no_grad()
    def features(self, pixels: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """The 64 activations before the read-out, one row per image, as float64."""
        require_pixels(pixels)
        hidden = nn.Sequential(self.model.features, *self.model.classifier[:-1])
        x = (pixels - self.mean) / self.std
        return torch.cat([hidden(x[i : i + batch_size]).double() for i in range(0, len(x), batch_size)])

    @torch.no_grad()
    def classify(self, pixels: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """The predicted class of every image."""
        require_pixels(pixels)
        x = (pixels - self.mean) / self.std
        return torch.cat([self.model(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])


def require_features(features: torch.Tensor, name: str) -> torch.Tensor:
    """A (N, d) float64 copy of ``features``, with N > d; otherwise a clear ValueError.

    Explained in book/gans.md, section 6.
    """
    if not isinstance(features, torch.Tensor) or features.ndim != 2:
        shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
        raise ValueError(f"{name} must be a 2-D tensor (samples, feature width), got {shape}.")
    n, d = features.shape
    if n <= d:
        raise ValueError(
            f"{name} has {n} samples of width {d}: a covariance needs more samples than dimensions "
            f"(at least {d + 1}, and many more for a stable estimate). Use more samples or fewer features."
        )
    features = features.detach().double()
    if not torch.isfinite(features).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return features


def _sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix, by eigendecomposition."""
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def gaussian_frechet_distance(mu_a, cov_a, mu_b, cov_b) -> float:
    """Fréchet distance of N(mu_a, cov_a) and N(mu_b, cov_b), in float64.

    ``|mu_a - mu_b|^2 + tr(cov_a) + tr(cov_b) - 2 tr((cov_a^1/2 cov_b cov_a^1/2)^1/2)``.
    Explained in book/gans.md, section 6.
    """
    mu_a, cov_a, mu_b, cov_b = (torch.as_tensor(t, dtype=torch.float64) for t in (mu_a, cov_a, mu_b, cov_b))
    root_a = _sqrtm_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    cross = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    distance = (mu_a - mu_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * cross
    return max(distance.item(), 0.0)


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N_a, d) and (N_b, d).

    Computed in float64. Explained in book/gans.md, section 6.
    """
    a = require_features(features_a, "features_a")
    b = require_features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"features_a has width {a.shape[1]} but features_b has width {b.shape[1]}: "
            "compute both with the same feature extractor."
        )
    return gaussian_frechet_distance(a.mean(0), a.T.cov(), b.mean(0), b.T.cov())


@dataclass
class Coverage:
    """Share of samples per class, its KL divergence to uniform, and the smallest share.

    Explained in book/gans.md, section 6.
    """

    shares: list[float]
    kl_to_uniform: float
    min_share: float


def class_coverage(labels: torch.Tensor, num_classes: int) -> Coverage:
    """How evenly predicted ``labels`` spread over ``num_classes`` classes.

    Explained in book/gans.md, section 6.
    """
    labels = labels.detach().long().cpu()
    if labels.ndim != 1 or len(labels) == 0 or labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must be a non-empty 1-D tensor of classes 0..{num_classes - 1}.")
    shares = torch.bincount(labels, minlength=num_classes).double() / len(labels)
    present = shares > 0
    kl = (shares[present] * (shares[present] * num_classes).log()).sum().item()
    return Coverage(shares.tolist(), kl, shares.min().item())


def _kth_neighbour_distance(features: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from every row to its k-th nearest other row (the radius of its k-NN ball)."""
    distances = torch.cdist(features, features)
    return distances.kthvalue(k + 1, dim=1).values  # the 1st nearest is the row itself


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Precision and recall of ``fake`` against ``real`` features by k-NN manifolds.

    Precision: share of fakes inside the real manifold (the union of balls reaching each
    real point's k-th nearest real neighbour); recall: share of reals inside the fake one
    (Kynkäänniemi et al., 2019). Explained in book/gans.md, section 6.
    """
    real, fake = require_features(real, "real"), require_features(fake, "fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real has width {real.shape[1]} but fake has width {fake.shape[1]}.")
    between = torch.cdist(fake, real)  # (fakes, reals)
    precision = (between <= _kth_neighbour_distance(real, k)).any(dim=1).double().mean()
    recall = (between.T <= _kth_neighbour_distance(fake, k)).any(dim=1).double().mean()
    return precision.item(), recall.item()


@torch.no_grad()
def nearest_neighbours(queries: torch.Tensor, reference: torch.Tensor, batch_size: int = 500):
    """Euclidean distance from each query image to its nearest ``reference`` image, and its index.

    Both are pixel batches (N, 1, 28, 28) in [0, 1]. Explained in book/gans.md, section 6.
    """
    # float64: a copy of a training image must come out at distance 0, not 1e-2
    flat_ref = require_pixels(reference, "reference").flatten(1).double()
    flat_q = require_pixels(queries, "queries").flatten(1).double()
    found = [
        torch.cdist(flat_q[i : i + batch_size], flat_ref).min(dim=1)
        for i in range(0, len(flat_q), batch_size)
    ]
    return torch.cat([f.values for f in found]), torch.cat([f.indices for f in found])


def corrupt(pixels: torch.Tensor, kind: str, level: float, generator: torch.Generator | None = None):
    """Real images made worse on purpose: ``noise`` (std), ``blur`` (std in pixels) or ``blackout``.

    ``blackout`` zeroes a centred square of side ``level`` pixels. Results stay in [0, 1].
    Explained in book/gans.md, section 6.
    """
    require_pixels(pixels, "pixels")
    if kind == "noise":
        noise = torch.randn(pixels.shape, generator=generator).to(pixels.device)
        return (pixels + level * noise).clamp(0, 1)
    if kind == "blur":
        radius = max(1, math.ceil(3 * level))
        offsets = torch.arange(-radius, radius + 1, dtype=pixels.dtype, device=pixels.device)
        kernel = torch.exp(-(offsets**2) / (2 * level**2))
        kernel = kernel / kernel.sum()
        out = F.conv2d(pixels, kernel.reshape(1, 1, 1, -1), padding=(0, radius))  # along rows
        return F.conv2d(out, kernel.reshape(1, 1, -1, 1), padding=(radius, 0))  # then columns
    if kind == "blackout":
        side = int(level)
        start = (pixels.shape[-1] - side) // 2
        out = pixels.clone()
        out[..., start : start + side, start : start + side] = 0
        return out
    raise ValueError(f"kind must be 'noise', 'blur' or 'blackout', got {kind!r}.")
