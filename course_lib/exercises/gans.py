"""Checkers for the generative adversarial networks chapter's exercises (book/gans.md).

Each returns a :class:`~course_lib.checks.Verdict` that says what was expected and what came
back. ``tests/test_exercises_gans.py`` runs each against the chapter's reference solution
(must pass), the empty stub and plausible wrong answers (must fail).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import gan
from ..checks import Wrong, answer_number, checker, run_beside
from ..gan import discriminator_loss, generator_loss


def _close(got: float, expected: float, rel: float = 1e-5, abs_tol: float = 1e-6) -> bool:
    return math.isclose(got, expected, rel_tol=rel, abs_tol=abs_tol)


# --------------------------------------------------------------------------- exercise 1


def _loss_value(value, what: str, extreme: bool) -> float:
    """``answer_number`` with a hint for the classic overflow of log(sigmoid(x))."""
    if extreme and isinstance(value, torch.Tensor) and value.numel() == 1 and not torch.isfinite(value):
        raise Wrong(
            f"{what} is {value.item()}: log(sigmoid(x)) overflows for large logits; "
            "write it with F.softplus, which stays finite."
        )
    return answer_number(value, what)


@checker("Exercise 1, the two losses from logits")
def check_gan_losses(my_discriminator_loss, my_generator_loss) -> str:
    """Both losses must equal course_lib.gan's on random and extreme logits, and be differentiable.

    Used by the generative adversarial networks chapter's exercises.
    """
    g = torch.Generator().manual_seed(7)
    cases = [
        ("32 real and 32 fake logits", torch.randn(32, 1, generator=g), torch.randn(32, 1, generator=g)),
        (
            "17 real and 9 fake float64 logits",
            3 * torch.randn(17, generator=g, dtype=torch.float64),
            3 * torch.randn(9, generator=g, dtype=torch.float64),
        ),
        ("extreme logits ±200", torch.tensor([[200.0], [-200.0]]), torch.tensor([[-200.0], [200.0]])),
    ]
    for where, real, fake in cases:
        extreme = where.startswith("extreme")
        got = _loss_value(my_discriminator_loss(real, fake), f"the discriminator loss for {where}", extreme)
        expected = discriminator_loss(real, fake).item()
        if not _close(got, expected):
            hint = ""
            if _close(got, discriminator_loss(fake, real).item()):
                hint = " Your loss is small when D calls real images fake: real logits go into softplus(-x)."
            raise Wrong(f"discriminator loss for {where}: expected {expected:.6f}, got {got:.6f}.{hint}")
        for saturating in (False, True):
            value = my_generator_loss(fake, saturating=saturating)
            got = _loss_value(value, f"the generator loss for {where}", extreme)
            expected = generator_loss(fake, saturating=saturating).item()
            if not _close(got, expected):
                kind = "saturating (minimax)" if saturating else "non-saturating"
                hint = ""
                if _close(got, generator_loss(fake, saturating=not saturating).item()):
                    hint = " You have the two generator losses the wrong way round."
                elif saturating and _close(got, -expected):
                    hint = (
                        " Sign: the minimax generator minimises E log(1 - D(G(z))) = -mean(softplus(fake))."
                    )
                raise Wrong(
                    f"{kind} generator loss for {where}: expected {expected:.6f}, got {got:.6f}.{hint}"
                )
    real = torch.randn(8, 1, generator=g, requires_grad=True)
    loss = my_discriminator_loss(real, torch.randn(8, 1, generator=g))
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        raise Wrong("the loss must be a tensor that autograd can differentiate: compute it with torch.")
    return "both losses match course_lib.gan on ordinary and extreme logits."


# --------------------------------------------------------------------------- exercise 2


def broken_train_step(generator, discriminator, opt_g, opt_d, real, z):
    """A GAN training step with one of the classic mistakes: find it (Exercise 2)."""
    opt_g.zero_grad()
    opt_d.zero_grad()
    fake = generator(z)
    d_loss = discriminator_loss(discriminator(real), discriminator(fake))
    d_loss.backward(retain_graph=True)
    opt_d.step()
    g_loss = generator_loss(discriminator(fake))
    g_loss.backward()
    opt_g.step()
    return d_loss.detach(), g_loss.detach()


def _exercise_pair(seed: int):
    torch.manual_seed(seed)
    generator = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 6))
    discriminator = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    return generator, discriminator


def _optimisers(generator, discriminator):
    return torch.optim.SGD(generator.parameters(), lr=0.1), torch.optim.SGD(
        discriminator.parameters(), lr=0.1
    )


def _three_steps(step_fn) -> list[tuple[list[torch.Tensor], list[torch.Tensor]]]:
    """Three steps of ``step_fn`` from the exercise's start: both networks' weights before and after each."""
    g = torch.Generator().manual_seed(3)
    generator, discriminator = _exercise_pair(0)
    opt_g, opt_d = _optimisers(generator, discriminator)

    def weights():
        return [p.detach().clone() for p in generator.parameters()], [
            p.detach().clone() for p in discriminator.parameters()
        ]

    snapshots = [weights()]
    for _ in range(3):
        real, z = torch.randn(16, 6, generator=g) + 1, torch.randn(16, 4, generator=g)
        step_fn(generator, discriminator, opt_g, opt_d, real, z)
        snapshots.append(weights())
    return snapshots


def train_step_probe(my_train_step):
    """Run three of the student's steps; return plain data (the weights after each).

    Runs where the student's function lives (under the class grader, in the submission's
    kernel: networks and optimisers trained in place cannot travel back).
    """
    return _three_steps(my_train_step)


def _library_step(generator, discriminator, opt_g, opt_d, real, z):
    return gan.train_step(gan.GAN(generator, discriminator, opt_g, opt_d), real, z)


@checker("Exercise 2, find the bug in a training step")
def check_train_step(my_train_step) -> str:
    """Each of three steps of ``my_train_step`` must move both networks as ``gan.train_step`` does.

    Used by the generative adversarial networks chapter's exercises.
    """
    theirs = run_beside(my_train_step, train_step_probe)
    ours = _three_steps(_library_step)

    def same(a, b):
        return len(a) == len(b) and all(torch.allclose(p, q, atol=1e-6) for p, q in zip(a, b))

    for step in range(1, 4):
        (g_theirs, d_theirs), (g_ours, d_ours) = theirs[step], ours[step]
        if not same(d_theirs, d_ours):
            raise Wrong(
                f"after step {step} the discriminator's weights differ from a correct step's. Its "
                "loss must see the real batch and the (detached) fake batch in two separate calls, "
                "so that BatchNorm normalises each on its own, and opt_d.step() must follow its backward()."
            )
        if all(torch.equal(p, q) for p, q in zip(g_theirs, theirs[step - 1][0])):
            raise Wrong(
                "the generator did not move: its loss must reach its weights, then call opt_g.step()."
            )
        if not same(g_theirs, g_ours):
            raise Wrong(
                f"after step {step} the discriminator is right but the generator's weights differ. Its "
                "gradient must come from the generator loss alone, through the discriminator just "
                "updated: is anything else (the discriminator's loss, say) still in the generator's "
                ".grad when opt_g steps?"
            )
    return "three steps match course_lib.gan.train_step for both networks."


# --------------------------------------------------------------------------- exercise 3


def _random_covariance(d: int, g: torch.Generator) -> torch.Tensor:
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return a @ a.T + 0.1 * torch.eye(d, dtype=torch.float64)


@checker("Exercise 3, the Fréchet distance of two Gaussians")
def check_gaussian_frechet(my_frechet) -> str:
    """``my_frechet(mu_a, cov_a, mu_b, cov_b)`` must match the closed form on varied Gaussians.

    Used by the generative adversarial networks chapter's exercises.
    """
    g = torch.Generator().manual_seed(5)
    f64 = dict(dtype=torch.float64)
    cases = [
        (
            "equal Gaussians",
            torch.ones(3, **f64),
            torch.eye(3, **f64),
            torch.ones(3, **f64),
            torch.eye(3, **f64),
        ),
        (
            "1-D",
            torch.tensor([1.0], **f64),
            torch.tensor([[4.0]], **f64),
            torch.tensor([-0.5], **f64),
            torch.tensor([[0.25]], **f64),
        ),
        (
            "diagonal covariances",
            torch.zeros(3, **f64),
            torch.diag(torch.tensor([1.0, 4.0, 9.0], **f64)),
            torch.ones(3, **f64),
            torch.diag(torch.tensor([4.0, 1.0, 0.5], **f64)),
        ),
    ]
    for d in (2, 6):
        cases.append(
            (
                f"general {d}-D covariances",
                torch.randn(d, generator=g, **f64),
                _random_covariance(d, g),
                torch.randn(d, generator=g, **f64),
                _random_covariance(d, g),
            )
        )
    for name, mu_a, cov_a, mu_b, cov_b in cases:
        got = answer_number(
            my_frechet(mu_a.clone(), cov_a.clone(), mu_b.clone(), cov_b.clone()), f"the distance ({name})"
        )
        expected = gan.gaussian_frechet_distance(mu_a, cov_a, mu_b, cov_b)
        if _close(got, expected, rel=1e-4, abs_tol=1e-5):
            continue
        root_a, root_b = gan._sqrtm_psd(cov_a), gan._sqrtm_psd(cov_b)
        means = (mu_a - mu_b).pow(2).sum().item()
        commuting = means + (cov_a.trace() + cov_b.trace() - 2 * (root_a @ root_b).trace()).item()
        hint = ""
        if _close(got, commuting, rel=1e-5):
            hint = (
                " tr(Σa^½ Σb^½) is only right when the two covariances commute; take the square"
                " root of the symmetric matrix Σa^½ Σb Σa^½ instead."
            )
        elif _close(got, expected - means, rel=1e-5):
            hint = " The squared distance between the means is missing."
        elif _close(got, (expected + means + (cov_a.trace() + cov_b.trace()).item()) / 2, rel=1e-5):
            hint = " The cross term is subtracted twice: -2 tr((Σa^½ Σb Σa^½)^½)."
        raise Wrong(f"{name}: expected {expected:.6f}, got {got:.6f}.{hint}")
    return "matches the closed form, including covariances that do not commute."


# --------------------------------------------------------------------------- exercise 4


def _report_case() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Features, predicted classes and reference features on which precision and recall differ."""
    g = torch.Generator().manual_seed(11)
    reference = torch.randn(300, 8, generator=g, dtype=torch.float64)
    features = 0.5 * torch.randn(200, 8, generator=g, dtype=torch.float64) + 0.3  # narrower
    classes = torch.multinomial(torch.arange(1.0, 11.0), 200, replacement=True, generator=g)
    return features, classes, reference


def _expected_report(features, classes, reference) -> dict[str, float]:
    precision, recall = gan.precision_recall(reference, features)
    coverage = gan.class_coverage(classes, 10)
    return {
        "fd": gan.frechet_distance(features, reference),
        "min_share": coverage.min_share,
        "recall": recall,
        "precision": precision,
        "max_share": max(coverage.shares),
    }


@checker("Exercise 4, one-sided label smoothing")
def check_label_smoothing(smoothed_loss, sample_report) -> str:
    """The smoothed loss must be BCE with real target 0.9; ``sample_report`` section 6's numbers.

    ``sample_report(features, classes, reference)`` returns a dict with ``fd`` (Fréchet
    distance of ``features`` to ``reference``), ``min_share`` (the rarest of the ten
    ``classes``' shares) and ``recall``. Used by the generative adversarial networks
    chapter's exercises.
    """
    g = torch.Generator().manual_seed(9)
    real, fake = 2 * torch.randn(64, 1, generator=g), 2 * torch.randn(64, 1, generator=g)
    expected = (
        F.binary_cross_entropy_with_logits(real, torch.full_like(real, 0.9))
        + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    ).item()
    got = answer_number(smoothed_loss(real, fake), "the smoothed loss")
    if not _close(got, expected):
        two_sided = (
            expected
            + (
                F.binary_cross_entropy_with_logits(fake, torch.full_like(fake, 0.1))
                - F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
            ).item()
        )
        hint = (
            " Smooth only the real label (one-sided): fakes keep the target 0."
            if _close(got, two_sided)
            else ""
        )
        raise Wrong(
            f"smoothed loss: expected {expected:.6f} (real target 0.9, fake target 0), got {got:.6f}.{hint}"
        )
    features, classes, reference = _report_case()
    measured = _expected_report(features, classes, reference)
    report = sample_report(features, classes, reference)
    if not isinstance(report, dict) or not {"fd", "min_share", "recall"} <= set(report):
        raise Wrong("sample_report must return a dict with the keys 'fd', 'min_share' and 'recall'.")
    mix_ups = {
        "recall": (
            "precision",
            "that is the precision: recall is the share of *real* features "
            "inside the manifold built from the samples",
        ),
        "min_share": ("max_share", "that is the commonest class's share, not the rarest's"),
    }
    for key in ("fd", "min_share", "recall"):
        got = answer_number(report[key], f"report['{key}']")
        if not _close(got, measured[key], rel=1e-4, abs_tol=1e-4):
            other, hint = mix_ups.get(key, (None, ""))
            hint = f" ({hint})" if other and _close(got, measured[other], rel=1e-4, abs_tol=1e-4) else ""
            raise Wrong(f"report['{key}'] = {got:.4f}, expected {measured[key]:.4f}{hint}.")
    return f"the loss is right and the report matches section 6's numbers (FD {measured['fd']:.2f})."


# --------------------------------------------------------------------------- exercise 5


def _r1_case(case: int) -> tuple[nn.Module, torch.Tensor]:
    """Case 0: a dense discriminator on (10, 3) inputs; case 1: a convolutional one on images."""
    torch.manual_seed(4)
    nets = [
        (nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)), torch.randn(10, 3)),
        (
            nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 6 * 6, 1)),
            torch.randn(5, 1, 8, 8),
        ),
    ]
    return nets[case]


def r1_probe(my_r1_penalty, case: int) -> dict:
    """Run the student's penalty on case ``case``; return plain data: its value, and its gradient
    with respect to the discriminator's weights (None when it has no graph).

    Runs where the student's function lives (under the class grader, in the submission's
    kernel: a tensor's graph cannot travel back, so the gradient is taken there).
    """
    disc, real = _r1_case(case)
    out = my_r1_penalty(disc, real.clone())
    answer = {"value": out.detach() if isinstance(out, torch.Tensor) else out, "grads": None}
    if isinstance(out, torch.Tensor) and out.numel() == 1 and out.grad_fn is not None:
        params = list(disc.parameters())  # the last bias does not reach the gradient: allow_unused
        grads = torch.autograd.grad(out, params, allow_unused=True)
        answer["grads"] = [g if g is not None else torch.zeros_like(p) for g, p in zip(grads, params)]
    return answer


@checker("Exercise 5, the R1 gradient penalty")
def check_r1_penalty(my_r1_penalty) -> str:
    """``my_r1_penalty(discriminator, real)`` must equal E ||grad_x D(x)||^2 and be differentiable.

    Used by the generative adversarial networks chapter's exercises.
    """
    for case in (0, 1):
        answer = run_beside(my_r1_penalty, r1_probe, case)
        disc, real = _r1_case(case)
        x = real.clone().requires_grad_(True)
        expected = gan.r1_penalty(disc(x), x)
        got = answer_number(answer["value"], "the penalty")
        shape = tuple(real.shape)
        if not _close(got, expected.item(), rel=1e-5):
            grads = torch.autograd.grad(disc(x).sum(), x)[0].flatten(1)
            if _close(got, grads.norm(dim=1).mean().item(), rel=1e-5):
                hint = " Square the gradient's norm."
            elif _close(got, grads.pow(2).sum().item(), rel=1e-5):
                hint = " Average over the batch, do not sum."
            else:
                hint = ""
            raise Wrong(
                f"for real images of shape {shape}: expected {expected.item():.6f}, got {got:.6f}.{hint}"
            )
        if answer["grads"] is None:
            raise Wrong("the penalty must be differentiable: pass create_graph=True to torch.autograd.grad.")
        params = list(disc.parameters())
        ours = torch.autograd.grad(expected, params, allow_unused=True)
        ours = [g if g is not None else torch.zeros_like(p) for g, p in zip(ours, params)]
        theirs = answer["grads"]
        if len(theirs) != len(ours) or not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(theirs, ours)):
            raise Wrong("the penalty's gradient with respect to the discriminator's weights is wrong.")
    return "the penalty and its gradient match on a dense and a convolutional discriminator."
