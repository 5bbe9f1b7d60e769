"""The GAN chapter's checkers: the chapter's own solution passes, the stub and wrong answers fail."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from chapter_code import chapter_function

from course_lib import gan
from course_lib.exercises.gans import (
    broken_train_step,
    check_gan_losses,
    check_gaussian_frechet,
    check_label_smoothing,
    check_r1_penalty,
    check_train_step,
)

NAMES = {
    "discriminator_loss": gan.discriminator_loss,
    "generator_loss": gan.generator_loss,
    "frechet_distance": gan.frechet_distance,
    "class_coverage": gan.class_coverage,
    "precision_recall": gan.precision_recall,
}


def solution(name: str, stub: bool = False):
    """Define ``name`` from the chapter's solution cell (optionally as the student stub)."""
    return chapter_function("gans", name, stub, **NAMES)


# ----------------------------------------------------------------- exercise 1


def test_losses_reference_passes_and_stub_is_not_implemented():
    verdict = check_gan_losses(solution("my_discriminator_loss"), solution("my_generator_loss"))
    assert verdict.passed, verdict.message
    stub = check_gan_losses(solution("my_discriminator_loss", stub=True), solution("my_generator_loss"))
    assert not stub.passed and "not implemented" in stub.message
    stub = check_gan_losses(solution("my_discriminator_loss"), solution("my_generator_loss", stub=True))
    assert not stub.passed and "not implemented" in stub.message


def test_losses_naive_log_sigmoid_fails_on_extreme_logits_with_a_hint():
    def naive_d(real, fake):
        return -(torch.sigmoid(real).log().mean() + (1 - torch.sigmoid(fake)).log().mean())

    verdict = check_gan_losses(naive_d, gan.generator_loss)
    assert not verdict.passed and "softplus" in verdict.message


def test_losses_with_real_and_fake_swapped_fail_with_a_hint():
    verdict = check_gan_losses(lambda r, f: gan.discriminator_loss(f, r), gan.generator_loss)
    assert not verdict.passed and "real logits go into softplus(-x)" in verdict.message


def test_saturating_loss_with_the_wrong_sign_fails_with_a_hint():
    def wrong_sign(fake, saturating=False):
        return F.softplus(fake).mean() if saturating else F.softplus(-fake).mean()

    verdict = check_gan_losses(gan.discriminator_loss, wrong_sign)
    assert not verdict.passed and "Sign" in verdict.message


def test_generator_losses_swapped_fail_with_a_hint():
    verdict = check_gan_losses(
        gan.discriminator_loss, lambda fake, saturating=False: gan.generator_loss(fake, not saturating)
    )
    assert not verdict.passed and "wrong way round" in verdict.message


def test_losses_summed_instead_of_averaged_fail():
    def summed(real, fake):
        return F.softplus(-real).sum() + F.softplus(fake).sum()

    assert not check_gan_losses(summed, gan.generator_loss).passed


def test_losses_returned_as_plain_floats_fail_because_training_needs_a_gradient():
    def as_float(real, fake):
        return gan.discriminator_loss(real, fake).item()

    verdict = check_gan_losses(as_float, gan.generator_loss)
    assert not verdict.passed and "autograd" in verdict.message


# ----------------------------------------------------------------- exercise 2


def test_train_step_reference_passes_and_stub_is_not_implemented():
    verdict = check_train_step(solution("my_train_step"))
    assert verdict.passed, verdict.message
    stub = check_train_step(solution("my_train_step", stub=True))
    assert not stub.passed and "not implemented" in stub.message


def test_the_broken_step_itself_fails_on_the_generator():
    verdict = check_train_step(broken_train_step)
    assert not verdict.passed and "generator's weights differ" in verdict.message


def test_zeroing_the_generator_gradients_before_its_backward_is_also_a_fix():
    def zero_late(generator, discriminator, opt_g, opt_d, real, z):
        fake = generator(z)
        d_loss = gan.discriminator_loss(discriminator(real), discriminator(fake))
        opt_d.zero_grad()
        d_loss.backward(retain_graph=True)
        opt_d.step()
        opt_g.zero_grad()
        gan.generator_loss(discriminator(fake)).backward()
        opt_g.step()

    assert check_train_step(zero_late).passed


def test_a_mixed_real_and_fake_batch_fails_on_the_discriminator():
    def mixed(generator, discriminator, opt_g, opt_d, real, z):
        fake = generator(z)
        logits = discriminator(torch.cat([real, fake.detach()]))
        d_loss = gan.discriminator_loss(logits[: len(real)], logits[len(real) :])
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        gan.generator_loss(discriminator(fake)).backward()
        opt_g.step()

    verdict = check_train_step(mixed)
    assert not verdict.passed and "BatchNorm" in verdict.message


def test_detaching_the_fakes_in_the_generator_step_too_fails():
    def frozen(generator, discriminator, opt_g, opt_d, real, z):
        fake = generator(z).detach()
        d_loss = gan.discriminator_loss(discriminator(real), discriminator(fake))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss = gan.generator_loss(discriminator(fake))
        loss.backward()
        opt_g.step()

    verdict = check_train_step(frozen)
    assert not verdict.passed and "did not move" in verdict.message


def test_a_stale_discriminator_output_fails_with_pytorchs_error():
    def stale(generator, discriminator, opt_g, opt_d, real, z):
        fake = generator(z)
        fake_logits = discriminator(fake)
        d_loss = gan.discriminator_loss(discriminator(real), fake_logits)
        opt_d.zero_grad()
        d_loss.backward(retain_graph=True)
        opt_d.step()
        opt_g.zero_grad()
        gan.generator_loss(fake_logits).backward()
        opt_g.step()

    verdict = check_train_step(stale)
    assert not verdict.passed and "RuntimeError" in verdict.message


# ----------------------------------------------------------------- exercise 3


def test_frechet_reference_passes_and_stub_is_not_implemented():
    assert check_gaussian_frechet(solution("my_frechet")).passed
    stub = check_gaussian_frechet(solution("my_frechet", stub=True))
    assert not stub.passed and "not implemented" in stub.message


def test_frechet_commuting_shortcut_fails_with_a_hint():
    def shortcut(mu_a, cov_a, mu_b, cov_b):
        root_a, root_b = gan._sqrtm_psd(cov_a), gan._sqrtm_psd(cov_b)
        return (
            (mu_a - mu_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * (root_a @ root_b).trace()
        ).item()

    verdict = check_gaussian_frechet(shortcut)
    assert not verdict.passed and "commute" in verdict.message


def test_frechet_without_the_means_or_the_factor_two_fails_with_hints():
    def no_means(mu_a, cov_a, mu_b, cov_b):
        return gan.gaussian_frechet_distance(mu_a * 0, cov_a, mu_b * 0, cov_b)

    verdict = check_gaussian_frechet(no_means)
    assert not verdict.passed and "means" in verdict.message

    def once(mu_a, cov_a, mu_b, cov_b):
        root_a = gan._sqrtm_psd(cov_a)
        cross = gan._sqrtm_psd(root_a @ cov_b @ root_a).trace()
        return ((mu_a - mu_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - cross).item()

    verdict = check_gaussian_frechet(once)
    assert not verdict.passed and "twice" in verdict.message


def test_frechet_element_wise_square_root_fails():
    def elementwise(mu_a, cov_a, mu_b, cov_b):
        return (
            (mu_a - mu_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * (cov_a @ cov_b).sqrt().trace()
        ).item()

    assert not check_gaussian_frechet(elementwise).passed


def test_frechet_accepts_tensors_and_float32_answers():
    def in_float32(mu_a, cov_a, mu_b, cov_b):
        return torch.tensor(gan.gaussian_frechet_distance(mu_a, cov_a, mu_b, cov_b), dtype=torch.float32)

    assert check_gaussian_frechet(in_float32).passed
    assert not check_gaussian_frechet(lambda *args: float("nan")).passed


# ----------------------------------------------------------------- exercise 4


def test_smoothing_reference_passes_and_stub_is_not_implemented():
    verdict = check_label_smoothing(solution("smoothed_loss"), solution("sample_report"))
    assert verdict.passed, verdict.message
    stub = check_label_smoothing(solution("smoothed_loss", stub=True), solution("sample_report"))
    assert not stub.passed and "not implemented" in stub.message
    stub = check_label_smoothing(solution("smoothed_loss"), solution("sample_report", stub=True))
    assert not stub.passed and "not implemented" in stub.message


def test_two_sided_smoothing_fails_with_a_hint():
    def two_sided(real, fake):
        return F.binary_cross_entropy_with_logits(
            real, torch.full_like(real, 0.9)
        ) + F.binary_cross_entropy_with_logits(fake, torch.full_like(fake, 0.1))

    verdict = check_label_smoothing(two_sided, solution("sample_report"))
    assert not verdict.passed and "one-sided" in verdict.message


def test_smoothing_towards_the_wrong_target_fails():
    def wrong(real, fake):
        return F.binary_cross_entropy_with_logits(real, torch.full_like(real, 0.1)) + F.softplus(fake).mean()

    assert not check_label_smoothing(wrong, solution("sample_report")).passed


def test_a_report_with_precision_for_recall_or_the_commonest_class_fails_with_hints():
    loss = solution("smoothed_loss")

    def precision_for_recall(features, classes, reference):
        precision, _ = gan.precision_recall(reference, features)
        return {
            "fd": gan.frechet_distance(features, reference),
            "min_share": gan.class_coverage(classes, 10).min_share,
            "recall": precision,
        }

    verdict = check_label_smoothing(loss, precision_for_recall)
    assert not verdict.passed and "that is the precision" in verdict.message

    def commonest(features, classes, reference):
        return {
            "fd": gan.frechet_distance(features, reference),
            "min_share": max(gan.class_coverage(classes, 10).shares),
            "recall": gan.precision_recall(reference, features)[1],
        }

    verdict = check_label_smoothing(loss, commonest)
    assert not verdict.passed and "commonest" in verdict.message


def test_a_report_with_missing_keys_fails_and_tensor_values_pass():
    loss, report = solution("smoothed_loss"), solution("sample_report")
    verdict = check_label_smoothing(loss, lambda *args: {"fd": report(*args)["fd"]})
    assert not verdict.passed and "keys" in verdict.message

    def as_tensors(*args):
        return {key: torch.tensor(value) for key, value in report(*args).items()}

    assert check_label_smoothing(loss, as_tensors).passed


# ----------------------------------------------------------------- exercise 5


def test_r1_reference_passes_and_stub_is_not_implemented():
    verdict = check_r1_penalty(solution("my_r1_penalty"))
    assert verdict.passed, verdict.message
    stub = check_r1_penalty(solution("my_r1_penalty", stub=True))
    assert not stub.passed and "not implemented" in stub.message


def test_r1_without_create_graph_fails_with_a_hint():
    def no_graph(discriminator, real):
        real = real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(discriminator(real).sum(), real)
        return grad.pow(2).flatten(1).sum(1).mean()

    verdict = check_r1_penalty(no_graph)
    assert not verdict.passed and "create_graph" in verdict.message


def test_r1_with_the_norm_not_squared_or_summed_over_the_batch_fails_with_hints():
    def not_squared(discriminator, real):
        real = real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(discriminator(real).sum(), real, create_graph=True)
        return grad.flatten(1).norm(dim=1).mean()

    verdict = check_r1_penalty(not_squared)
    assert not verdict.passed and "Square" in verdict.message

    def summed(discriminator, real):
        real = real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(discriminator(real).sum(), real, create_graph=True)
        return grad.pow(2).sum()

    verdict = check_r1_penalty(summed)
    assert not verdict.passed and "Average" in verdict.message
