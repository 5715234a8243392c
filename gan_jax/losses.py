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


# Adversarial objectives of unconditional GANs. D outputs raw logits/scores (no sigmoid).
ADVERSARIAL_LOSSES = ('nonsaturating', 'hinge', 'lsgan', 'wgan')


def check_adversarial_loss(kind: str) -> str:
  if kind not in ADVERSARIAL_LOSSES:
    raise ValueError(f'adversarial loss {kind!r}: choose one of {ADVERSARIAL_LOSSES}')
  return kind


def discriminator_loss(kind: str, real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """D's loss on real and fake outputs (any shapes; means over all entries).

  nonsaturating: -log D(x) - log(1 - D(G(z))) with D = sigmoid(logits) (DCGAN, StyleGAN).
  hinge:         E[relu(1 - D(x))] + E[relu(1 + D(G(z)))] (SN-GAN, BigGAN).
  lsgan:         (E[(D(x) - 1)^2] + E[D(G(z))^2]) / 2 (LSGAN as in CycleGAN).
  wgan:          -E[D(x)] + E[D(G(z))] (add a gradient penalty; see gradient_penalty).
  """
  check_adversarial_loss(kind)
  if kind == 'nonsaturating':
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))
  if kind == 'hinge':
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))
  if kind == 'lsgan':
    return 0.5 * (jnp.mean(jnp.square(real_logits - 1.0)) + jnp.mean(jnp.square(fake_logits)))
  return wgan_critic_loss(real_logits, fake_logits)


def generator_loss(kind: str, fake_logits: jax.Array) -> jax.Array:
  """G's loss on D's outputs for fakes: -log D(G(z)) (non-saturating), -E[D(G(z))] (hinge and
  wgan), E[(D(G(z)) - 1)^2] (lsgan)."""
  check_adversarial_loss(kind)
  if kind == 'nonsaturating':
    return jnp.mean(jax.nn.softplus(-fake_logits))
  if kind == 'lsgan':
    return jnp.mean(jnp.square(fake_logits - 1.0))
  return wgan_generator_loss(fake_logits)


def r1_penalty(discriminator: Callable[[jax.Array], jax.Array], real: jax.Array) -> jax.Array:
  """R1 (Mescheder et al. 2018): E_x[||d D(x) / dx||^2] on real images x [B, ...].

  Multiply by gamma / 2 for the usual weighting. As in gradient_penalty, D's outputs may be a map
  whose entries each depend on one example; the gradient is that of their sum.
  """
  grads = jax.grad(lambda v: jnp.sum(discriminator(v)))(real)
  return jnp.mean(jnp.sum(jnp.square(grads.reshape(real.shape[0], -1)), axis=-1))


def delta_regularization(deltas: jax.Array, eps: float = 1e-12) -> jax.Array:
  """e4e's delta regulariser: sum over layers of the L2 norm of each layer's offset from the
  shared w, mean over the batch. deltas [B, L, W] -> scalar (eps keeps the gradient at 0 finite)."""
  return jnp.mean(jnp.sum(jnp.sqrt(jnp.sum(jnp.square(deltas), axis=-1) + eps), axis=-1))


def latent_mse(predicted: jax.Array, target: jax.Array) -> jax.Array:
  """Mean squared error between latents (e.g. predicted and true w+ [B, num_ws, W])."""
  return jnp.mean(jnp.square(predicted - target))
