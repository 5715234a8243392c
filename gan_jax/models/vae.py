"""Convolutional beta-VAE (Kingma & Welling 2014; Higgins et al. 2017).

Encoder: stride-2 4x4 convs (batch-free: LeakyReLU only, so each image is encoded alone) from
S px down to 4x4, then dense layers to the posterior mean and log-variance [B, Z]. Decoder: a
dense layer to 4x4, exact 4x4/stride-2 transposed convs (`layers.UpConv2x`) up to S px, tanh:
images in [-1, 1]. Pure functions for the pieces the losses and editing need.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import flax.linen as nn

from gan_jax.models import dcgan
from gan_jax.models import layers


class Encoder(nn.Module):
  """x [B, S, S, 3] -> (mean [B, Z], log_var [B, Z])."""
  latent_dim: int = 128
  base_dim: int = 32
  conv_impl: str = 'xla'

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    n = dcgan.num_up_blocks(x.shape[1])
    h, dim = x, self.base_dim
    for _ in range(n):
      h = nn.leaky_relu(layers.Conv2d(dim, 4, stride=2, padding=1, impl=self.conv_impl)(h), 0.2)
      dim *= 2
    h = h.reshape(x.shape[0], -1)
    mean = nn.Dense(self.latent_dim, name='mean')(h)
    log_var = nn.Dense(self.latent_dim, name='log_var')(h)
    return mean, log_var


class Decoder(nn.Module):
  """z [B, Z] -> images [B, S, S, 3] in [-1, 1]."""
  image_size: int = 64
  base_dim: int = 32
  conv_impl: str = 'xla'

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    n = dcgan.num_up_blocks(self.image_size)
    dim = self.base_dim * 2 ** (n - 1)
    h = nn.Dense(4 * 4 * dim)(z).reshape(z.shape[0], 4, 4, dim)
    for _ in range(n - 1):
      dim //= 2
      h = nn.leaky_relu(layers.UpConv2x(dim, impl=self.conv_impl)(nn.leaky_relu(h, 0.2)), 0.2)
    return jnp.tanh(layers.UpConv2x(3, impl=self.conv_impl)(h))


class VAE(nn.Module):
  """x -> (reconstruction, mean, log_var) with z = mean + exp(log_var / 2) * eps."""
  image_size: int = 64
  latent_dim: int = 128
  base_dim: int = 32
  conv_impl: str = 'xla'

  def setup(self):
    self.encoder = Encoder(self.latent_dim, self.base_dim, self.conv_impl)
    self.decoder = Decoder(self.image_size, self.base_dim, self.conv_impl)

  def __call__(self, x: jax.Array, key: jax.Array):
    mean, log_var = self.encoder(x)
    z = reparameterize(key, mean, log_var)
    return self.decoder(z), mean, log_var

  def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    return self.encoder(x)

  def decode(self, z: jax.Array) -> jax.Array:
    return self.decoder(z)


def reparameterize(key: jax.Array, mean: jax.Array, log_var: jax.Array) -> jax.Array:
  """z = mean + sigma * eps, eps ~ N(0, I): differentiable in mean and log_var."""
  return mean + jnp.exp(0.5 * log_var) * jax.random.normal(key, mean.shape, mean.dtype)


def kl_to_standard_normal(mean: jax.Array, log_var: jax.Array) -> jax.Array:
  """KL(N(mean, diag(exp(log_var))) || N(0, I)) per example: [B, Z] -> [B] (nats)."""
  return 0.5 * jnp.sum(jnp.square(mean) + jnp.exp(log_var) - 1.0 - log_var, axis=-1)


def gaussian_nll(x: jax.Array, reconstruction: jax.Array, sigma: float) -> jax.Array:
  """-log N(x; reconstruction, sigma^2 I) per example, up to the constant: [B] (nats)."""
  squared = jnp.sum(jnp.square(x - reconstruction).reshape(x.shape[0], -1), axis=-1)
  return squared / (2.0 * sigma ** 2)


def negative_elbo(x, reconstruction, mean, log_var, beta: float, sigma: float):
  """(loss, reconstruction term, KL): batch means of -log p(x|z) + beta * KL (nats/image)."""
  nll = jnp.mean(gaussian_nll(x, reconstruction, sigma))
  kl = jnp.mean(kl_to_standard_normal(mean, log_var))
  return nll + beta * kl, nll, kl
