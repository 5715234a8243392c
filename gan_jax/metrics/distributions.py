"""Distribution metrics over feature sets: FID, KID, Inception Score, precision/recall,
density/coverage, and streaming feature statistics.

Features are arrays [N, D] (any float dtype; everything is computed in float64 NumPy, so the
results do not depend on the device count or the batch split). Probabilities for the Inception
Score are [N, C] rows that sum to 1.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.linalg


def _as_features(name: str, x) -> np.ndarray:
  x = np.asarray(x, np.float64)
  if x.ndim != 2 or x.shape[0] == 0:
    raise ValueError(f'{name} must be a non-empty feature matrix [N, D], got shape {x.shape}')
  if not np.all(np.isfinite(x)):
    raise ValueError(f'{name} contains NaN or inf; check the images and the feature extractor')
  return x


# ----------------------------------------------------------------------------- streaming stats


@dataclasses.dataclass
class FeatureStats:
  """Mean and covariance of a feature set, accumulated in batches (Chan et al.'s merge).

  `update(batch [n, D])` adds rows; `mean` [D] and `covariance` [D, D] (unbiased, N - 1) are
  those of all rows added, equal to np.mean / np.cov of the concatenation up to float64 rounding,
  whatever the batch split. Memory is O(D^2), independent of N.
  """
  dim: int
  count: int = 0
  _mean: np.ndarray | None = None
  _m2: np.ndarray | None = None    # sum of outer products of deviations from the mean

  def update(self, batch) -> 'FeatureStats':
    x = _as_features('batch', batch)
    if x.shape[1] != self.dim:
      raise ValueError(f'batch has {x.shape[1]} features, these statistics hold {self.dim} features')
    n = x.shape[0]
    batch_mean = x.mean(axis=0)
    centred = x - batch_mean
    batch_m2 = centred.T @ centred
    if self.count == 0:
      self._mean, self._m2 = batch_mean, batch_m2
    else:
      total = self.count + n
      delta = batch_mean - self._mean
      self._mean = self._mean + delta * (n / total)
      self._m2 = self._m2 + batch_m2 + np.outer(delta, delta) * (self.count * n / total)
    self.count += n
    return self

  @property
  def mean(self) -> np.ndarray:
    self._check(1)
    return self._mean

  @property
  def covariance(self) -> np.ndarray:
    self._check(2)
    return self._m2 / (self.count - 1)

  def _check(self, needed: int) -> None:
    if self.count < needed:
      raise ValueError(f'feature statistics need at least {needed} row(s), have {self.count}')

  def to_arrays(self) -> dict[str, np.ndarray]:
    """{'mu': [D], 'sigma': [D, D], 'count': []} for np.savez."""
    return {'mu': self.mean, 'sigma': self.covariance, 'count': np.asarray(self.count)}


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
  """(mu [D], sigma [D, D]) of features [N, D] (unbiased covariance, as pytorch-fid)."""
  x = _as_features('features', features)
  stats = FeatureStats(x.shape[1]).update(x)
  return stats.mean, stats.covariance


# ----------------------------------------------------------------------------------------- FID


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
  """Square root of a symmetric positive semi-definite matrix via its eigendecomposition."""
  values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
  return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
  """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2):

      ||mu1 - mu2||^2 + Tr(sigma1) + Tr(sigma2) - 2 Tr((sigma1 sigma2)^(1/2)).

  The trace of the matrix square root is computed stably as the sum of the square roots of the
  eigenvalues of sqrt(sigma1) sigma2 sqrt(sigma1) (symmetric PSD, the same spectrum as
  sigma1 sigma2), so rank-deficient covariances (fewer samples than features) need no epsilon
  and give no complex parts. mu [D], sigma [D, D].
  """
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
  d = mu1.shape[0]
  if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
    raise ValueError(f'frechet_distance needs mu [D] and sigma [D, D] of one D; got '
                     f'{mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}')
  root1 = _sqrt_psd(sigma1)
  middle = root1 @ sigma2 @ root1
  eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
  trace_sqrt = np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None)))
  diff = mu1 - mu2
  return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)


def frechet_distance_scipy(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
  """pytorch-fid's formula (scipy.linalg.sqrtm with an epsilon retry), kept as a reference."""
  mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
  sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
  diff = mu1 - mu2
  covmean = scipy.linalg.sqrtm(sigma1.dot(sigma2))
  if not np.isfinite(covmean).all():
    offset = np.eye(sigma1.shape[0]) * eps
    covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
  covmean = np.real(covmean)
  return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(features1, features2) -> float:
  """FID between two feature sets [N1, D] and [N2, D]."""
  return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


# ----------------------------------------------------------------------------------------- KID


def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """k(x, y) = (x . y / D + 1)^3, the KID kernel (Binkowski et al. 2018)."""
  return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x, y) -> float:
  """Unbiased estimate of MMD^2 with the cubic polynomial kernel; x [m, D], y [n, D]."""
  x, y = _as_features('x', x), _as_features('y', y)
  m, n = x.shape[0], y.shape[0]
  if m < 2 or n < 2:
    raise ValueError(f'unbiased MMD needs at least 2 rows per set, got {m} and {n}')
  k_xx, k_yy, k_xy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
  return float((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
               + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
               - 2.0 * k_xy.mean())


def kernel_inception_distance(feats1, feats2, num_subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
  """KID: (mean, std) of the unbiased MMD^2 over `num_subsets` random subsets of both sets.

  Each subset draws `subset_size` rows of each set without replacement (clipped to the smaller
  set's size, as clean-fid and torch-fidelity do). Deterministic for a seed.
  """
  x, y = _as_features('feats1', feats1), _as_features('feats2', feats2)
  if x.shape[1] != y.shape[1]:
    raise ValueError(f'feature sets differ in dimension: {x.shape[1]} vs {y.shape[1]}')
  if num_subsets < 1:
    raise ValueError(f'num_subsets must be >= 1, got {num_subsets}')
  size = min(subset_size, x.shape[0], y.shape[0])
  rng = np.random.default_rng(seed)
  values = [mmd2_unbiased(x[rng.choice(x.shape[0], size, replace=False)],
                          y[rng.choice(y.shape[0], size, replace=False)])
            for _ in range(num_subsets)]
  return float(np.mean(values)), float(np.std(values))


# ------------------------------------------------------------------------------ Inception Score


def inception_score(probs, num_splits: int = 10) -> tuple[float, float]:
  """IS = exp(E_x KL(p(y|x) || p(y))) per split; returns (mean, std) over splits.

  probs [N, C]: class probabilities (softmax of the logits), rows summing to 1. Splits are
  contiguous, as in the original implementation (Salimans et al. 2016).
  """
  p = _as_features('probs', probs)
  if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
    raise ValueError('inception_score needs probabilities: non-negative rows that sum to 1 '
                     '(apply softmax to logits first)')
  if not 1 <= num_splits <= p.shape[0]:
    raise ValueError(f'num_splits must be in [1, N={p.shape[0]}], got {num_splits}')
  scores = []
  for part in np.array_split(p, num_splits):
    marginal = part.mean(axis=0, keepdims=True)
    kl = np.sum(part * (np.log(np.clip(part, 1e-30, None)) - np.log(np.clip(marginal, 1e-30, None))),
                axis=1)
    scores.append(np.exp(kl.mean()))
  return float(np.mean(scores)), float(np.std(scores))


# --------------------------------------------------------------- k-NN manifold metrics


def pairwise_distances(x: np.ndarray, y: np.ndarray, chunk: int = 2048) -> np.ndarray:
  """Euclidean distances [N, M] between rows of x [N, D] and y [M, D], in row chunks."""
  y_sq = np.sum(y * y, axis=1)
  out = np.empty((x.shape[0], y.shape[0]), np.float64)
  for start in range(0, x.shape[0], chunk):
    block = x[start:start + chunk]
    sq = np.sum(block * block, axis=1)[:, None] - 2.0 * block @ y.T + y_sq[None, :]
    out[start:start + chunk] = np.sqrt(np.clip(sq, 0.0, None))
  return out


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
  """Distance from each row to its k-th nearest other row [N] (the row itself excluded)."""
  if not 1 <= k < features.shape[0]:
    raise ValueError(f'k must be in [1, N-1] = [1, {features.shape[0] - 1}], got {k}')
  distances = pairwise_distances(features, features)
  return np.partition(distances, k, axis=1)[:, k]   # column 0 is the row itself (distance 0)


def precision_recall(real_feats, fake_feats, k: int = 3) -> tuple[float, float]:
  """Improved precision and recall (Kynkäänniemi et al. 2019).

  Precision: fraction of fake samples inside the real manifold (the union of balls around each
  real sample with radius its k-th nearest real neighbour distance). Recall: fraction of real
  samples inside the fake manifold. real [N, D], fake [M, D].
  """
  real, fake = _as_features('real_feats', real_feats), _as_features('fake_feats', fake_feats)
  real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
  d = pairwise_distances(real, fake)                      # [N, M]; <=, as NVlabs' code
  precision = np.mean(np.any(d <= real_radii[:, None], axis=0))
  recall = np.mean(np.any(d <= fake_radii[None, :], axis=1))
  return float(precision), float(recall)


def density_coverage(real_feats, fake_feats, k: int = 5) -> tuple[float, float]:
  """Density and coverage (Naeem et al. 2020). real [N, D], fake [M, D].

  density = 1/(kM) sum_j #{i : fake_j in B(real_i, r_i)}; coverage = fraction of real samples
  whose ball holds at least one fake sample; r_i = distance to the k-th nearest real neighbour.
  """
  real, fake = _as_features('real_feats', real_feats), _as_features('fake_feats', fake_feats)
  radii = knn_radii(real, k)
  inside = pairwise_distances(real, fake) < radii[:, None]    # [N, M]; strict, as in prdc
  density = inside.sum() / (k * fake.shape[0])
  coverage = np.mean(inside.any(axis=1))
  return float(density), float(coverage)
