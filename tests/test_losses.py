import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import losses


@pytest.mark.parametrize('slope', [1.0, 3.0, 0.25])
def test_gradient_penalty_of_linear_critic_is_closed_form(slope):
  # D(x) = <w, x>: gradient w everywhere, so GP = (||w|| - 1)^2; 0 for unit slope.
  w = jax.random.normal(jax.random.key(0), (4, 4, 3))
  w = slope * w / jnp.linalg.norm(w)
  critic = lambda x: jnp.sum(x * w, axis=(1, 2, 3))
  x = jax.random.normal(jax.random.key(1), (5, 4, 4, 3))
  np.testing.assert_allclose(losses.gradient_penalty(critic, x), (slope - 1.0) ** 2, atol=1e-5)


def test_gradient_penalty_uses_per_example_norms_of_patch_critic():
  # A patch critic: example b has gradient norm s_b, so GP = mean((s_b - 1)^2).
  scales = jnp.asarray([1.0, 2.0, 0.5])
  critic = lambda x: x[..., :1] * scales[:, None, None, None]   # [B, H, W, 1] patch map
  x = jnp.ones((3, 2, 2, 3))
  per_example_norm = scales * 2.0   # four unit entries per example -> norm 2 * s_b
  expected = jnp.mean(jnp.square(per_example_norm - 1.0))
  np.testing.assert_allclose(losses.gradient_penalty(critic, x), expected, rtol=1e-5)


def test_interpolate_stays_on_segment():
  real, fake = jnp.zeros((64, 2, 2, 1)), jnp.ones((64, 2, 2, 1))
  mix = losses.interpolate(real, fake, jax.random.key(0))
  assert jnp.all((mix >= 0) & (mix <= 1))
  np.testing.assert_array_equal(jnp.std(mix, axis=(1, 2, 3)), 0.0)   # one alpha per example
  assert jnp.std(mix[:, 0, 0, 0]) > 0.1


def test_attribute_bce_by_hand():
  logits = jnp.asarray([[2.0, -1.0], [0.0, 3.0]])
  labels = jnp.asarray([[1.0, 0.0], [1.0, 0.0]])
  sig = lambda z: 1.0 / (1.0 + np.exp(-z))
  by_hand = -(np.log(sig(2.0)) + np.log(1 - sig(-1.0)) + np.log(sig(0.0)) + np.log(1 - sig(3.0))) / 2
  np.testing.assert_allclose(losses.attribute_bce(logits, labels), by_hand, rtol=1e-6)


def test_wgan_and_l1_losses():
  real, fake = jnp.asarray([1.0, 3.0]), jnp.asarray([0.5, -0.5])
  np.testing.assert_allclose(losses.wgan_critic_loss(real, fake), -2.0 + 0.0)
  np.testing.assert_allclose(losses.wgan_generator_loss(fake), 0.0)
  np.testing.assert_allclose(losses.l1_reconstruction(jnp.ones(4), jnp.asarray([1.0, 0, 2, 1])), 0.5)
