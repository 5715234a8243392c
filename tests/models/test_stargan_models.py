import chex
import jax
import jax.numpy as jnp
import pytest

from gan_jax import errors
from gan_jax import train_state
from gan_jax.models import stargan


def pytorch_generator_params(conv_dim, repeat, c_dim):
  """yunjey/stargan Generator parameter count (bias-free convs, affine instance norms)."""
  n = (3 + c_dim) * conv_dim * 49 + 2 * conv_dim
  n += conv_dim * 2 * conv_dim * 16 + 4 * conv_dim
  n += 2 * conv_dim * 4 * conv_dim * 16 + 8 * conv_dim
  n += repeat * (2 * (4 * conv_dim) ** 2 * 9 + 4 * 4 * conv_dim)
  n += 4 * conv_dim * 2 * conv_dim * 16 + 4 * conv_dim
  n += 2 * conv_dim * conv_dim * 16 + 2 * conv_dim
  return n + conv_dim * 3 * 49


def pytorch_discriminator_params(image_size, conv_dim, repeat, c_dim):
  n, dim, cin = 0, conv_dim, 3
  for _ in range(repeat):
    n += cin * dim * 16 + dim
    cin, dim = dim, dim * 2
  k = image_size // 2 ** repeat
  return n + cin * 9 + cin * c_dim * k * k


def test_paper_sized_networks_match_reference_parameter_counts():
  g, d = stargan.Generator(), stargan.Discriminator(image_size=128, num_attrs=5)
  x, c = jnp.zeros((1, 128, 128, 3)), jnp.zeros((1, 5))
  g_shapes = jax.eval_shape(g.init, jax.random.key(0), x, c)
  d_shapes = jax.eval_shape(d.init, jax.random.key(0), x)
  assert train_state.count_params(g_shapes) == pytorch_generator_params(64, 6, 5) == 8_430_528
  assert train_state.count_params(d_shapes) == pytorch_discriminator_params(128, 64, 6, 5) == 44_762_048


@pytest.mark.parametrize('size,d_repeat', [(16, 2), (32, 5), (64, 5)])
def test_shapes_and_output_ranges(size, d_repeat):
  g = stargan.Generator(conv_dim=4, repeat_num=1)
  d = stargan.Discriminator(image_size=size, num_attrs=3, conv_dim=4, repeat_num=d_repeat)
  x = jax.random.uniform(jax.random.key(0), (2, size, size, 3), minval=-1, maxval=1)
  c = jnp.asarray([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
  fake = jax.jit(g.apply)(jax.jit(g.init)(jax.random.key(1), x, c), x, c)
  chex.assert_shape(fake, x.shape)
  assert jnp.all(jnp.abs(fake) <= 1.0)
  out_src, out_cls = jax.jit(d.apply)(jax.jit(d.init)(jax.random.key(2), x), x)
  k = size // 2 ** d_repeat
  chex.assert_shape(out_src, (2, k, k, 1))
  chex.assert_shape(out_cls, (2, 3))


def test_generator_depends_on_target_labels():
  g = stargan.Generator(conv_dim=4, repeat_num=1)
  x = jax.random.uniform(jax.random.key(0), (1, 16, 16, 3), minval=-1, maxval=1)
  params = jax.jit(g.init)(jax.random.key(1), x, jnp.zeros((1, 2)))
  a = jax.jit(g.apply)(params, x, jnp.asarray([[1.0, 0.0]]))
  b = jax.jit(g.apply)(params, x, jnp.asarray([[0.0, 1.0]]))
  assert jnp.max(jnp.abs(a - b)) > 1e-4


def test_too_small_image_for_discriminator_is_a_config_error():
  with pytest.raises(errors.ConfigError, match='d_repeat'):
    stargan.final_feature_size(32, 6)


def test_residual_generator_starts_as_the_identity_and_learns_label_dependent_changes():
  g = stargan.Generator(conv_dim=4, repeat_num=1, residual=True)
  x = jax.random.uniform(jax.random.key(0), (2, 16, 16, 3), minval=-1, maxval=1)
  x = x.at[0, 0, 0].set(jnp.asarray([1.0, -1.0, 0.0]))    # saturated pixels stay finite
  c0, c1 = jnp.asarray([[1.0, 0.0]] * 2), jnp.asarray([[0.0, 1.0]] * 2)
  params = g.init(jax.random.key(1), x, c0)
  same = g.apply(params, x, c0)
  clipped = jnp.clip(x, -stargan.RESIDUAL_CLIP, stargan.RESIDUAL_CLIP)
  chex.assert_trees_all_close(same, clipped, atol=1e-6)
  assert train_state.count_params(params) == train_state.count_params(
      stargan.Generator(conv_dim=4, repeat_num=1).init(jax.random.key(1), x, c0))
  # Once the zero-initialised last conv moves, the change depends on the target labels.
  last = max(k for k in params['params'] if k.startswith('Conv2d'))
  params['params'][last]['kernel'] = 0.01 * jax.random.normal(
      jax.random.key(2), params['params'][last]['kernel'].shape)
  a, b = g.apply(params, x, c0), g.apply(params, x, c1)
  assert jnp.all(jnp.isfinite(a)) and float(jnp.abs(a - b).max()) > 1e-4
