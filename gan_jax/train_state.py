"""Train states: pytrees holding everything a step reads and writes (nothing hidden elsewhere)."""

from __future__ import annotations

import math
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class GANState:
  """Generator and discriminator parameters and optimiser states; `step` = completed steps;
  `g_ema`: the exponential moving average of g_params (equal to g_params when it is off), the
  weights that samples, translations and evaluations use."""
  step: jax.Array
  g_params: Any
  d_params: Any
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState
  g_ema: Any


@flax.struct.dataclass
class UnconditionalGANState:
  """An unconditional GAN (DCGAN, StyleGAN): GANState's fields plus the networks' non-trained
  variables (`*_stats`: batch-norm statistics, spectral-norm vectors; {} when there are none) and
  `g_ema`, the exponential moving average of g_params that samples and evaluations use."""
  step: jax.Array
  g_params: Any
  d_params: Any
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState
  g_stats: Any
  d_stats: Any
  g_ema: Any


@flax.struct.dataclass
class SupervisedState:
  """One network (e.g. the attribute classifier) and its optimiser state."""
  step: jax.Array
  params: Any
  opt_state: optax.OptState


@flax.struct.dataclass
class EncoderState:
  """An encoder into a frozen network's latent space: E's params and optimiser state, and the
  frozen networks it trains against (`frozen`: {'generator': G's variables, 'judge': a feature
  classifier's params when a feature loss is used}), kept so a checkpoint pins them."""
  step: jax.Array
  params: Any
  opt_state: optax.OptState
  frozen: Any


@flax.struct.dataclass
class ImagePool:
  """A history of generated images for D (Shrivastava et al. 2017; CycleGAN's ImagePool).

  images [pool_size, H, W, 3] float32 in [-1, 1], or None for a disabled pool (pool_size 0:
  Orbax cannot save zero-size arrays); count: how many slots are filled (scalar int32, at most
  pool_size). See trainers.cyclegan.query_pool.
  """
  images: jax.Array | None
  count: jax.Array


def empty_pool(pool_size: int, image_size: int) -> ImagePool:
  images = (jnp.zeros((pool_size, image_size, image_size, 3), jnp.float32) if pool_size > 0
            else None)
  return ImagePool(images=images, count=jnp.zeros((), jnp.int32))


@flax.struct.dataclass
class CycleGANState:
  """CycleGAN: both generators in g_params {'g_ab', 'g_ba'} under one optimiser state, both
  discriminators in d_params {'d_a', 'd_b'} (D_A judges domain A images) under another, as the
  official code's two Adams; pool_a / pool_b hold past fakes of domain A / B shown to D_A / D_B."""
  step: jax.Array
  g_params: Any
  d_params: Any
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState
  pool_a: ImagePool
  pool_b: ImagePool


def all_finite(tree: Any) -> jax.Array:
  """True iff every floating-point leaf of `tree` is finite (scalar bool array)."""
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def count_params(params: Any) -> int:
  return sum(int(x.size) for x in jax.tree.leaves(params))


@flax.struct.dataclass
class AdaINState:
  """The AdaIN decoder being trained, its optimiser, and the frozen encoder's parameters (kept in
  the checkpoint so a decoder is always used with the encoder it was trained against)."""
  step: jax.Array
  decoder_params: Any
  opt_state: optax.OptState
  encoder_params: Any


def ema_decay_at(step, decay: float, rampup: float):
  """The EMA decay of the update after `step` steps with StyleGAN2-ADA's ramp-up: the average's
  half-life (in steps) is min(that of `decay`, rampup * step), so early in training it follows G
  instead of keeping the random initialisation (0 at step 0: the EMA starts as G). rampup 0 (or
  decay 0) returns `decay` itself. step: a scalar, traced or not."""
  if rampup <= 0 or decay == 0.0:
    return decay
  half_life = math.log(0.5) / math.log(decay)
  ramped = jnp.minimum(half_life, rampup * jnp.asarray(step, jnp.float32))
  return jnp.where(ramped > 0, jnp.power(0.5, 1.0 / jnp.maximum(ramped, 1e-8)), 0.0)


def update_ema(ema, params, decay, trainable=None):
  """decay * ema + (1 - decay) * params per leaf; leaves False in `trainable` (frozen by
  fine-tuning) are kept as they are, bit for bit. decay (a float or a traced scalar) 0.0 as a
  Python float returns params itself."""
  if isinstance(decay, (int, float)) and decay == 0.0 and trainable is None:
    return params
  if trainable is None:
    return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)
  return jax.tree.map(lambda e, p, t: decay * e + (1.0 - decay) * p if t else e, ema, params,
                      trainable)
