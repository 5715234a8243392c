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


def test_adversarial_losses_by_hand():
  real, fake = jnp.asarray([2.0, -0.5]), jnp.asarray([0.3, -3.0])
  sig = lambda z: 1.0 / (1.0 + np.exp(-np.asarray(z, np.float64)))
  # DCGAN's D: -log D(x) - log(1 - D(G(z))); non-saturating G: -log D(G(z)).
  d_ns = -np.mean(np.log(sig(real))) - np.mean(np.log(1 - sig(fake)))
  np.testing.assert_allclose(losses.discriminator_loss('nonsaturating', real, fake), d_ns, rtol=1e-6)
  np.testing.assert_allclose(losses.generator_loss('nonsaturating', fake),
                             -np.mean(np.log(sig(fake))), rtol=1e-6)
  # hinge: relu(1 - 2) = 0, relu(1.5) = 1.5 -> 0.75; relu(1.3) = 1.3, relu(-2) = 0 -> 0.65.
  np.testing.assert_allclose(losses.discriminator_loss('hinge', real, fake), 0.75 + 0.65, rtol=1e-6)
  np.testing.assert_allclose(losses.generator_loss('hinge', fake), 1.35, rtol=1e-6)
  # lsgan: ((1 + 2.25) / 2 + (0.09 + 9) / 2) / 2; G: ((0.7)^2 + 16) / 2.
  np.testing.assert_allclose(losses.discriminator_loss('lsgan', real, fake),
                             (1.625 + 4.545) / 2, rtol=1e-6)
  np.testing.assert_allclose(losses.generator_loss('lsgan', fake), (0.49 + 16.0) / 2, rtol=1e-6)
  np.testing.assert_allclose(losses.discriminator_loss('wgan', real, fake), -0.75 - 1.35, rtol=1e-6)
  with pytest.raises(ValueError, match='choose one of'):
    losses.discriminator_loss('vanilla', real, fake)


def test_nonsaturating_loss_is_stable_for_large_logits():
  big = jnp.asarray([200.0, -200.0])
  assert jnp.isfinite(losses.discriminator_loss('nonsaturating', big, -big))
  np.testing.assert_allclose(losses.generator_loss('nonsaturating', jnp.asarray([-200.0])), 200.0)


def test_r1_penalty_of_quadratic_discriminator_is_closed_form():
  # D(x) = sum(a * x^2) per example: grad = 2 a x, so R1 = mean_b sum (2 a x_b)^2.
  a = 0.7
  x = jax.random.normal(jax.random.key(0), (4, 3, 3, 2))
  d = lambda v: a * jnp.sum(jnp.square(v), axis=(1, 2, 3))
  expected = np.mean(np.sum(np.square(2 * a * np.asarray(x)).reshape(4, -1), axis=1))
  np.testing.assert_allclose(losses.r1_penalty(d, x), expected, rtol=1e-5)
