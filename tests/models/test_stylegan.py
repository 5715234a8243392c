import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import errors
from gan_jax.models import stylegan


def test_modulated_conv_equals_per_sample_weights_written_out():
  layer = stylegan.ModulatedConv(5, 3)
  x = jax.random.normal(jax.random.key(0), (3, 6, 6, 4))
  w = jax.random.normal(jax.random.key(1), (3, 7))
  params = layer.init(jax.random.key(2), x, w)
  got = layer.apply(params, x, w)
  p = params['params']
  styles = w @ (p['affine']['kernel'] / math.sqrt(7)) + p['affine']['bias']      # [B, Cin]
  base = p['kernel'] / math.sqrt(9 * 4)
  for b in range(3):   # StyleGAN2's grouped form: one modulated, demodulated kernel per sample
    k = base * styles[b][None, None, :, None]
    k = k / jnp.sqrt(jnp.sum(k ** 2, axis=(0, 1, 2), keepdims=True) + 1e-8)
    ref = jax.lax.conv_general_dilated(x[b:b + 1], k, (1, 1), 'SAME',
                                       dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    np.testing.assert_allclose(got[b:b + 1], ref, rtol=1e-4, atol=1e-5)
  # The affine layer starts with bias 1: styles ~ 1 + small.
  np.testing.assert_allclose(p['affine']['bias'], 1.0)


def test_demodulation_keeps_unit_variance_for_unit_variance_inputs():
  layer = stylegan.ModulatedConv(64, 3)
  x = jax.random.normal(jax.random.key(0), (4, 32, 32, 64))
  w = 3.0 * jax.random.normal(jax.random.key(1), (4, 16))
  y = layer.apply(layer.init(jax.random.key(2), x, w), x, w)
  np.testing.assert_allclose(jnp.std(y, axis=(1, 2, 3)), 1.0, atol=0.08)


def test_equalised_dense_scales_weights_at_run_time():
  layer = stylegan.EqualDense(3, lr_mul=0.01)
  x = jnp.ones((2, 16))
  params = layer.init(jax.random.key(0), x)
  k, b = params['params']['kernel'], params['params']['bias']
  assert 50 < float(jnp.std(k)) < 150            # stored N(0, 1 / lr_mul^2)
  np.testing.assert_allclose(layer.apply(params, x), x @ (k * 0.01 / 4.0) + b * 0.01, rtol=1e-5)


def test_minibatch_stddev_matches_a_loop():
  x = jax.random.normal(jax.random.key(0), (8, 2, 2, 3))
  y = stylegan.minibatch_stddev(x, group_size=4)
  chex.assert_shape(y, (8, 2, 2, 4))
  xs = np.asarray(x)
  for i in range(8):
    group = xs[i % 2::2]                      # StyleGAN2's [G, B/G] reshape groups i mod B/G
    expected = np.mean(np.sqrt(group.var(axis=0) + 1e-8))
    np.testing.assert_allclose(y[i, :, :, 3], expected, rtol=1e-5)


@pytest.fixture(scope='module')
def small_g():
  g = stylegan.Generator(image_size=16, z_dim=8, w_dim=8, mapping_depth=2, channel_base=64,
                         channel_max=8)
  z = jax.random.normal(jax.random.key(0), (4, 8))
  return g, z, g.init(jax.random.key(1), z, train=False)


def test_generator_shapes_ws_and_determinism(small_g):
  g, z, variables = small_g
  assert stylegan.num_ws(16) == 6 and set(variables) == {'params', 'stats'}
  ws = g.apply(variables, z, method=g.mapping_ws)
  chex.assert_shape(ws, (4, 6, 8))
  images = g.apply(variables, z, train=False)
  chex.assert_shape(images, (4, 16, 16, 3))
  np.testing.assert_array_equal(images, g.apply(variables, z, train=False))
  # The w+ path gives the same images as z.
  np.testing.assert_allclose(g.apply(variables, ws, method=g.synthesize), images, atol=1e-6)


def test_noise_enters_only_through_its_learned_strength(small_g):
  g, z, variables = small_g
  key = jax.random.key(5)
  np.testing.assert_allclose(g.apply(variables, z, key, train=False),
                             g.apply(variables, z, train=False), atol=1e-6)  # strengths start at 0
  params = jax.tree_util.tree_map_with_path(
      lambda path, v: v + 0.5 if 'noise_strength' in jax.tree_util.keystr(path) else v,
      variables['params'])
  noisy = {'params': params, 'stats': variables['stats']}
  assert float(jnp.abs(g.apply(noisy, z, key, train=False) -
                       g.apply(noisy, z, train=False)).max()) > 1e-3


def test_style_mixing_takes_later_layers_from_a_second_latent(small_g):
  g, z, variables = small_g
  ws = g.apply(variables, z, method=g.mapping_ws)
  mixed = g.apply(variables, z, jax.random.key(3), False, 1.0, method=g.ws_from_z)
  same = np.all(np.isclose(mixed, ws), axis=-1)                   # [B, num_ws]
  for row in same:
    cutoff = int(np.argmin(row))                                  # first layer from the other z
    assert 1 <= cutoff < 6 and row[:cutoff].all() and not row[cutoff:].any()


def test_truncation_and_the_tracked_w_average(small_g):
  g, z, variables = small_g
  _, updated = g.apply(variables, z, train=True, mutable=['stats'])
  w = g.apply(variables, z, method=g.mapping_ws)[:, 0]
  np.testing.assert_allclose(updated['stats']['w_avg'], (1 - 0.995) * w.mean(axis=0), rtol=1e-4,
                             atol=1e-7)
  w_avg = jnp.ones(8)
  ws = jax.random.normal(jax.random.key(0), (2, 6, 8))
  np.testing.assert_allclose(stylegan.truncate(ws, w_avg, 0.0), jnp.broadcast_to(w_avg, ws.shape))
  np.testing.assert_array_equal(stylegan.truncate(ws, w_avg, 1.0), ws)
  np.testing.assert_allclose(stylegan.truncate(ws, w_avg, 0.5), 0.5 * ws + 0.5, atol=1e-6)


def test_discriminator_and_size_errors():
  d = stylegan.Discriminator(image_size=16, channel_base=64, channel_max=8)
  x = jax.random.normal(jax.random.key(0), (4, 16, 16, 3))
  logits = d.apply(d.init(jax.random.key(1), x), x)
  chex.assert_shape(logits, (4,))
  with pytest.raises(errors.ConfigError, match='power of two'):
    stylegan.resolutions(48)
