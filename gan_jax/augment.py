"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for discriminators on small data.

The same random transformation family is applied to real and fake images before D, in both the
D and the G updates, so D cannot memorise the training set and G's gradients pass through the
augmentation. All functions are pure: images [B, H, W, C] in [-1, 1], a key, and the result.
Policies are comma-separated names: 'color', 'translation', 'cutout' (the paper's three).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

POLICIES = ('color', 'translation', 'cutout')


def parse_policy(policy: str) -> tuple[str, ...]:
  """'color,translation' -> ('color', 'translation'); ValueError naming unknown parts."""
  names = tuple(p.strip() for p in policy.split(',') if p.strip())
  unknown = [n for n in names if n not in POLICIES]
  if unknown:
    raise ValueError(f'unknown DiffAugment policy {unknown}: use a comma-separated subset of '
                     f'{POLICIES}')
  return names


def _per_example(key, b, shape=(), minval=0.0, maxval=1.0):
  return jax.random.uniform(key, (b,) + shape, minval=minval, maxval=maxval)


def color(x: jax.Array, key: jax.Array) -> jax.Array:
  """Random brightness (+U(-0.5, 0.5) in [0, 1] units), saturation (x U(0, 2)) and contrast
  (x U(0.5, 1.5)) per image, as in the paper (scaled for images in [-1, 1])."""
  kb, ks, kc = jax.random.split(key, 3)
  b = x.shape[0]
  x = x + 2.0 * _per_example(kb, b, (1, 1, 1), -0.5, 0.5)
  mean = jnp.mean(x, axis=-1, keepdims=True)
  x = (x - mean) * _per_example(ks, b, (1, 1, 1), 0.0, 2.0) + mean
  mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
  return (x - mean) * _per_example(kc, b, (1, 1, 1), 0.5, 1.5) + mean


def translate(x: jax.Array, key: jax.Array, ratio: float = 0.125) -> jax.Array:
  """Shifts each image by integers in [-ratio*H, ratio*H] x [-ratio*W, ratio*W], zero-padded
  (zero = mid-grey in [-1, 1])."""
  b, h, w, _ = x.shape
  sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
  ky, kx = jax.random.split(key)
  dy = jax.random.randint(ky, (b,), -sh, sh + 1)
  dx = jax.random.randint(kx, (b,), -sw, sw + 1)
  padded = jnp.pad(x, ((0, 0), (sh, sh), (sw, sw), (0, 0)))

  def shift(image, oy, ox):
    return jax.lax.dynamic_slice(image, (sh - oy, sw - ox, 0), (h, w, x.shape[-1]))
  return jax.vmap(shift)(padded, dy, dx)


def cutout(x: jax.Array, key: jax.Array, ratio: float = 0.5) -> jax.Array:
  """Sets one square of side ratio*size per image, at a random centre, to zero."""
  b, h, w, _ = x.shape
  ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
  ky, kx = jax.random.split(key)
  cy = jax.random.randint(ky, (b, 1, 1), 0, h + (1 - ch % 2))
  cx = jax.random.randint(kx, (b, 1, 1), 0, w + (1 - cw % 2))
  rows = jnp.arange(h)[None, :, None]
  cols = jnp.arange(w)[None, None, :]
  inside = ((rows >= cy - ch // 2) & (rows < cy - ch // 2 + ch) &
            (cols >= cx - cw // 2) & (cols < cx - cw // 2 + cw))
  return jnp.where(inside[..., None], 0.0, x)


_FUNCTIONS = {'color': color, 'translation': translate, 'cutout': cutout}


def diff_augment(x: jax.Array, key: jax.Array, policy: tuple[str, ...] | str) -> jax.Array:
  """Applies the policy's transformations in the paper's order (color, translation, cutout)."""
  names = parse_policy(policy) if isinstance(policy, str) else policy
  for name, k in zip(POLICIES, jax.random.split(key, len(POLICIES))):
    if name in names:
      x = _FUNCTIONS[name](x, k)
  return x
