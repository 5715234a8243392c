import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.models import layers


def brute_force_conv_transpose(x, kernel):
  """PyTorch ConvTranspose2d(k=4, s=2, p=1) by its definition o = 2 i - 1 + k."""
  b, h, w, _ = x.shape
  out = np.zeros((b, 2 * h + 2, 2 * w + 2, kernel.shape[-1]))
  for i in range(h):
    for j in range(w):
      for ki in range(4):
        for kj in range(4):
          out[:, 2 * i + ki, 2 * j + kj] += x[:, i, j] @ kernel[ki, kj]
  return out[:, 1:1 + 2 * h, 1:1 + 2 * w]


@pytest.mark.parametrize('shape', [(2, 5, 7, 3), (1, 4, 4, 6)])
def test_upconv_equals_transposed_conv_definition(shape):
  x = np.asarray(jax.random.normal(jax.random.key(0), shape))
  kernel = np.asarray(jax.random.normal(jax.random.key(1), (4, 4, shape[-1], 5)))
  expected = brute_force_conv_transpose(x, kernel)
  reference = layers.conv_transpose_4x4_s2_reference(x, kernel)
  got = layers.UpConv2x(5, use_bias=False).apply({'params': {'kernel': kernel}}, x)
  chex.assert_shape(got, (shape[0], 2 * shape[1], 2 * shape[2], 5))
  np.testing.assert_allclose(reference, expected, atol=1e-4)
  np.testing.assert_allclose(got, expected, atol=1e-4)


def test_upconv_gradients_equal_transposed_conv_gradients():
  x = jax.random.normal(jax.random.key(0), (2, 4, 6, 3))
  kernel = jax.random.normal(jax.random.key(1), (4, 4, 3, 2))
  target = jax.random.normal(jax.random.key(2), (2, 8, 12, 2))
  module = layers.UpConv2x(2, use_bias=False)

  def loss_fast(k, v):
    return jnp.sum(jnp.square(module.apply({'params': {'kernel': k}}, v) - target))

  def loss_reference(k, v):
    return jnp.sum(jnp.square(layers.conv_transpose_4x4_s2_reference(v, k) - target))

  fast = jax.grad(loss_fast, argnums=(0, 1))(kernel, x)
  reference = jax.grad(loss_reference, argnums=(0, 1))(kernel, x)
  for a, b in zip(fast, reference):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_upconv_bias_and_kernel_layout():
  params = layers.UpConv2x(7).init(jax.random.key(0), jnp.zeros((1, 3, 3, 4)))['params']
  chex.assert_shape(params['kernel'], (4, 4, 4, 7))
  chex.assert_shape(params['bias'], (7,))


def test_depth_to_space_places_phases():
  # Channel (a, b, c) of input pixel (i, j) lands at output pixel (2i + a, 2j + b).
  x = np.arange(1 * 2 * 3 * 8, dtype=np.float32).reshape(1, 2, 3, 8)
  y = np.asarray(layers.depth_to_space(jnp.asarray(x), 2))
  chex.assert_shape(y, (1, 4, 6, 2))
  for i in range(2):
    for j in range(3):
      for a in range(2):
        for b in range(2):
          np.testing.assert_array_equal(y[0, 2 * i + a, 2 * j + b], x[0, i, j, (a * 2 + b) * 2:(a * 2 + b) * 2 + 2])


def test_tile_labels_appends_constant_planes():
  x = jnp.zeros((2, 3, 3, 3))
  labels = jnp.asarray([[1.0, 0.0], [0.0, 1.0]])
  y = layers.tile_labels(x, labels)
  chex.assert_shape(y, (2, 3, 3, 5))
  np.testing.assert_array_equal(y[0, :, :, 3], 1.0)
  np.testing.assert_array_equal(y[1, :, :, 3], 0.0)
  np.testing.assert_array_equal(y[1, :, :, 4], 1.0)


def test_instance_norm_normalises_each_image_and_channel():
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3)) * 5.0 + 3.0
  norm = layers.instance_norm()
  y = norm.apply(norm.init(jax.random.key(1), x), x)
  np.testing.assert_allclose(jnp.mean(y, axis=(1, 2)), 0.0, atol=1e-5)
  np.testing.assert_allclose(jnp.std(y, axis=(1, 2)), 1.0, atol=1e-3)


@pytest.mark.parametrize('kernel,stride,padding', [(4, 2, 1), (3, 1, 1), (2, 1, 0), (7, 1, 3)])
def test_im2col_conv_equals_lax_conv_with_second_order_gradients(kernel, stride, padding):
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3))
  make = lambda impl: layers.Conv2d(5, kernel, stride, padding, impl=impl)
  params = make('xla').init(jax.random.key(1), x)
  outputs = {impl: make(impl).apply(params, x) for impl in layers.CONV_IMPLS}
  np.testing.assert_allclose(outputs['im2col'], outputs['xla'], rtol=1e-5, atol=1e-5)
  ref = jax.lax.conv_general_dilated(x, params['params']['kernel'], (stride, stride),
                                     ((padding, padding),) * 2,
                                     dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  np.testing.assert_allclose(outputs['xla'], ref + params['params']['bias'], rtol=1e-5, atol=1e-5)

  def penalty(p, impl):   # a gradient penalty: needs d/dparams of d/dx
    grad_x = jax.grad(lambda v: jnp.sum(jnp.tanh(make(impl).apply(p, v))))(x)
    return jnp.sum(jnp.square(grad_x))
  grads = {impl: jax.grad(penalty)(params, impl) for impl in layers.CONV_IMPLS}
  chex.assert_trees_all_close(grads['im2col'], grads['xla'], rtol=1e-4, atol=1e-5)


def test_extract_patches_layout():
  x = jnp.arange(1 * 4 * 4 * 2, dtype=jnp.float32).reshape(1, 4, 4, 2)
  patches = layers.extract_patches(x, 2, 2, 0)
  chex.assert_shape(patches, (1, 2, 2, 8))
  np.testing.assert_array_equal(patches[0, 1, 0], jnp.concatenate(
      [x[0, 2, 0], x[0, 2, 1], x[0, 3, 0], x[0, 3, 1]]))
