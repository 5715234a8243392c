"""The AdaIN decoder (Huang & Belongie 2017): features of the encoder's AdaIN layer back to an
image, the mirror of VGG19 up to relu4_1 (naoto0804/pytorch-AdaIN's `decoder`): reflection-padded
3x3 convolutions with ReLU and nearest-neighbour 2x up-sampling, no normalisation.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

# Per resolution, coarse to fine: output channels of the convs before the next up-sampling. The
# paper's decoder for relu4_1 (512 ch, 1/8 resolution) is ((256,), (256, 256, 256, 128),
# (128, 64), (64,)) followed by a conv to 3 channels.
PAPER_BLOCKS: tuple[tuple[int, ...], ...] = ((256,), (256, 256, 256, 128), (128, 64), (64,))


def reflect_pad(x: jax.Array, pad: int) -> jax.Array:
  return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='reflect')


def upsample_nearest(x: jax.Array, factor: int = 2) -> jax.Array:
  return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


class Decoder(nn.Module):
  """features [b, h, w, c] -> image [b, h * 2^(len(blocks) - 1), ..., 3] (unbounded; ~[-1, 1]).

  blocks: conv widths per resolution, coarse to fine (see PAPER_BLOCKS); width scales them all
  (e.g. 0.25 for CPU-sized runs)."""
  blocks: Sequence[Sequence[int]] = PAPER_BLOCKS
  width: float = 1.0

  @nn.compact
  def __call__(self, features: jax.Array) -> jax.Array:
    x = features
    for index, block in enumerate(self.blocks):
      if index > 0:
        x = upsample_nearest(x)
      for channels in block:
        x = nn.relu(nn.Conv(max(4, int(round(channels * self.width))), (3, 3), padding='VALID')(
            reflect_pad(x, 1)))
    return nn.Conv(3, (3, 3), padding='VALID')(reflect_pad(x, 1))


def blocks_for_downsampling(factor: int) -> tuple[tuple[int, ...], ...]:
  """The paper's decoder blocks for an encoder layer at 1/factor resolution (factor 1, 2, 4, 8)."""
  ups = {1: 0, 2: 1, 4: 2, 8: 3}
  if factor not in ups:
    raise ValueError(f'the AdaIN layer is at 1/{factor} resolution; supported: 1, 2, 4, 8')
  return PAPER_BLOCKS[len(PAPER_BLOCKS) - 1 - ups[factor]:]
