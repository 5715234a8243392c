"""Train states: pytrees holding everything a step reads and writes (nothing hidden elsewhere)."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class GANState:
  """Generator and discriminator parameters and optimiser states; `step` = completed steps."""
  step: jax.Array
  g_params: Any
  d_params: Any
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState


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


def all_finite(tree: Any) -> jax.Array:
  """True iff every floating-point leaf of `tree` is finite (scalar bool array)."""
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def count_params(params: Any) -> int:
  return sum(int(x.size) for x in jax.tree.leaves(params))
