import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import augment


def test_translation_shifts_by_whole_pixels_with_zero_fill():
  x = jax.random.uniform(jax.random.key(0), (16, 8, 8, 3), minval=-1, maxval=1) + 2.0  # no 0s
  y = augment.translate(x, jax.random.key(1), ratio=0.25)
  xs, ys = np.asarray(x), np.asarray(y)
  shifts = set()
  for a, b in zip(xs, ys):
    found = None
    for dy in range(-2, 3):
      for dx in range(-2, 3):
        expected = np.zeros_like(a)
        src = a[max(0, -dy):8 - max(0, dy), max(0, -dx):8 - max(0, dx)]
        expected[max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
        if np.array_equal(expected, b):
          found = (dy, dx)
    assert found is not None
    shifts.add(found)
  assert len(shifts) > 3        # shifts differ between images


def test_cutout_zeroes_one_square_of_the_stated_size_inside_the_image():
  x = jnp.ones((32, 8, 8, 1))
  y = np.asarray(augment.cutout(x, jax.random.key(0), ratio=0.5))
  zeros = (y[..., 0] == 0)
  assert np.all(zeros.sum(axis=(1, 2)) <= 16) and np.all(zeros.sum(axis=(1, 2)) >= 4)
  assert np.any(zeros.sum(axis=(1, 2)) == 16)     # a whole 4x4 square when not clipped
  for z in zeros:                                 # the zeros form one axis-aligned rectangle
    rows, cols = np.nonzero(z)
    assert z[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()


def test_color_keeps_shapes_and_is_per_image():
  x = jnp.tile(jnp.linspace(-0.5, 0.5, 8)[None, :, None, None], (4, 1, 8, 3))
  y = augment.color(x, jax.random.key(0))
  assert y.shape == x.shape
  assert len({round(float(v), 5) for v in jnp.mean(y, axis=(1, 2, 3))}) == 4


def test_diff_augment_is_differentiable_and_deterministic_per_key():
  x = jax.random.normal(jax.random.key(0), (4, 8, 8, 3))
  f = lambda v: jnp.sum(augment.diff_augment(v, jax.random.key(3), 'color,translation,cutout'))
  g = jax.grad(f)(x)
  assert jnp.all(jnp.isfinite(g)) and float(jnp.abs(g).sum()) > 0
  a = augment.diff_augment(x, jax.random.key(3), 'translation')
  np.testing.assert_array_equal(a, augment.diff_augment(x, jax.random.key(3), ('translation',)))
  np.testing.assert_array_equal(augment.diff_augment(x, jax.random.key(3), ''), x)
  with pytest.raises(ValueError, match='unknown DiffAugment policy'):
    augment.parse_policy('translation,flip')
