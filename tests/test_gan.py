"""course_lib.gan: each piece computed by hand (or by torch / scipy) and compared, micrograd style."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import gan
from course_lib.models import ClassicCNN


def random_logits(n=64, seed=0, scale=4.0):
    return scale * torch.randn(n, 1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ----------------------------------------------------------------------------- losses


def test_discriminator_loss_is_binary_cross_entropy_with_real_one_and_fake_zero():
    real, fake = random_logits(seed=1), random_logits(seed=2)
    expected = F.binary_cross_entropy_with_logits(
        real, torch.ones_like(real)
    ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    assert torch.allclose(gan.discriminator_loss(real, fake), expected, atol=1e-12)


def test_discriminator_loss_is_minus_the_minimax_value():
    real, fake = random_logits(seed=3, scale=1.0), random_logits(seed=4, scale=1.0)
    value = torch.sigmoid(real).log().mean() + (1 - torch.sigmoid(fake)).log().mean()
    assert torch.allclose(gan.discriminator_loss(real, fake), -value, atol=1e-12)


def test_generator_losses_match_their_probability_forms():
    fake = random_logits(seed=5, scale=1.0)
    d = torch.sigmoid(fake)
    assert torch.allclose(gan.generator_loss(fake), -d.log().mean(), atol=1e-12)
    assert torch.allclose(gan.generator_loss(fake, saturating=True), (1 - d).log().mean(), atol=1e-12)


def test_losses_stay_finite_for_extreme_logits():
    extreme = torch.tensor([[-1e4], [1e4], [0.0]], requires_grad=True)
    for loss in (
        gan.discriminator_loss(extreme, extreme),
        gan.generator_loss(extreme),
        gan.generator_loss(extreme, saturating=True),
    ):
        (grad,) = torch.autograd.grad(loss, extreme)
        assert torch.isfinite(loss) and torch.isfinite(grad).all()


def test_gradient_ratio_of_the_two_generator_losses_is_one_minus_d_over_d():
    logits = torch.tensor([0.0, -2.0, -5.0, -9.0], dtype=torch.float64, requires_grad=True)
    (sat,) = torch.autograd.grad(gan.generator_loss(logits, saturating=True), logits)
    (non,) = torch.autograd.grad(gan.generator_loss(logits), logits)
    d = torch.sigmoid(logits.detach())
    assert torch.allclose(non / sat, (1 - d) / d, rtol=1e-10)


def test_r1_penalty_of_a_linear_discriminator_is_its_squared_weight_norm():
    disc = nn.Linear(3, 1)
    real = torch.randn(5, 3, requires_grad=True)
    penalty = gan.r1_penalty(disc(real), real)
    assert torch.allclose(penalty, disc.weight.pow(2).sum())
    penalty.backward()  # create_graph: the penalty itself has a gradient
    assert torch.allclose(disc.weight.grad, 2 * disc.weight.detach())


# ----------------------------------------------------------------------------- training


def tiny_pair(seed=0, batchnorm=False):
    torch.manual_seed(seed)
    generator = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    hidden = [nn.Linear(3, 8)] + ([nn.BatchNorm1d(8)] if batchnorm else []) + [nn.LeakyReLU(0.2)]
    discriminator = nn.Sequential(*hidden, nn.Linear(8, 1))
    return generator, discriminator


def make_gan(generator, discriminator, lr=0.05, **options):
    return gan.GAN(
        generator,
        discriminator,
        torch.optim.SGD(generator.parameters(), lr=lr),
        torch.optim.SGD(discriminator.parameters(), lr=lr),
        **options,
    )


def test_gan_refuses_one_optimiser_shared_by_both_networks():
    g, d = tiny_pair()
    shared = torch.optim.Adam([*g.parameters(), *d.parameters()])
    with pytest.raises(ValueError, match="its own optimiser"):
        gan.GAN(g, d, shared, torch.optim.Adam(d.parameters()))
    with pytest.raises(ValueError, match="opt_d"):
        gan.GAN(g, d, torch.optim.Adam(g.parameters()), torch.optim.Adam(g.parameters()))


@pytest.mark.parametrize("batchnorm", [False, True])
def test_train_step_is_d_on_detached_fakes_then_g_against_the_updated_d(batchnorm):
    g, d = tiny_pair(seed=1, batchnorm=batchnorm)
    real, z = torch.randn(16, 3), torch.randn(16, 4)
    g_ref, d_ref = copy.deepcopy(g), copy.deepcopy(d)
    losses = gan.train_step(make_gan(g, d, lr=0.05), real, z)

    # by hand: D's gradient with G fixed, one SGD step, then G's gradient through the new D
    fake = g_ref(z).detach()
    d_loss = gan.discriminator_loss(d_ref(real), d_ref(fake))
    grads = torch.autograd.grad(d_loss, list(d_ref.parameters()))
    with torch.no_grad():
        for p, grad in zip(d_ref.parameters(), grads):
            p -= 0.05 * grad
    g_loss = gan.generator_loss(d_ref(g_ref(z)))
    grads = torch.autograd.grad(g_loss, list(g_ref.parameters()))
    with torch.no_grad():
        for p, grad in zip(g_ref.parameters(), grads):
            p -= 0.05 * grad
    for ours, ref in zip([*g.parameters(), *d.parameters()], [*g_ref.parameters(), *d_ref.parameters()]):
        assert torch.allclose(ours, ref, atol=1e-6)
    assert torch.allclose(losses[0], d_loss) and torch.allclose(losses[1], g_loss)


def test_train_step_adds_half_the_weighted_r1_penalty_to_the_discriminator_loss():
    g, d = tiny_pair(seed=2)
    real, z = torch.randn(8, 3), torch.randn(8, 4)
    expected_d = copy.deepcopy(d)
    d_loss, _ = gan.train_step(make_gan(g, d, lr=0.0, r1_weight=3.0), real, z)
    x = real.clone().requires_grad_(True)
    logits = expected_d(x)
    fake = g(z).detach()
    expected = gan.discriminator_loss(logits, expected_d(fake)) + 1.5 * gan.r1_penalty(logits, x)
    assert torch.allclose(d_loss, expected)


def test_train_gan_repeats_with_a_seed_and_calls_back_every_few_steps():
    data = torch.randn(64, 3)
    runs = []
    for _ in range(2):
        g, d = tiny_pair(seed=3)
        calls = []
        history = gan.train_gan(
            make_gan(g, d),
            data,
            steps=10,
            batch_size=16,
            latent_dim=4,
            seed=5,
            every=4,
            callback=lambda step, calls=calls: calls.append(step) or step * 10,
            progress=False,
        )
        runs.append([p.detach().clone() for p in g.parameters()])
    assert calls == [4, 8, 10]
    assert history.checkpoints == [(4, 40), (8, 80), (10, 100)]
    assert len(history.d_loss) == len(history.g_loss) == 10
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def test_train_gan_skips_short_batches_and_rejects_bad_sizes():
    g, d = tiny_pair(seed=4, batchnorm=True)
    history = gan.train_gan(
        make_gan(g, d), torch.randn(20, 3), steps=3, batch_size=8, latent_dim=4, progress=False
    )
    assert len(history.d_loss) == 3  # 20 = 8 + 8 + a short 4 that is skipped
    with pytest.raises(ValueError, match="batch_size"):
        gan.train_gan(make_gan(g, d), torch.randn(5, 3), steps=1, batch_size=8, latent_dim=4, progress=False)


def test_sample_uses_eval_mode_and_restores_training_mode():
    g = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    g.train()
    z = torch.randn(6, 4)
    out = gan.sample(g, z)
    assert g.training and not out.requires_grad
    g.eval()
    assert torch.allclose(out, g(z))


def test_ensemble_linear_equals_separate_linear_layers_and_keeps_gradients_apart():
    torch.manual_seed(0)
    layer = gan.EnsembleLinear(3, 4, 2)
    x = torch.randn(5, 3, 4)
    out = layer(x)
    for s in range(3):
        assert torch.allclose(out[:, s], x[:, s] @ layer.weight[s] + layer.bias[s], atol=1e-6)
    out[:, 1].sum().backward()
    assert layer.weight.grad[[0, 2]].abs().sum() == 0 and layer.weight.grad[1].abs().sum() > 0
    with pytest.raises(ValueError, match="model axis second"):
        layer(torch.randn(3, 5, 4))


def test_ensemble_mlp_has_relu_between_layers_only():
    net = gan.ensemble_mlp(2, [3, 8, 8, 1])
    assert [type(m).__name__ for m in net] == [
        "EnsembleLinear",
        "ReLU",
        "EnsembleLinear",
        "ReLU",
        "EnsembleLinear",
    ]
    assert net(torch.randn(7, 2, 3)).shape == (7, 2, 1)


# ----------------------------------------------------------------------------- the ring


def test_ring_samples_sit_on_their_modes():
    centres = gan.ring_centres(8, 2.0)
    assert torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0))
    points = gan.ring_mixture(4000, torch.Generator().manual_seed(0), std=0.05)
    report = gan.mode_report(points, centres, std=0.05)
    assert report.modes_captured == 8 and report.high_quality > 0.98 and report.reverse_kl < 0.01


def test_mode_report_of_a_collapsed_generator():
    centres = gan.ring_centres(8, 2.0)
    collapsed = centres[3] + 0.01 * torch.randn(1000, 2, generator=torch.Generator().manual_seed(1))
    report = gan.mode_report(collapsed, centres, std=0.05)
    assert report.modes_captured == 1 and report.counts[3] == 1000
    assert report.reverse_kl == pytest.approx(math.log(8))
    far = torch.full((100, 2), 10.0)
    assert gan.mode_report(far, centres, std=0.05).high_quality == 0.0


# ----------------------------------------------------------------------------- judging images


def test_require_pixels_names_the_problem():
    good = torch.rand(4, 1, 28, 28)
    assert gan.require_pixels(good) is good
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\).*reshape"):
        gan.require_pixels(torch.rand(4, 784))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        gan.require_pixels(torch.rand(28, 28))
    with pytest.raises(ValueError, match=r"\[0, 1\].*\(x \+ 1\) / 2"):
        gan.require_pixels(good * 2 - 1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gan.require_pixels(good * 255)
    with pytest.raises(TypeError, match="float"):
        gan.require_pixels((good * 255).to(torch.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gan.require_pixels(torch.full((2, 1, 28, 28), float("nan")))


def test_classifier_features_are_the_last_hidden_layer_of_the_normalised_input():
    torch.manual_seed(0)
    model = ClassicCNN()
    judge = gan.ClassifierFeatures(model, mean=0.13, std=0.31)
    pixels = torch.rand(6, 1, 28, 28)
    x = (pixels - 0.13) / 0.31
    expected = model.classifier[:-1](model.features(x))
    assert torch.allclose(judge.features(pixels), expected.double(), atol=1e-6)
    assert judge.features(pixels).dtype == torch.float64
    assert torch.equal(judge.classify(pixels), model(x).argmax(1))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        judge.features(pixels * 2 - 1)


def sample_gaussian(n, mean, cov, seed):
    root = torch.linalg.cholesky(torch.as_tensor(cov, dtype=torch.float64))
    noise = torch.randn(n, len(mean), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return torch.as_tensor(mean, dtype=torch.float64) + noise @ root.T


def scipy_frechet(mu_a, cov_a, mu_b, cov_b):
    """The usual formula with scipy's general matrix square root, as a second opinion."""
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root).real)


def test_gaussian_frechet_distance_in_one_dimension_is_the_closed_form():
    got = gan.gaussian_frechet_distance([1.0], [[4.0]], [-0.5], [[0.25]])
    assert got == pytest.approx((1.0 + 0.5) ** 2 + (2.0 - 0.5) ** 2, rel=1e-12)


def test_gaussian_frechet_distance_of_commuting_covariances_is_the_closed_form():
    var_a = torch.tensor([1.0, 4.0, 0.5], dtype=torch.float64)
    var_b = torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)
    mu_a = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    mu_b = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
    expected = ((mu_a - mu_b) ** 2).sum() + ((var_a.sqrt() - var_b.sqrt()) ** 2).sum()
    got = gan.gaussian_frechet_distance(mu_a, torch.diag(var_a), mu_b, torch.diag(var_b))
    assert got == pytest.approx(expected.item(), rel=1e-10)


def test_gaussian_frechet_distance_matches_scipy_for_general_covariances():
    rng = np.random.default_rng(0)
    for d in (2, 5, 16):
        a, b = rng.normal(size=(d, d)), rng.normal(size=(d, d))
        cov_a, cov_b = a @ a.T + 0.1 * np.eye(d), b @ b.T + 0.1 * np.eye(d)
        mu_a, mu_b = rng.normal(size=d), rng.normal(size=d)
        ours = gan.gaussian_frechet_distance(mu_a, cov_a, mu_b, cov_b)
        assert ours == pytest.approx(scipy_frechet(mu_a, cov_a, mu_b, cov_b), rel=1e-8)


def test_frechet_distance_of_samples_approaches_the_closed_form_for_two_gaussians():
    cov_a = [[1.0, 0.5], [0.5, 2.0]]
    cov_b = [[0.5, -0.2], [-0.2, 1.0]]
    a = sample_gaussian(200_000, [0.0, 0.0], cov_a, seed=1)
    b = sample_gaussian(200_000, [1.0, -1.0], cov_b, seed=2)
    exact = gan.gaussian_frechet_distance([0.0, 0.0], cov_a, [1.0, -1.0], cov_b)
    assert exact == pytest.approx(
        scipy_frechet(np.zeros(2), np.array(cov_a), np.array([1.0, -1.0]), np.array(cov_b)), rel=1e-10
    )
    assert gan.frechet_distance(a, b) == pytest.approx(exact, abs=0.02)
    assert gan.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_works_in_float64_whatever_comes_in():
    a = sample_gaussian(500, [0.0] * 3, torch.eye(3), seed=3)
    b = sample_gaussian(500, [0.1] * 3, torch.eye(3), seed=4)
    assert gan.frechet_distance(a.float(), b.float()) == pytest.approx(gan.frechet_distance(a, b), rel=1e-5)
    assert gan.frechet_distance(a, b) == pytest.approx(gan.frechet_distance(b, a), rel=1e-9)


def test_frechet_distance_rejects_bad_feature_sets():
    ok = torch.randn(100, 8)
    with pytest.raises(ValueError, match="more samples than dimensions"):
        gan.frechet_distance(torch.randn(8, 8), ok)
    with pytest.raises(ValueError, match="width 8.*width 5"):
        gan.frechet_distance(ok, torch.randn(100, 5))
    with pytest.raises(ValueError, match="2-D"):
        gan.frechet_distance(torch.randn(100), ok)
    bad = ok.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        gan.frechet_distance(bad, ok)


def test_class_coverage_of_uniform_and_of_collapsed_labels():
    uniform = gan.class_coverage(torch.arange(100) % 10, 10)
    assert uniform.kl_to_uniform == pytest.approx(0.0, abs=1e-12) and uniform.min_share == 0.1
    collapsed = gan.class_coverage(torch.full((50,), 7), 10)
    assert collapsed.kl_to_uniform == pytest.approx(math.log(10)) and collapsed.shares[7] == 1.0
    assert collapsed.min_share == 0.0
    with pytest.raises(ValueError, match="classes 0..9"):
        gan.class_coverage(torch.tensor([0, 10]), 10)


def brute_force_precision_recall(real, fake, k):
    def radii(points):
        return [sorted(float((p - q).norm()) for q in points)[k] for p in points]

    real_r, fake_r = radii(real), radii(fake)
    precision = np.mean([any((f - r).norm() <= rr for r, rr in zip(real, real_r)) for f in fake])
    recall = np.mean([any((r - f).norm() <= fr for f, fr in zip(fake, fake_r)) for r in real])
    return precision, recall


def test_precision_recall_matches_a_brute_force_loop():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(40, 2, generator=g, dtype=torch.float64)
    fake = 0.5 * torch.randn(30, 2, generator=g, dtype=torch.float64) + 0.8
    for k in (1, 3):
        assert gan.precision_recall(real, fake, k) == pytest.approx(
            brute_force_precision_recall(real, fake, k)
        )


def test_precision_recall_of_identical_disjoint_and_half_covering_sets():
    g = torch.Generator().manual_seed(1)
    real = torch.randn(200, 2, generator=g, dtype=torch.float64)
    assert gan.precision_recall(real, real.clone()) == (1.0, 1.0)
    assert gan.precision_recall(real, real + 100.0) == (0.0, 0.0)
    left = real[real[:, 0] < 0]
    precision, recall = gan.precision_recall(real, left)
    assert precision == 1.0 and recall < 0.7
    with pytest.raises(ValueError, match="width"):
        gan.precision_recall(real, torch.randn(50, 3))


def test_nearest_neighbours_matches_a_loop():
    g = torch.Generator().manual_seed(2)
    reference = torch.rand(30, 1, 28, 28, generator=g)
    queries = torch.cat([reference[[4, 17]], torch.rand(3, 1, 28, 28, generator=g)])
    distance, index = gan.nearest_neighbours(queries, reference, batch_size=2)
    assert distance.dtype == torch.float64  # a copy must come out at exactly 0
    assert index[:2].tolist() == [4, 17] and distance[:2].abs().max() < 1e-4
    for q, d, i in zip(queries.double(), distance, index):
        all_d = torch.stack([(q - r).norm() for r in reference.double()])
        assert int(all_d.argmin()) == int(i) and torch.isclose(all_d.min(), d, atol=1e-4)
    with pytest.raises(ValueError, match="queries"):
        gan.nearest_neighbours(queries * 2 - 1, reference)


def test_corruptions_stay_in_range_and_do_what_they_say():
    g = torch.Generator().manual_seed(3)
    pixels = torch.zeros(2, 1, 28, 28)
    pixels[:, :, 10:18, 10:18] = 1.0
    noisy = gan.corrupt(pixels, "noise", 0.5, g)
    assert noisy.min() >= 0 and noisy.max() <= 1 and (noisy != pixels).float().mean() > 0.4
    blurred = gan.corrupt(pixels, "blur", 1.0)
    assert blurred.sum().item() == pytest.approx(pixels.sum().item(), rel=1e-4)  # blur keeps the ink
    assert 0 < blurred[0, 0, 9, 14] < 1 and blurred.max() <= 1
    black = gan.corrupt(pixels, "blackout", 6)
    assert black[:, :, 11:17, 11:17].abs().sum() == 0 and black[:, :, 10, 10].eq(1).all()
    with pytest.raises(ValueError, match="kind"):
        gan.corrupt(pixels, "rotate", 1.0)
