"""The per-pixel cloud probability: the vectorised mixture scorer against a plain reference,
zero variances, precision far from zero, chunking, and the EM fit with its cloud rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cloudmotion.amv.cloudfit import auto_model
from cloudmotion.amv.cloudprob import VAR_FLOOR, CloudModel, score, template_fraction


def reference(stack, weights, means, variances, cloud):
    """Straightforward float64 per-pixel loop, with the documented variance floor."""
    variances = np.asarray(variances, dtype=float)
    floor = VAR_FLOOR * variances.max(axis=0)
    var = np.maximum(variances, floor)
    weights = np.asarray(weights, float) / np.sum(weights)
    h, w, c = stack.shape
    logd = np.empty((h, w))
    prob = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            terms = []
            for k in range(len(weights)):
                s = math.log(weights[k])
                for ch in range(c):
                    d = float(stack[i, j, ch]) - means[k][ch]
                    s += -0.5 * math.log(2 * math.pi * var[k, ch]) - 0.5 * d * d / var[k, ch]
                terms.append(s)
            top = max(terms)
            total = top + math.log(sum(math.exp(t - top) for t in terms))
            cl = [t for t, is_cloud in zip(terms, cloud, strict=True) if is_cloud]
            ctop = max(cl)
            logd[i, j] = total
            prob[i, j] = math.exp(ctop + math.log(sum(math.exp(t - ctop) for t in cl)) - total)
    return logd, prob


def _bt_stack(radiance, shape=(24, 31)):
    """Three channels far from zero (brightness temperatures, K) from the real frame."""
    r = radiance[: shape[0], : shape[1]]
    r = (r - r.mean()) / r.std()
    return np.stack([250.0 + 12.0 * r, 260.0 - 8.0 * r[::-1], 240.0 + 5.0 * r[:, ::-1]], axis=-1).astype(np.float32)


MODEL = {
    "weights": [0.5, 0.3, 0.2],
    "means": [[262.0, 252.0, 245.0], [240.0, 266.0, 236.0], [250.0, 260.0, 240.0]],
    "variances": [[30.0, 20.0, 8.0], [50.0, 25.0, 6.0], [0.0, 4.0, 2.0]],  # a zero variance, floored
    "cloud": [False, True, True],
}


def test_vectorised_log_density_equals_reference_with_zero_variance(radiance):
    stack = _bt_stack(radiance)
    stack[3, 4, 0] = 250.0  # exactly on the zero-variance component's mean: a narrow, finite spike
    model = CloudModel(**MODEL)
    logd, prob = score(stack, model, chunk=40)  # several chunks
    ref_logd, ref_prob = reference(stack.astype(np.float64), **MODEL)
    assert np.all(np.isfinite(logd))
    np.testing.assert_allclose(logd, ref_logd, rtol=1e-6)
    np.testing.assert_allclose(prob, ref_prob, rtol=1e-5, atol=1e-6)
    assert logd[3, 4] > np.median(logd) + 5  # the spike is there, not silently dropped


def test_chunking_does_not_change_the_result(radiance):
    stack = _bt_stack(radiance, (60, 70))
    model = CloudModel(**MODEL)
    whole = score(stack, model, chunk=10**9)
    rows = score(stack, model, chunk=1)
    np.testing.assert_array_equal(whole[0], rows[0])
    np.testing.assert_array_equal(whole[1], rows[1])


def test_invalid_pixels_are_nan_and_single_channel_images_work(radiance):
    img = radiance[:20, :20].astype(np.float32)
    img[0, 0] = np.nan
    valid = np.ones(img.shape, bool)
    valid[5, 5] = False
    m = float(img[1:].mean())
    model = CloudModel([0.5, 0.5], [[m - 5], [m + 5]], [[4.0], [4.0]], [True, False])
    logd, prob = score(img, model, valid=valid)
    assert np.isnan(logd[0, 0]) and np.isnan(prob[5, 5])
    assert np.isfinite(prob).sum() == img.size - 2
    assert prob.dtype == np.float32 and np.nanmin(prob) >= 0 and np.nanmax(prob) <= 1


@pytest.mark.parametrize(
    "change, message",
    [
        ({"variances": [[-1.0, 1, 1], [1, 1, 1], [1, 1, 1]]}, "variances must be finite and >= 0"),
        ({"variances": [[0.0, 1, 1], [0, 1, 1], [0, 1, 1]]}, "channel 1 has variance 0 in every component"),
        ({"weights": [0.5, 0.0, 0.5]}, "weights must be finite and > 0"),
        ({"cloud": [True, False]}, "one weight, mean, variance"),
    ],
)
def test_bad_models_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        CloudModel(**{**MODEL, **change})


def test_channel_mismatch_is_refused(radiance):
    with pytest.raises(ValueError, match="3 channel"):
        score(radiance[:10, :10], CloudModel(**MODEL))


def test_template_fraction_is_the_mean_over_defined_pixels():
    prob = np.zeros((8, 8))
    prob[:, 4:] = 1.0
    prob[0, 0] = np.nan
    frac = template_fraction(prob, np.array([0, 0, 4]), np.array([0, 4, 2]), 4)
    np.testing.assert_allclose(frac, [0.0, 1.0, 0.5])


@pytest.mark.parametrize("cloud_is", ["cold", "bright"])
def test_auto_model_separates_a_known_mixture_and_picks_cloud_by_the_rule(radiance, cloud_is):
    rng = np.random.default_rng(1)
    warm = rng.normal(290.0, 3.0, 6000)
    cold = rng.normal(230.0, 6.0, 4000)
    img = np.concatenate([warm, cold]).reshape(100, 100)
    rep = auto_model(img, None, cloud_is=cloud_is, components=(2,))
    m = rep.model
    assert m.n_components == 2
    i_cold = int(np.argmin(m.means[:, 0]))
    np.testing.assert_allclose(sorted(m.means[:, 0]), [230.0, 290.0], atol=0.5)
    np.testing.assert_allclose(m.weights[i_cold], 0.4, atol=0.01)
    np.testing.assert_allclose(np.sqrt(m.variances[i_cold, 0]), 6.0, rtol=0.05)
    assert bool(m.cloud[i_cold]) == (cloud_is == "cold")
    assert m.cloud.sum() == 1
    _, prob = score(img, m)
    cloud_share = float(np.nanmean(prob))
    assert abs(cloud_share - (0.4 if cloud_is == "cold" else 0.6)) < 0.01


def test_auto_model_refuses_a_constant_image():
    with pytest.raises(ValueError, match="no contrast"):
        auto_model(np.full((50, 50), 3.0), None, cloud_is="cold")
