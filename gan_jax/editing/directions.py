"""Semantic directions in a generator's latent space, supervised and unsupervised.

* InterFaceGAN (Shen et al. 2020): a linear boundary between latents whose images a classifier
  labels positive and negative; the unit normal is the edit direction.
* Conditional directions (InterFaceGAN): a direction with its components along other attributes'
  normals projected out, so moving along it leaves those attributes' scores unchanged.
* SeFa (Shen & Zhou 2021): closed form from the generator's weights; the top eigenvectors of
  A^T A, where A stacks the (column-normalised) style projections of the chosen layers.
* GANSpace (Harkonen et al. 2020): principal components of sampled w.
* Attribute vectors (for a VAE or any encoder): difference of class means of encoded latents.

Every direction is a `Direction`: a unit vector [W] with a name, the range of w+ layers it
applies to and a record of how it was found; `save_directions` / `load_directions` keep a named
set in one .npz. Functions are pure numpy/JAX on arrays; no models are trained here beyond the
linear boundary.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Mapping, Sequence

import numpy as np

from gan_jax import errors

METHODS = ('interfacegan', 'conditional', 'sefa', 'ganspace', 'attribute_vector')


@dataclasses.dataclass(frozen=True)
class Direction:
  """A named edit direction.

  vector: unit vector [W]; layers: (start, stop) range of w+ indices the edit touches (None =
  all layers); scale: the latent's spread along the vector (std of the projections of samples,
  when known) so strengths can be given in standard deviations; info: how it was found
  (method, accuracy, eigenvalue, ...), JSON-serialisable.
  """
  name: str
  vector: np.ndarray
  layers: tuple[int, int] | None = None
  scale: float = 1.0
  info: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def unit(v: np.ndarray) -> np.ndarray:
  """v / |v|; ValueError for a zero vector."""
  v = np.asarray(v, np.float64)
  norm = np.linalg.norm(v)
  if not norm > 0:
    raise ValueError('cannot normalise a zero direction')
  return (v / norm).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# InterFaceGAN


def fit_linear_boundary(latents: np.ndarray, labels: np.ndarray, l2: float = 1e-3,
                        iterations: int = 50) -> tuple[np.ndarray, float, float]:
  """L2-regularised logistic regression by Newton's method (IRLS), in place of InterFaceGAN's
  linear SVM (both give a separating hyperplane; this one is deterministic and exact to solve).

  latents [N, W], labels [N] in {0, 1}. Features are standardised for the fit and the boundary
  is mapped back to latent space. Returns (unit normal [W] pointing to label 1, offset b such
  that the boundary is normal . x + b = 0 with |normal| = 1, training accuracy).
  """
  x = np.asarray(latents, np.float64)
  y = np.asarray(labels, np.float64).reshape(-1)
  if x.ndim != 2 or len(x) != len(y):
    raise ValueError(f'latents {x.shape} and labels {y.shape}: want [N, W] and [N]')
  if not (np.any(y == 1) and np.any(y == 0)):
    raise ValueError('labels must contain both classes to fit a boundary')
  mean, std = x.mean(0), x.std(0) + 1e-8
  xs = np.concatenate([(x - mean) / std, np.ones((len(x), 1))], axis=1)
  theta = np.zeros(xs.shape[1])
  reg = np.full(xs.shape[1], l2 * len(x))
  reg[-1] = 0.0                                   # no penalty on the intercept
  for _ in range(iterations):
    p = 1.0 / (1.0 + np.exp(-np.clip(xs @ theta, -30, 30)))
    grad = xs.T @ (p - y) + reg * theta
    hess = (xs * (p * (1 - p))[:, None]).T @ xs + np.diag(reg) + 1e-9 * np.eye(len(theta))
    delta = np.linalg.solve(hess, grad)
    theta -= delta
    if np.max(np.abs(delta)) < 1e-10:
      break
  w = theta[:-1] / std
  b = theta[-1] - np.sum(theta[:-1] * mean / std)
  norm = np.linalg.norm(w)
  accuracy = float(np.mean(((x @ w + b) > 0) == (y > 0.5)))
  return (w / norm).astype(np.float32), float(b / norm), accuracy


def confident_split(scores: np.ndarray, fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
  """InterFaceGAN's sample selection: indices of the `fraction` most positive and the
  `fraction` most negative scores (classifier logits) [N] -> (positive_idx, negative_idx)."""
  if not 0 < fraction <= 0.5:
    raise ValueError(f'fraction={fraction} must be in (0, 0.5]')
  order = np.argsort(np.asarray(scores))
  k = max(1, int(len(order) * fraction))
  return order[-k:], order[:k]


def interfacegan_direction(name: str, latents: np.ndarray, scores: np.ndarray,
                           fraction: float = 0.2, l2: float = 1e-3,
                           layers: tuple[int, int] | None = None) -> Direction:
  """A supervised direction: latents [N, W] of generated images and the classifier's logits
  [N] for the attribute; fits the boundary between the most confident positive and negative
  `fraction`; scale = std of all latents' projections on the normal."""
  pos, neg = confident_split(scores, fraction)
  idx = np.concatenate([pos, neg])
  labels = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
  normal, offset, accuracy = fit_linear_boundary(np.asarray(latents)[idx], labels, l2)
  scale = float(np.std(np.asarray(latents) @ normal))
  return Direction(name, normal, layers, scale,
                   dict(method='interfacegan', offset=offset, train_accuracy=accuracy,
                        num_samples=int(len(idx)), fraction=fraction))


def orthogonalize(vector: np.ndarray, others: Sequence[np.ndarray]) -> np.ndarray:
  """The unit vector along the part of `vector` orthogonal to span(others) (InterFaceGAN's
  conditional manipulation: n - N^T (N N^T)^-1 N n, renormalised)."""
  v = np.asarray(vector, np.float64)
  if len(others):
    n = np.stack([np.asarray(o, np.float64) for o in others])        # [K, W]
    v = v - n.T @ np.linalg.lstsq(n @ n.T, n @ v, rcond=None)[0]
  return unit(v)


def conditional_direction(primary: Direction, conditions: Sequence[Direction]) -> Direction:
  """`primary` with the directions of `conditions` projected out: edits that keep those
  attributes. Named '<primary>|<cond1>,<cond2>'."""
  vector = orthogonalize(primary.vector, [c.vector for c in conditions])
  name = primary.name + '|' + ','.join(c.name for c in conditions)
  cosine = float(np.dot(vector, primary.vector))
  return dataclasses.replace(primary, name=name, vector=vector, info=dict(
      primary.info, method='conditional', conditioned_on=[c.name for c in conditions],
      cosine_to_primary=cosine))


# ----------------------------------------------------------------------------------------------
# SeFa and GANSpace (unsupervised)


def sefa_matrix(style_kernels: Sequence[np.ndarray]) -> np.ndarray:
  """A: the style projections [W, C_i] of the chosen layers (x @ kernel, as in
  models.stylegan.EqualDense) concatenated to [W, sum C_i], each column scaled to unit norm
  (genforce/sefa)."""
  a = np.concatenate([np.asarray(k, np.float64) for k in style_kernels], axis=1)
  return a / np.linalg.norm(a, axis=0, keepdims=True)


def sefa_directions(style_kernels: Sequence[np.ndarray], num: int = 5,
                    layers: tuple[int, int] | None = None,
                    prefix: str = 'sefa') -> list[Direction]:
  """The top `num` eigenvectors of A A^T (A from sefa_matrix; in the paper's notation the top
  eigenvectors of A^T A for A = the [C, W] projection), largest eigenvalue first; each sign is
  fixed so its largest-magnitude component is positive."""
  a = sefa_matrix(style_kernels)
  values, vectors = np.linalg.eigh(a @ a.T)
  order = np.argsort(values)[::-1][:num]
  out = []
  for rank, i in enumerate(order):
    v = vectors[:, i]
    v = v * np.sign(v[np.argmax(np.abs(v))])
    out.append(Direction(f'{prefix}{rank}', unit(v), layers, 1.0,
                         dict(method='sefa', eigenvalue=float(values[i]), rank=rank)))
  return out


def stylegan_style_kernels(g_params: Mapping[str, Any], image_size: int,
                           layers: tuple[int, int] | None = None) -> list[np.ndarray]:
  """The affine (style) kernels [W, C] driven by w+ indices in `layers` (all when None) of a
  models.stylegan.Generator's params."""
  from gan_jax.models import stylegan  # pylint: disable=g-import-not-at-top
  per_index = stylegan.style_layers(image_size)
  start, stop = layers or (0, len(per_index))
  synthesis = g_params['synthesis']
  kernels = []
  for paths in per_index[start:stop]:
    for path in paths:
      node = synthesis
      for part in path:
        node = node[part]
      kernels.append(np.asarray(node['affine']['kernel']))
  if not kernels:
    raise ValueError(f'no style layers in w+ range {layers} (the generator has '
                     f'{len(per_index)})')
  return kernels


def ganspace_directions(ws: np.ndarray, num: int = 5, layers: tuple[int, int] | None = None,
                        prefix: str = 'pc') -> list[Direction]:
  """Principal components of sampled w [N, W] (GANSpace), largest variance first; scale = the
  component's standard deviation; sign: largest-magnitude component positive."""
  x = np.asarray(ws, np.float64)
  x = x - x.mean(0)
  _, s, vt = np.linalg.svd(x, full_matrices=False)
  out = []
  for rank in range(min(num, len(s))):
    v = vt[rank] * np.sign(vt[rank][np.argmax(np.abs(vt[rank]))])
    std = float(s[rank] / np.sqrt(max(len(x) - 1, 1)))
    out.append(Direction(f'{prefix}{rank}', unit(v), layers, std,
                         dict(method='ganspace', explained_std=std, rank=rank)))
  return out


def attribute_vector(name: str, latents: np.ndarray, labels: np.ndarray) -> Direction:
  """mean(latents | label 1) - mean(latents | label 0) as a unit direction; scale = its
  length (the strength 1.0 moves a negative example's mean to the positive mean)."""
  x, y = np.asarray(latents, np.float64), np.asarray(labels).reshape(-1) > 0.5
  if not (y.any() and (~y).any()):
    raise ValueError(f'{name}: labels must contain both classes')
  diff = x[y].mean(0) - x[~y].mean(0)
  return Direction(name, unit(diff), None, float(np.linalg.norm(diff)),
                   dict(method='attribute_vector', num_positive=int(y.sum()),
                        num_negative=int((~y).sum())))


# ----------------------------------------------------------------------------------------------
# Named sets on disk


def save_directions(path: str, directions: Sequence[Direction]) -> None:
  """Writes the directions to one .npz (vectors + a JSON index), atomically."""
  names = [d.name for d in directions]
  if len(set(names)) != len(names):
    raise ValueError(f'duplicate direction names in {names}')
  index = [dict(name=d.name, layers=list(d.layers) if d.layers else None, scale=d.scale,
                info=dict(d.info)) for d in directions]
  arrays = {f'vector_{i}': np.asarray(d.vector, np.float32) for i, d in enumerate(directions)}
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path + '.tmp', 'wb') as f:
    np.savez(f, index=np.asarray(json.dumps(index)), **arrays)
  os.replace(path + '.tmp', path)


def load_directions(path: str) -> dict[str, Direction]:
  """name -> Direction from a save_directions file; a clear error when it is missing."""
  if not os.path.exists(path):
    raise errors.InputNotFoundError(f'no directions file at {path}: find directions first with '
                                    '--mode=directions (it writes WORKDIR/edits/directions.npz)')
  with np.load(path) as data:
    index = json.loads(str(data['index']))
    return {e['name']: Direction(e['name'], data[f'vector_{i}'],
                                 tuple(e['layers']) if e['layers'] else None, e['scale'],
                                 e['info'])
            for i, e in enumerate(index)}
