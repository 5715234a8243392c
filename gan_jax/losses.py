"""Pure loss and penalty functions. Scores and logits are float arrays; all return scalars."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax


def wgan_critic_loss(real_scores: jax.Array, fake_scores: jax.Array) -> jax.Array:
  """WGAN critic loss -E[D(x)] + E[D(G(z))] (minimised by D)."""
  return -jnp.mean(real_scores) + jnp.mean(fake_scores)


def wgan_generator_loss(fake_scores: jax.Array) -> jax.Array:
  """WGAN generator loss -E[D(G(z))]."""
  return -jnp.mean(fake_scores)


def interpolate(real: jax.Array, fake: jax.Array, key: jax.Array) -> jax.Array:
  """Random per-example points on the segments between real and fake images [B, ...]."""
  alpha = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), real.dtype)
  return alpha * real + (1.0 - alpha) * fake


def gradient_penalty(critic: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
  """WGAN-GP penalty E[(||d critic(x) / dx||_2 - 1)^2] with per-example gradient norms.

  critic maps x [B, ...] to scores of any shape whose entries each depend on one example (a
  PatchGAN map is fine); the gradient taken is that of their sum, as in yunjey/stargan.
  """
  grads = jax.grad(lambda v: jnp.sum(critic(v)))(x)
  norms = jnp.sqrt(jnp.sum(jnp.square(grads.reshape(x.shape[0], -1)), axis=-1) + 1e-12)
  return jnp.mean(jnp.square(norms - 1.0))


def attribute_bce(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Multi-label BCE: sum over attributes, mean over the batch. logits, labels [B, A]."""
  return jnp.sum(optax.sigmoid_binary_cross_entropy(logits, labels)) / logits.shape[0]


def l1_reconstruction(x: jax.Array, y: jax.Array) -> jax.Array:
  """Mean absolute error."""
  return jnp.mean(jnp.abs(x - y))
