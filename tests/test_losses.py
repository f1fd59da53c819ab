import numpy as np
import pytest
import torch

from stylevid.losses import (
    content_loss,
    gram_distance,
    gram_matrix,
    gram_split,
    split_gram_distance,
    total_variation,
    weighted_pixel_loss,
)


def numpy_gram(features: np.ndarray, guide: np.ndarray | None = None) -> np.ndarray:
    c = features.shape[0]
    flat = features.reshape(c, -1).astype(np.float64)
    if guide is None:
        return flat @ flat.T / flat.shape[1]
    g = guide.reshape(-1).astype(np.float64)
    weighted = flat * g
    return weighted @ weighted.T / (g**2).sum()


def test_gram_matches_float64_numpy():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(2, 5, 7, 6)).astype(np.float32)
    got = gram_matrix(torch.from_numpy(feats)).numpy()
    for b in range(2):
        np.testing.assert_allclose(got[b], numpy_gram(feats[b]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("guided", [False, True])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_gram_value_and_gradient_match_numpy_in_both_layouts(layout, guided):
    # d/dF Σ W∘G = (W + Wᵀ) F T² / mass for G = (F∘T)(F∘T)ᵀ / mass (float64 reference).
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(1, 6, 5, 4))
    guide = rng.uniform(size=(1, 1, 5, 4)) if guided else np.ones((1, 1, 5, 4))
    weights = rng.normal(size=(6, 6))
    x = torch.from_numpy(feats).contiguous(memory_format=layout).requires_grad_(True)
    gram = gram_matrix(x, torch.from_numpy(guide) if guided else None)
    (gram[0] * torch.from_numpy(weights)).sum().backward()
    g2 = guide.reshape(-1) ** 2
    flat = feats[0].reshape(6, -1)
    expected_grad = (weights + weights.T) @ flat * g2 / g2.sum()
    np.testing.assert_allclose(gram[0].detach().numpy(), numpy_gram(feats[0], guide[0, 0]),
                               rtol=1e-12)
    np.testing.assert_allclose(x.grad[0].numpy().reshape(6, -1), expected_grad, rtol=1e-10)
    assert x.grad.is_contiguous(memory_format=layout)  # no layout change in the backward


def test_guided_gram_matches_numpy_and_reduces_to_plain_gram():
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(1, 4, 6, 6)).astype(np.float32)
    guide = rng.uniform(size=(1, 1, 6, 6)).astype(np.float32)
    got = gram_matrix(torch.from_numpy(feats), torch.from_numpy(guide)).numpy()[0]
    np.testing.assert_allclose(got, numpy_gram(feats[0], guide[0, 0]), rtol=1e-5, atol=1e-6)
    ones = torch.ones(1, 1, 6, 6)
    torch.testing.assert_close(gram_matrix(torch.from_numpy(feats), ones),
                               gram_matrix(torch.from_numpy(feats)))


def test_binary_guide_equals_gram_of_the_region_alone():
    feats = torch.randn(1, 3, 4, 8)
    guide = torch.zeros(1, 1, 4, 8)
    guide[..., :4] = 1
    torch.testing.assert_close(gram_matrix(feats, guide), gram_matrix(feats[..., :4]))


def test_gram_distance_is_gatys_normalisation():
    rng = np.random.default_rng(2)
    f, p = rng.normal(size=(2, 3, 5, 5))
    n, m = 3, 25
    g_raw, a_raw = f.reshape(n, m) @ f.reshape(n, m).T, p.reshape(n, m) @ p.reshape(n, m).T
    expected = ((g_raw - a_raw) ** 2).sum() / (4 * n**2 * m**2)
    got = gram_distance(gram_matrix(torch.from_numpy(f[None])), gram_matrix(torch.from_numpy(p[None])))
    assert float(got) == pytest.approx(expected, rel=1e-9)


def numpy_weighted_distance(flat: np.ndarray, weights: np.ndarray, target: np.ndarray) -> float:
    """Gatys' layer loss of the Gram matrix Σ w f fᵀ / Σ w (float64)."""
    gram = (flat * weights) @ flat.T / weights.sum()
    return ((gram - target) ** 2).sum() / (4 * flat.shape[0] ** 2)


@pytest.mark.parametrize("guided", [False, True])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_split_gram_distance_weighs_the_held_and_fresh_parts_alone(layout, guided):
    # Reference: the two parts' Gram matrices computed directly from their weights r·fresh
    # and r·(1 - fresh) (r = guide², 1 without a guide), each part's distance weighted by
    # its share of Σ r. Soft and exactly-zero fresh values both occur.
    rng = np.random.default_rng(3)
    feats = rng.normal(size=(1, 5, 6, 7))
    guide = rng.uniform(0.2, 1.0, size=(1, 1, 6, 7)) if guided else None
    fresh = np.zeros((1, 1, 6, 7))
    fresh[..., 5:] = rng.uniform(size=(1, 1, 6, 2))
    fresh[..., 0, 2] = 1.0
    target = numpy_gram(rng.normal(size=(5, 6, 7)))
    x = torch.from_numpy(feats).contiguous(memory_format=layout)
    g = torch.from_numpy(guide) if guided else None
    split = gram_split(g, torch.from_numpy(fresh))
    got = split_gram_distance(x, gram_matrix(x, g), split, torch.from_numpy(target))
    flat = feats[0].reshape(5, -1)
    r = guide.reshape(-1) ** 2 if guided else np.ones(42)
    held_part, fresh_part = r * (1 - fresh.reshape(-1)), r * fresh.reshape(-1)
    expected = (held_part.sum() * numpy_weighted_distance(flat, held_part, target)
                + fresh_part.sum() * numpy_weighted_distance(flat, fresh_part, target)) / r.sum()
    assert float(got) == pytest.approx(expected, rel=1e-9)


def test_no_split_when_nothing_or_next_to_nothing_is_held_or_nothing_is_fresh():
    guide = torch.ones(1, 1, 5, 5)
    guide[..., 0] = 0.0  # outside the region: the rest of the map is fresh
    fresh = torch.ones(1, 1, 5, 5)
    fresh[..., 0] = 0.0
    assert gram_split(None, torch.zeros(1, 1, 5, 5)) is None
    assert gram_split(None, torch.ones(1, 1, 5, 5)) is None
    assert gram_split(guide, fresh) is None
    fresh[0, 0, 2, 2] = 0.5  # a held half of one position: 1/40 of the region
    split = gram_split(guide, fresh)
    assert split is not None and split.fresh_share == pytest.approx(19.5 / 20)


def test_split_gram_distance_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    x = torch.from_numpy(rng.normal(size=(1, 3, 4, 4))).requires_grad_(True)
    fresh = torch.zeros(1, 1, 4, 4)
    fresh[..., 3] = 0.7
    target = torch.from_numpy(numpy_gram(rng.normal(size=(3, 4, 4))))

    def loss(v: torch.Tensor) -> torch.Tensor:
        return split_gram_distance(v, gram_matrix(v), gram_split(None, fresh.double()), target)

    assert torch.autograd.gradcheck(loss, (x,))


def test_total_variation_of_checkerboard_is_two():
    board = torch.from_numpy((np.indices((8, 8)).sum(0) % 2).astype(np.float32))[None, None]
    assert float(total_variation(board)) == pytest.approx(2.0)
    assert float(total_variation(torch.ones(1, 3, 5, 5))) == 0.0


def test_content_and_weighted_pixel_loss_known_values():
    x = torch.zeros(1, 3, 2, 2)
    y = torch.full((1, 3, 2, 2), 2.0)
    assert float(content_loss(x, y)) == pytest.approx(4.0)
    weight = torch.tensor([[1.0, 0.0], [0.5, 0.0]]).view(1, 1, 2, 2)
    # (1 + 0.5) * 4 per channel, 3 channels, divided by D = 12 values
    assert float(weighted_pixel_loss(x, y, weight)) == pytest.approx(1.5 * 4 * 3 / 12)


def test_losses_pass_gradcheck_in_float64():
    torch.manual_seed(0)
    feats = torch.randn(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    target = gram_matrix(torch.randn(1, 3, 4, 4, dtype=torch.float64))
    guide = torch.rand(1, 1, 4, 4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda f: gram_distance(gram_matrix(f, guide), target), (feats,))
    image = torch.rand(1, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(total_variation, (image,))
    other = torch.rand(1, 3, 5, 5, dtype=torch.float64)
    weight = torch.rand(1, 1, 5, 5, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: weighted_pixel_loss(x, other, weight), (image,))
    assert torch.autograd.gradcheck(lambda x: weighted_pixel_loss(x, other, weight, 0.3),
                                    (image,))


def _reference_fine_loss(difference: np.ndarray, weight: np.ndarray, beta: float) -> float:
    """``mean(c [β d² + (1-β) (B d)²])`` in float64 numpy, with B the 3x3 binomial blur over
    edge-mirrored (reflect-101) pixels, written as a loop over the nine taps."""
    taps = np.array([1.0, 2.0, 1.0]) / 4
    padded = np.pad(difference, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    h, w = difference.shape[1:]
    blurred = sum(taps[i] * taps[j] * padded[:, i:i + h, j:j + w]
                  for i in range(3) for j in range(3))
    return float(np.mean(weight * (beta * difference**2 + (1 - beta) * blurred**2)))


def test_temporal_loss_holds_the_finest_detail_by_fine_weight():
    """With β < 1 the loss is the float64 reference; a pixel checkerboard (Nyquist) costs
    exactly β of the plain loss, a constant difference exactly the plain loss."""
    rng = np.random.default_rng(3)
    image, target = rng.random((2, 3, 9, 7))
    weight = rng.random((9, 7))
    got = weighted_pixel_loss(torch.from_numpy(image)[None], torch.from_numpy(target)[None],
                              torch.from_numpy(weight)[None, None], 0.3)
    assert float(got) == pytest.approx(_reference_fine_loss(image - target, weight, 0.3),
                                       rel=1e-12)
    board = torch.from_numpy(np.indices((9, 7)).sum(0) % 2 * 2.0 - 1.0)[None, None]
    board = board.expand(1, 3, 9, 7)
    zero, c = torch.zeros_like(board), torch.from_numpy(weight)[None, None]
    plain = float(weighted_pixel_loss(board, zero, c))
    assert float(weighted_pixel_loss(board, zero, c, 0.25)) == pytest.approx(0.25 * plain,
                                                                            rel=1e-12)
    flat = torch.full_like(board, 0.7)
    assert float(weighted_pixel_loss(flat, zero, c, 0.25)) == pytest.approx(
        float(weighted_pixel_loss(flat, zero, c)), rel=1e-12)
