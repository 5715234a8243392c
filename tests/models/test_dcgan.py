import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import errors
from gan_jax import train_state
from gan_jax.models import dcgan


def test_64px_networks_match_the_pytorch_example_parameter_counts():
  # pytorch/examples dcgan, nz=100, ngf=ndf=64: netG 3,576,704 and netD 2,765,568 parameters
  # (batch-norm running statistics are buffers there and collections here, not counted).
  g, d = dcgan.Generator(image_size=64), dcgan.Discriminator(image_size=64)
  g_vars = jax.eval_shape(lambda k, z: g.init(k, z, train=False), jax.random.key(0),
                          jnp.zeros((2, 100)))
  d_vars = jax.eval_shape(lambda k, x: d.init(k, x, train=False), jax.random.key(0),
                          jnp.zeros((2, 64, 64, 3)))
  assert train_state.count_params(g_vars['params']) == 3_576_704
  assert train_state.count_params(d_vars['params']) == 2_765_568
  assert set(g_vars) == set(d_vars) == {'params', 'batch_stats'}


@pytest.mark.parametrize('size,norm', [(8, 'batch'), (16, 'spectral'), (32, 'layer')])
def test_shapes_ranges_and_initialisation(size, norm):
  g = dcgan.Generator(image_size=size, base_dim=4)
  d = dcgan.Discriminator(image_size=size, base_dim=4, norm=norm)
  z = jax.random.normal(jax.random.key(0), (3, 100))
  g_vars = g.init(jax.random.key(1), z, train=False)
  images, _ = g.apply(g_vars, z, train=True, mutable=['batch_stats'])
  chex.assert_shape(images, (3, size, size, 3))
  assert float(jnp.abs(images).max()) <= 1.0
  d_vars = d.init(jax.random.key(2), images, train=False)
  logits = d.apply(d_vars, images, train=False)
  chex.assert_shape(logits, (3,))
  # The paper's initialisation: conv weights N(0, 0.02), batch-norm scales N(1, 0.02).
  kernel = np.asarray(g_vars['params']['project']['kernel'])
  assert abs(kernel.std() - 0.02) < 0.004 and abs(kernel.mean()) < 0.004
  if size == 32:   # base_dim 4 at 32 px: 16 scales in the first batch norm
    scale = np.asarray(g_vars['params']['BatchNorm_0']['scale'])
    assert abs(scale.mean() - 1.0) < 0.02 and 0.005 < scale.std() < 0.04


def test_batch_norm_uses_batch_statistics_in_training_and_running_averages_after():
  g = dcgan.Generator(image_size=8, base_dim=4)
  z = jax.random.normal(jax.random.key(0), (16, 100))
  g_vars = g.init(jax.random.key(1), z, train=False)
  _, updated = g.apply(g_vars, z, train=True, mutable=['batch_stats'])
  before = g_vars['batch_stats']['BatchNorm_0']['mean']
  after = updated['batch_stats']['BatchNorm_0']['mean']
  assert float(jnp.abs(after - before).max()) > 0     # running mean moved (momentum 0.1)
  # Inference does not depend on the other images of the batch; training mode does.
  solo = g.apply(g_vars, z[:1], train=False)
  np.testing.assert_allclose(solo, g.apply(g_vars, z, train=False)[:1], atol=1e-6)


@pytest.mark.parametrize('size', [4, 12, 48])
def test_unsupported_image_size_is_a_config_error(size):
  with pytest.raises(errors.ConfigError, match='power of two'):
    dcgan.num_up_blocks(size)
