import chex
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.models import vae


def test_kl_of_the_standard_normal_is_zero_and_matches_closed_form():
  zeros = jnp.zeros((3, 5))
  np.testing.assert_allclose(vae.kl_to_standard_normal(zeros, zeros), 0.0, atol=1e-7)
  # 1-D: KL(N(m, s^2) || N(0, 1)) = log(1/s) + (s^2 + m^2 - 1) / 2.
  m, s = 0.7, 1.8
  expected = np.log(1 / s) + (s ** 2 + m ** 2 - 1) / 2
  got = vae.kl_to_standard_normal(jnp.asarray([[m]]), jnp.asarray([[2 * np.log(s)]]))
  np.testing.assert_allclose(got, [expected], rtol=1e-6)
  # Sums over latent dimensions.
  np.testing.assert_allclose(vae.kl_to_standard_normal(jnp.full((1, 4), m),
                                                       jnp.full((1, 4), 2 * np.log(s))),
                             [4 * expected], rtol=1e-6)


def test_kl_matches_a_monte_carlo_estimate():
  mean, log_var = jnp.asarray([[0.3, -1.0]]), jnp.asarray([[-0.5, 0.4]])
  z = vae.reparameterize(jax.random.key(0), jnp.broadcast_to(mean, (200_000, 2)),
                         jnp.broadcast_to(log_var, (200_000, 2)))
  log_q = jnp.sum(-0.5 * (z - mean) ** 2 / jnp.exp(log_var) - 0.5 * log_var, axis=1)
  log_p = jnp.sum(-0.5 * z ** 2, axis=1)
  np.testing.assert_allclose(jnp.mean(log_q - log_p), vae.kl_to_standard_normal(mean, log_var)[0],
                             rtol=0.02)


def test_reparameterisation_has_the_posterior_moments_and_gradients():
  mean, log_var = jnp.full((100_000, 1), 2.0), jnp.full((100_000, 1), np.log(0.25))
  z = vae.reparameterize(jax.random.key(1), mean, log_var)
  np.testing.assert_allclose([float(z.mean()), float(z.std())], [2.0, 0.5], atol=0.01)
  grad_mean = jax.grad(lambda m: jnp.sum(vae.reparameterize(jax.random.key(1), m, log_var)))(mean)
  np.testing.assert_allclose(grad_mean, 1.0)


def test_gaussian_nll_and_negative_elbo_by_hand():
  x = jnp.zeros((2, 2, 2, 3))
  rec = jnp.full((2, 2, 2, 3), 0.1)
  # 12 pixels x 0.01 / (2 * 0.1^2) = 6 nats per image.
  np.testing.assert_allclose(vae.gaussian_nll(x, rec, 0.1), [6.0, 6.0], rtol=1e-5)
  mean, log_var = jnp.ones((2, 3)), jnp.zeros((2, 3))        # KL = 3 * 0.5 = 1.5
  loss, nll, kl = vae.negative_elbo(x, rec, mean, log_var, beta=4.0, sigma=0.1)
  np.testing.assert_allclose([loss, nll, kl], [6.0 + 4 * 1.5, 6.0, 1.5], rtol=1e-5)


def test_shapes_and_ranges():
  model = vae.VAE(image_size=32, latent_dim=16, base_dim=4)
  x = jax.random.uniform(jax.random.key(0), (2, 32, 32, 3), minval=-1, maxval=1)
  params = model.init(jax.random.key(1), x, jax.random.key(2))
  rec, mean, log_var = model.apply(params, x, jax.random.key(3))
  chex.assert_shape(rec, x.shape)
  chex.assert_shape([mean, log_var], (2, 16))
  assert float(jnp.abs(rec).max()) <= 1.0
  decoded = model.apply(params, mean, method=vae.VAE.decode)
  chex.assert_shape(decoded, x.shape)
