"""DCGAN (Radford et al. 2016), as in the PyTorch example (pytorch/examples dcgan/main.py).

G: z [B, Z] -> 4x4 (a dense layer, equal to ConvTranspose(Z, C, 4, 1, 0) on a 1x1 input), then
4x4/stride-2 transposed convolutions doubling the size up to `image_size`, batch norm and ReLU
between, tanh at the end: images [B, S, S, 3] in [-1, 1]. D mirrors it with stride-2 convs and
LeakyReLU(0.2), batch norm after all but the first, and a 4x4 valid conv to one logit per image
(no sigmoid: the losses take logits). Weights N(0, 0.02), batch-norm scales N(1, 0.02), as in the
paper. At 64 px with Z=100, ngf=ndf=64 the parameter counts equal the PyTorch example's.

Options used by the stability settings of every GAN config: D's normalisation 'batch' (the
paper), 'none' (required by WGAN-GP and R1, which need per-example gradients), 'layer', or
'spectral' (spectral norm on every D weight, Miyato et al. 2018).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.errors import ConfigError
from gan_jax.models import layers

D_NORMS = ('batch', 'none', 'layer', 'spectral')
_INIT = nn.initializers.normal(0.02)


def _scale_init(key, shape, dtype=jnp.float32):
  return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def _batch_norm(train: bool, name: str | None = None) -> nn.BatchNorm:
  """BatchNorm2d with PyTorch's momentum 0.1 and epsilon; statistics over the global batch."""
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                      scale_init=_scale_init, name=name)


def num_up_blocks(image_size: int) -> int:
  """Number of 2x stages from 4x4 to image_size; ConfigError unless image_size = 4 * 2^n, n>=1."""
  n = int(round(math.log2(max(image_size, 1) / 4)))
  if image_size < 8 or 4 * 2 ** n != image_size:
    raise ConfigError(f'DCGAN image_size={image_size} must be a power of two >= 8 '
                      f'(e.g. 32 or 64): set config.data.image_size.')
  return n


class Generator(nn.Module):
  """z [B, latent_dim] -> images [B, S, S, 3] in [-1, 1]."""
  image_size: int = 64
  base_dim: int = 64        # ngf: channels of the last hidden layer
  channels: int = 3
  conv_impl: str = 'xla'

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
    n = num_up_blocks(self.image_size)
    dim = self.base_dim * 2 ** (n - 1)
    h = nn.Dense(4 * 4 * dim, use_bias=False, kernel_init=_INIT, name='project')(z)
    h = nn.relu(_batch_norm(train)(h.reshape(z.shape[0], 4, 4, dim)))
    for i in range(n - 1):
      dim //= 2
      h = layers.UpConv2x(dim, use_bias=False, kernel_init=_INIT, impl=self.conv_impl)(h)
      h = nn.relu(_batch_norm(train)(h))
    h = layers.UpConv2x(self.channels, use_bias=False, kernel_init=_INIT, impl=self.conv_impl)(h)
    return jnp.tanh(h)


class Discriminator(nn.Module):
  """images [B, S, S, 3] -> logits [B] (real > 0)."""
  image_size: int = 64
  base_dim: int = 64        # ndf
  norm: str = 'batch'
  conv_impl: str = 'xla'

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    if self.norm not in D_NORMS:
      raise ConfigError(f'DCGAN D norm {self.norm!r}: choose one of {D_NORMS}')
    n = num_up_blocks(self.image_size)
    h, dim = x, self.base_dim
    for i in range(n):
      h = self._conv(dim, 4, 2, 1, train)(h) if self.norm == 'spectral' else layers.Conv2d(
          dim, 4, stride=2, padding=1, use_bias=False, impl=self.conv_impl, kernel_init=_INIT)(h)
      if i > 0 and self.norm == 'batch':
        h = _batch_norm(train)(h)
      elif i > 0 and self.norm == 'layer':
        h = nn.LayerNorm(epsilon=1e-5, reduction_axes=(1, 2, 3), feature_axes=(1, 2, 3))(h)
      h = nn.leaky_relu(h, 0.2)
      dim *= 2
    out = (self._conv(1, 4, 1, 0, train)(h) if self.norm == 'spectral' else
           layers.Conv2d(1, 4, use_bias=False, impl=self.conv_impl, kernel_init=_INIT,
                         name='logit')(h))
    return out.reshape(x.shape[0])

  def _conv(self, features: int, kernel: int, stride: int, padding: int, train: bool):
    conv = nn.Conv(features, (kernel, kernel), strides=(stride, stride),
                   padding=((padding, padding), (padding, padding)), use_bias=False,
                   kernel_init=_INIT)
    sn = nn.SpectralNorm(conv, n_steps=1)
    return lambda h: sn(h, update_stats=train)
