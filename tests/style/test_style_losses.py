"""Style losses against hand computation."""

import chex
import jax.numpy as jnp
import numpy as np

from gan_jax.style import losses


def test_gram_matrix_by_hand():
  f = np.array([[[[1., 2.], [0., 1.]], [[3., 0.], [1., 1.]]]], np.float32)   # [1, 2, 2, 2]
  rows = f.reshape(4, 2)
  expected = rows.T @ rows / 4
  chex.assert_trees_all_close(losses.gram_matrix(jnp.asarray(f))[0], expected, atol=1e-6)


def test_masked_gram_uses_only_the_region():
  f = np.random.default_rng(0).normal(size=(1, 3, 3, 4)).astype(np.float32)
  ones = np.ones((1, 3, 3), np.float32)
  chex.assert_trees_all_close(losses.gram_matrix(f, ones), losses.gram_matrix(f), atol=1e-6)
  one_position = np.zeros((1, 3, 3), np.float32)
  one_position[0, 1, 2] = 1.0
  v = f[0, 1, 2]
  chex.assert_trees_all_close(losses.gram_matrix(f, one_position)[0], np.outer(v, v), atol=1e-5)
  half = 0.5 * one_position     # weights are normalised: scaling the mask changes nothing
  chex.assert_trees_all_close(losses.gram_matrix(f, half)[0], np.outer(v, v), atol=1e-5)


def test_relative_losses_by_hand():
  x = np.array([[1., 2.], [3., 4.]], np.float32)[None]
  t = np.array([[1., 1.], [1., 1.]], np.float32)[None]
  expected = (0 + 1 + 4 + 9) / 4
  np.testing.assert_allclose(losses.relative_squared_error(x, t), [expected], rtol=1e-6)
  grams = {'a': jnp.asarray(x), 'b': jnp.asarray(t)}
  targets = {'a': jnp.asarray(t), 'b': jnp.asarray(t)}
  np.testing.assert_allclose(losses.style_loss(grams, targets, {'a': 0.5, 'b': 2.0}),
                             [0.5 * expected], rtol=1e-6)
  feats = {'a': jnp.asarray(x)[..., None]}
  np.testing.assert_allclose(losses.content_loss(feats, {'a': jnp.asarray(t)[..., None]},
                                                 {'a': 1.0}), [expected], rtol=1e-6)


def test_total_variation_of_a_ramp():
  ramp = np.tile(np.arange(4, dtype=np.float32)[None, :, None], (3, 1, 3))[None]   # d/dx = 1
  # vertical differences 0; horizontal ones all 1: mean 1
  np.testing.assert_allclose(losses.total_variation(jnp.asarray(ramp)), [1.0], rtol=1e-6)
  np.testing.assert_allclose(losses.total_variation(jnp.ones((1, 5, 5, 3))), [0.0])


def test_adain_gives_the_style_statistics():
  rng = np.random.default_rng(1)
  content = rng.normal(2.0, 3.0, (2, 8, 8, 5)).astype(np.float32)
  style = rng.normal(-1.0, 0.5, (2, 6, 6, 5)).astype(np.float32)
  out = losses.adain(jnp.asarray(content), jnp.asarray(style))
  chex.assert_shape(out, content.shape)
  out_mean, out_std = losses.channel_mean_std(out)
  s_mean, s_std = losses.channel_mean_std(jnp.asarray(style))
  chex.assert_trees_all_close(out_mean, s_mean, atol=1e-4)
  chex.assert_trees_all_close(out_std, s_std, atol=1e-3)
  np.testing.assert_allclose(losses.mean_std_loss({'a': out}, {'a': jnp.asarray(style)}),
                             [0.0, 0.0], atol=1e-6)
  shifted = losses.mean_std_loss({'a': jnp.asarray(style) + 1.0}, {'a': jnp.asarray(style)})
  np.testing.assert_allclose(shifted, [1.0, 1.0], rtol=1e-4)   # mean off by 1, std equal
