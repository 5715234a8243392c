"""Distribution metrics against closed forms and straightforward reference implementations."""

import numpy as np
import pytest
import scipy.linalg

from gan_jax import metrics
from gan_jax.metrics import distributions


def _random_spd(rng, d, rank=None):
  a = rng.normal(size=(d, rank or d))
  return a @ a.T / (rank or d) + (0 if rank else 1e-3) * np.eye(d)


# ----------------------------------------------------------------------------------------- FID


def test_fid_of_gaussians_by_hand():
  # Diagonal covariances commute: Tr((S1 S2)^1/2) = sum sqrt(a_i b_i), so
  # FID = |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
  mu1, mu2 = np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, 1.0, 0.0, 0.0])
  a, b = np.array([1.0, 4.0, 0.25, 9.0]), np.array([4.0, 1.0, 1.0, 9.0])
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
  got = metrics.frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
  assert got == pytest.approx(expected, rel=1e-6)
  assert expected == pytest.approx(5.25 + 1 + 1 + 0.25)


def test_fid_rotation_invariant_closed_form():
  # N(0, I) vs N(m, s^2 R D R^T): FID = |m|^2 + sum (1 - s sqrt(d_i))^2, any rotation R.
  rng = np.random.default_rng(0)
  d = 6
  q, _ = np.linalg.qr(rng.normal(size=(d, d)))
  eig = rng.uniform(0.1, 3.0, d)
  mean = rng.normal(size=d)
  expected = mean @ mean + np.sum((1 - np.sqrt(eig)) ** 2)
  got = metrics.frechet_distance(np.zeros(d), np.eye(d), mean, q @ np.diag(eig) @ q.T)
  assert got == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize('d,rank', [(16, None), (64, None), (32, 8)])
def test_fid_matches_scipy_sqrtm_reference(d, rank):
  rng = np.random.default_rng(d)
  s1, s2 = _random_spd(rng, d), _random_spd(rng, d, rank)
  mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
  reference = distributions.frechet_distance_scipy(mu1, s1, mu2, s2)
  assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=1e-6)


def test_fid_from_features_matches_numpy_cov_reference():
  rng = np.random.default_rng(1)
  x, y = rng.normal(size=(500, 20)), rng.normal(0.3, 1.2, size=(400, 20))
  reference = distributions.frechet_distance_scipy(x.mean(0), np.cov(x, rowvar=False),
                                                   y.mean(0), np.cov(y, rowvar=False))
  assert metrics.fid_from_features(x, y) == pytest.approx(reference, rel=1e-6)
  assert metrics.fid_from_features(x, x) == pytest.approx(0.0, abs=1e-8)


def test_fid_rejects_mismatched_shapes():
  with pytest.raises(ValueError, match='sigma'):
    metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


# ------------------------------------------------------------------------------ streaming stats


def test_streaming_statistics_equal_all_in_memory():
  rng = np.random.default_rng(2)
  x = rng.normal(5.0, 2.0, size=(1037, 12)).astype(np.float32)
  stats = metrics.FeatureStats(12)
  for start in range(0, len(x), 100):
    stats.update(x[start:start + 100])
  np.testing.assert_allclose(stats.mean, x.astype(np.float64).mean(0), rtol=1e-12)
  np.testing.assert_allclose(stats.covariance, np.cov(x.astype(np.float64), rowvar=False),
                             rtol=1e-10, atol=1e-12)
  assert stats.count == 1037
  one_shot = metrics.FeatureStats(12).update(x)
  np.testing.assert_allclose(stats.covariance, one_shot.covariance, rtol=1e-10, atol=1e-12)


def test_streaming_statistics_errors():
  stats = metrics.FeatureStats(3)
  with pytest.raises(ValueError, match='at least 2'):
    _ = stats.covariance
  with pytest.raises(ValueError, match='3 features'):
    stats.update(np.zeros((2, 4)))
  with pytest.raises(ValueError, match='NaN'):
    stats.update(np.full((2, 3), np.nan))


# ----------------------------------------------------------------------------------------- KID


def _kid_reference(x, y):
  """MMD^2_u written with explicit loops over pairs (Binkowski et al. 2018, eq. 3)."""
  d, m, n = x.shape[1], len(x), len(y)
  k = lambda a, b: (a @ b / d + 1) ** 3
  xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
  xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
  return xx + yy - 2 * xy


def test_mmd_matches_pairwise_loop_reference():
  rng = np.random.default_rng(3)
  x, y = rng.normal(size=(30, 7)), rng.normal(0.5, 1.0, size=(25, 7))
  assert distributions.mmd2_unbiased(x, y) == pytest.approx(_kid_reference(x, y), rel=1e-9)


def test_kid_subsets_average_the_reference():
  rng = np.random.default_rng(4)
  x, y = rng.normal(size=(60, 5)), rng.normal(0.2, 1.0, size=(50, 5))
  mean, std = metrics.kernel_inception_distance(x, y, num_subsets=4, subset_size=20, seed=9)
  pick = np.random.default_rng(9)
  values = [_kid_reference(x[pick.choice(60, 20, replace=False)],
                           y[pick.choice(50, 20, replace=False)]) for _ in range(4)]
  assert mean == pytest.approx(np.mean(values), rel=1e-9)
  assert std == pytest.approx(np.std(values), rel=1e-9)


def test_kid_is_unbiased_for_one_distribution():
  # E[MMD^2_u] = 0 when both sets come from one distribution (a biased estimator is > 0).
  rng = np.random.default_rng(5)
  values = [distributions.mmd2_unbiased(rng.normal(size=(50, 8)), rng.normal(size=(50, 8)))
            for _ in range(400)]
  assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(len(values))
  shifted = metrics.kernel_inception_distance(rng.normal(size=(200, 8)),
                                              rng.normal(0.5, 1.0, size=(200, 8)),
                                              num_subsets=10, subset_size=100)[0]
  assert shifted > 10 * np.std(values) / np.sqrt(50)


# ------------------------------------------------------------------------------ Inception Score


def test_inception_score_closed_forms():
  # Confident and uniform over C classes: IS = C. All images the same class: IS = 1.
  classes = 10
  confident = np.eye(classes)[np.arange(1000) % classes]
  assert metrics.inception_score(confident, num_splits=10)[0] == pytest.approx(classes, rel=1e-9)
  same = np.tile(np.full(classes, 1.0 / classes), (100, 1))
  assert metrics.inception_score(same, num_splits=5) == pytest.approx((1.0, 0.0), abs=1e-9)


def test_inception_score_matches_reference_formula():
  rng = np.random.default_rng(6)
  logits = rng.normal(size=(300, 7)) * 2
  probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  scores = []
  for part in np.array_split(probs, 3):
    py = part.mean(0)
    scores.append(np.exp(np.mean([scipy.stats.entropy(p, py) for p in part])))
  mean, std = metrics.inception_score(probs, num_splits=3)
  assert mean == pytest.approx(np.mean(scores), rel=1e-9)
  assert std == pytest.approx(np.std(scores), rel=1e-6)
  with pytest.raises(ValueError, match='softmax'):
    metrics.inception_score(logits)


# ---------------------------------------------------------- precision / recall / density / coverage


def _precision_recall_reference(real, fake, k):
  """Loops over samples (Kynkäänniemi et al. 2019, eq. 1-2)."""
  def radius(points, i):
    d = sorted(np.linalg.norm(points[i] - points[j]) for j in range(len(points)) if j != i)
    return d[k - 1]
  real_r = [radius(real, i) for i in range(len(real))]
  fake_r = [radius(fake, j) for j in range(len(fake))]
  precision = np.mean([any(np.linalg.norm(f - r) <= rr for r, rr in zip(real, real_r))
                       for f in fake])
  recall = np.mean([any(np.linalg.norm(r - f) <= fr for f, fr in zip(fake, fake_r))
                    for r in real])
  return precision, recall


def test_precision_recall_matches_loop_reference():
  rng = np.random.default_rng(7)
  real, fake = rng.normal(size=(40, 3)), rng.normal(0.7, 0.6, size=(35, 3))
  got = metrics.precision_recall(real, fake, k=3)
  assert got == pytest.approx(_precision_recall_reference(real, fake, 3))
  assert 0 < got[0] < 1 and 0 < got[1] < 1


def test_precision_recall_on_constructed_manifolds():
  rng = np.random.default_rng(8)
  real = rng.normal(size=(200, 16))
  assert metrics.precision_recall(real, real.copy(), k=3) == (1.0, 1.0)
  far = rng.normal(size=(150, 16)) + 100.0
  assert metrics.precision_recall(real, far, k=3) == (0.0, 0.0)
  # Fakes collapsed onto a few real points: precise but no recall.
  collapsed = np.repeat(real[:2], 50, axis=0) + 1e-6
  precision, recall = metrics.precision_recall(real, collapsed, k=3)
  assert precision == 1.0 and recall < 0.05


def test_density_coverage_on_constructed_manifolds():
  rng = np.random.default_rng(9)
  real = rng.normal(size=(300, 8))
  density, coverage = metrics.density_coverage(real, rng.normal(size=(300, 8)), k=5)
  assert 0.8 < density < 1.2 and coverage > 0.9      # same distribution: ~1 and ~1
  # Every fake on one real point: covers only the few balls that hold that point.
  density, coverage = metrics.density_coverage(real, real[:1].repeat(300, 0) + 1e-9, k=5)
  radii = distributions.knn_radii(real, 5)
  holding = np.linalg.norm(real - real[0], axis=1) < radii
  assert coverage == pytest.approx(holding.mean()) and coverage < 0.05
  assert density == pytest.approx(holding.sum() / 5)
  assert metrics.density_coverage(real, real + 1000.0, k=5) == (0.0, 0.0)
