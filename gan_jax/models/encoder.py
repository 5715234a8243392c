"""An e4e-style image encoder into a StyleGAN generator's w+ space (Tov et al. 2021).

E maps an image to one base offset shared by every layer plus one delta per layer; with the
frozen generator's tracked w average the latent is

    ws[:, i] = w_avg + base + deltas[:, i],   deltas[:, 0] = 0,

so layer 0 carries the shared w and the other layers depart from it only as far as the deltas
(penalised in training by their L2 norms) let them: the edits found in w still apply. The heads
start near zero, so an untrained E outputs about w_avg (the optimisation-based projector's start).

Architecture: a 3x3 stem, then per width one pre-activation residual block (GroupNorm, leaky
ReLU, two 3x3 convs, 2x2 average pooling, a 1x1 conv on the pooled skip), then the final feature
map flattened into a dense hidden layer and two linear heads. No batch statistics: an image's
latent never depends on the other images of its batch.

Shapes: images [B, S, S, 3] in [-1, 1]; base [B, W]; deltas [B, num_ws, W]; ws [B, num_ws, W].
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.errors import ConfigError


def check_image_size(image_size: int, widths: Sequence[int]) -> int:
  """The side of E's last feature map (image_size / 2^len(widths)); ConfigError if it is not a
  whole number of pixels >= 1."""
  side = image_size // 2 ** len(widths)
  if side < 1 or side * 2 ** len(widths) != image_size:
    raise ConfigError(f'the encoder halves the image {len(widths)} times (config.model.widths='
                      f'{tuple(widths)}), which {image_size} px images do not allow: use fewer '
                      'widths or an image size divisible by 2^len(widths)')
  return side


def _group_norm(features: int) -> nn.GroupNorm:
  return nn.GroupNorm(num_groups=math.gcd(8, features))


class DownBlock(nn.Module):
  """Pre-activation residual block that halves the resolution: [B, H, W, C] -> [B, H/2, W/2, F]."""
  features: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    h = nn.Conv(self.features, (3, 3), padding=1)(nn.leaky_relu(_group_norm(x.shape[-1])(x), 0.2))
    h = nn.Conv(self.features, (3, 3), padding=1)(nn.leaky_relu(_group_norm(self.features)(h),
                                                                0.2))
    h = nn.avg_pool(h, (2, 2), strides=(2, 2))
    skip = nn.Conv(self.features, (1, 1), use_bias=False, name='skip')(
        nn.avg_pool(x, (2, 2), strides=(2, 2)))
    return (h + skip) / math.sqrt(2.0)


class Encoder(nn.Module):
  """images [B, S, S, 3] in [-1, 1] -> (base [B, w_dim], deltas [B, num_ws, w_dim]), deltas[:, 0]
  = 0. `compose_ws` turns them into w+ around the generator's w_avg."""
  num_ws: int
  w_dim: int
  widths: Sequence[int] = (32, 64, 128, 256)
  hidden_dim: int = 512

  @nn.compact
  def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
    check_image_size(images.shape[1], self.widths)
    x = nn.Conv(self.widths[0], (3, 3), padding=1, name='stem')(images)
    for width in self.widths:
      x = DownBlock(width)(x)
    x = nn.leaky_relu(_group_norm(x.shape[-1])(x), 0.2).reshape(images.shape[0], -1)
    h = nn.leaky_relu(nn.Dense(self.hidden_dim, name='hidden')(x), 0.2)
    small = nn.initializers.variance_scaling(1e-2, 'fan_in', 'truncated_normal')
    base = nn.Dense(self.w_dim, kernel_init=small, name='base')(h)
    deltas = nn.Dense((self.num_ws - 1) * self.w_dim, kernel_init=small, name='deltas')(h)
    deltas = deltas.reshape(images.shape[0], self.num_ws - 1, self.w_dim)
    deltas = jnp.concatenate([jnp.zeros_like(deltas[:, :1]), deltas], axis=1)
    return base, deltas


def compose_ws(w_avg: jax.Array, base: jax.Array, deltas: jax.Array) -> jax.Array:
  """w_avg [W] + base [B, W] (every layer) + deltas [B, num_ws, W] -> ws [B, num_ws, W]."""
  return w_avg + base[:, None, :] + deltas
