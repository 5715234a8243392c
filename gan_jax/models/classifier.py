"""A small CNN that predicts attributes (or classes) of an image; the independent judge of
translations and the feature extractor for classifier-based metrics."""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import flax.linen as nn


class ConvBlock(nn.Module):
  """Two conv3x3-GroupNorm-ReLU layers then 2x2 average pooling: [B,H,W,C] -> [B,H/2,W/2,F]."""
  features: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for _ in range(2):
      x = nn.Conv(self.features, (3, 3), padding=1, use_bias=False)(x)
      x = nn.relu(nn.GroupNorm(num_groups=min(8, self.features))(x))
    return nn.avg_pool(x, (2, 2), strides=(2, 2))


class Classifier(nn.Module):
  """x [B, S, S, 3] in [-1, 1] -> (logits [B, num_outputs], features [B, widths[-1]]).

  features are the global-average-pooled penultimate activations.
  """
  num_outputs: int
  widths: Sequence[int] = (32, 64, 128, 256)

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    for width in self.widths:
      x = ConvBlock(width)(x) if x.shape[1] >= 2 else x
    features = jnp.mean(x, axis=(1, 2))
    logits = nn.Dense(self.num_outputs, name='head')(features)
    return logits, features
