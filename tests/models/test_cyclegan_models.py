"""CycleGAN networks: the exact sub-pixel transposed conv, shapes, the official networks'
parameter counts and the PatchGAN's 70x70 receptive field."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import errors
from gan_jax import train_state
from gan_jax.models import cyclegan as models
from gan_jax.models import layers


@pytest.mark.parametrize('impl', layers.CONV_IMPLS)
def test_upconv_equals_the_transposed_conv_reference(impl):
  """UpConv3x3 is ConvTranspose2d(k=3, s=2, p=1, output_padding=1), values and gradients."""
  x = jax.random.normal(jax.random.key(0), (2, 5, 7, 3))
  kernel = jax.random.normal(jax.random.key(1), (3, 3, 3, 4))
  bias = jax.random.normal(jax.random.key(2), (4,))
  up = models.UpConv3x3(4, impl=impl)
  apply = jax.jit(lambda x, k: up.apply({'params': {'kernel': k, 'bias': bias}}, x))
  reference = lambda x, k: models.conv_transpose_3x3_s2_reference(x, k) + bias
  y = apply(x, kernel)
  chex.assert_shape(y, (2, 10, 14, 4))
  np.testing.assert_allclose(y, reference(x, kernel), rtol=1e-5, atol=1e-5)
  loss = lambda f: lambda x, k: jnp.sum(jnp.sin(f(x, k)))
  got = jax.grad(loss(apply), argnums=(0, 1))(x, kernel)
  want = jax.grad(loss(reference), argnums=(0, 1))(x, kernel)
  chex.assert_trees_all_close(got, want, rtol=1e-4, atol=1e-4)


def test_transposed_conv_reference_is_pytorchs_definition():
  """out[2i - 1 + k] += x[i] * w[k] (1-D slice of the definition), cropped to 2H."""
  x = np.arange(1.0, 4.0)                    # H = 3
  w = np.array([1.0, 10.0, 100.0])
  expected = np.zeros(2 * 3 + 2)
  for i in range(3):
    for k in range(3):
      expected[2 * i - 1 + k + 1] += x[i] * w[k]   # +1: index -1 is cropped (padding 1)
  expected = expected[1:1 + 6]
  kernel = np.zeros((3, 3, 1, 1))
  kernel[1, :, 0, 0] = w                     # one kernel row: the middle one (k_row = 1)
  image = np.zeros((1, 1, 3, 1))
  image[0, 0, :, 0] = x
  out = np.asarray(models.conv_transpose_3x3_s2_reference(jnp.asarray(image), jnp.asarray(kernel)))
  np.testing.assert_allclose(out[0, 0, :, 0], expected)   # even output rows use k_row = 1


def test_reflect_pad_is_pytorchs_reflection_padding():
  x = jnp.arange(4.0).reshape(1, 1, 4, 1)
  row = models.reflect_pad(x, 2)[0, 2, :, 0]
  np.testing.assert_array_equal(row, [2, 1, 0, 1, 2, 3, 2, 1])


def test_official_networks_have_the_official_parameter_counts():
  image = jnp.zeros((1, 256, 256, 3))
  g_params = jax.eval_shape(models.ResnetGenerator().init, jax.random.key(0), image)
  d = models.NLayerDiscriminator()
  d_params = jax.eval_shape(d.init, jax.random.key(0), image)
  # The official resnet_9blocks has 11,378,179 parameters and the 70x70 PatchGAN 2,764,737; the
  # affine instance norms add a scale and a bias per channel: 10,496 and 1,792.
  assert train_state.count_params(g_params) == 11_378_179 + 10_496
  assert train_state.count_params(d_params) == 2_764_737 + 1_792
  chex.assert_shape(jax.eval_shape(d.apply, d_params, image), (1, 30, 30, 1))
  up = g_params['params']['UpConv3x3_0']['kernel']
  assert up.shape == (3, 3, 256, 128)   # PyTorch [256, 128, 3, 3] transposed (2, 3, 0, 1)


def test_shapes_range_and_init():
  x = jax.random.uniform(jax.random.key(0), (2, 32, 24, 3), minval=-1, maxval=1)
  generator = models.ResnetGenerator(ngf=4, n_blocks=2)
  g_params = jax.jit(generator.init)(jax.random.key(1), x)
  y = jax.jit(generator.apply)(g_params, x)
  chex.assert_shape(y, x.shape)
  chex.assert_tree_all_finite(y)
  assert float(jnp.abs(y).max()) <= 1.0
  discriminator = models.NLayerDiscriminator(ndf=4, n_layers=3)
  d_params = jax.jit(discriminator.init)(jax.random.key(2), x)
  chex.assert_shape(jax.jit(discriminator.apply)(d_params, x), (2, 2, 1, 1))
  kernels = [v for path, v in jax.tree_util.tree_leaves_with_path(g_params)
             if 'kernel' in jax.tree_util.keystr(path)]
  assert abs(float(np.std(np.concatenate([np.ravel(k) for k in kernels]))) - 0.02) < 0.002


def test_patchgan_receptive_field_is_70():
  assert models.receptive_field(3) == 70
  assert models.receptive_field(2) == 34
  assert models.patch_output_size(256, 3) == 30
  # One score's gradient w.r.t. the input is non-zero on exactly a 70x70 square. Without norms:
  # instance norm makes every score depend on the whole image through its statistics.
  discriminator = models.NLayerDiscriminator(ndf=2, n_layers=3, norm='none')
  x = jax.random.normal(jax.random.key(0), (1, 128, 128, 3))
  params = jax.jit(discriminator.init)(jax.random.key(1), x)
  chex.assert_shape(jax.eval_shape(discriminator.apply, params, x), (1, 14, 14, 1))
  grad = jax.jit(jax.grad(lambda v: discriminator.apply(params, v)[0, 7, 7, 0]))(x)
  rows, cols = np.nonzero(np.abs(np.asarray(grad[0])).sum(-1))
  assert rows.max() - rows.min() + 1 == 70 and cols.max() - cols.min() + 1 == 70
  assert len(rows) == 70 * 70


def test_too_small_images_are_a_config_error():
  models.check_discriminator_fits(24, 3)
  with pytest.raises(errors.ConfigError, match='at least 24 px'):
    models.check_discriminator_fits(16, 3)

