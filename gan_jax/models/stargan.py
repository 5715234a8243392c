"""StarGAN generator and discriminator (Choi et al. 2018; architecture of yunjey/stargan).

Images are NHWC float32 in [-1, 1]; attribute labels are float [B, num_attrs] in {0, 1}.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import flax.linen as nn

from gan_jax.errors import ConfigError
from gan_jax.models import layers


class ResidualBlock(nn.Module):
  """conv3-IN-ReLU-conv3-IN plus identity: [B, H, W, C] -> [B, H, W, C]."""
  conv_impl: str = 'xla'

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    c = x.shape[-1]
    y = layers.Conv2d(c, 3, padding=1, use_bias=False, impl=self.conv_impl)(x)
    y = nn.relu(layers.instance_norm()(y))
    y = layers.Conv2d(c, 3, padding=1, use_bias=False, impl=self.conv_impl)(y)
    return x + layers.instance_norm()(y)


class Generator(nn.Module):
  """G(x, c_trg): [B, S, S, 3] x [B, A] -> [B, S, S, 3] in [-1, 1]; S divisible by 4.

  7x7 conv, two stride-2 down-sampling convs, `repeat_num` residual blocks, two exact
  transposed-conv up-samplings (`layers.UpConv2x`), 7x7 conv and tanh; instance norm throughout.

  residual=False is the paper's G. residual=True (not in the paper) predicts a change of the
  input instead, G(x, c) = tanh(artanh(x) + r(x, c)), with the last conv zero-initialised so
  that G starts as the identity (as in residual-image attribute editing, Shen & Liu 2017): on a
  small budget it keeps the untouched content and spends its updates on the attribute change.
  """
  conv_dim: int = 64
  repeat_num: int = 6
  conv_impl: str = 'xla'    # lowering (layers.conv2d) of the 4x4 and 3x3 convs; 7x7 use lax.conv
  residual: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, c: jax.Array) -> jax.Array:
    h = layers.tile_labels(x, c)
    h = layers.Conv2d(self.conv_dim, 7, padding=3, use_bias=False)(h)
    h = nn.relu(layers.instance_norm()(h))
    dim = self.conv_dim
    for _ in range(2):
      dim *= 2
      h = layers.Conv2d(dim, 4, stride=2, padding=1, use_bias=False, impl=self.conv_impl)(h)
      h = nn.relu(layers.instance_norm()(h))
    for _ in range(self.repeat_num):
      h = ResidualBlock(conv_impl=self.conv_impl)(h)
    for _ in range(2):
      dim //= 2
      h = layers.UpConv2x(dim, use_bias=False, impl=self.conv_impl)(h)
      h = nn.relu(layers.instance_norm()(h))
    if not self.residual:
      return jnp.tanh(layers.Conv2d(3, 7, padding=3, use_bias=False)(h))
    r = layers.Conv2d(3, 7, padding=3, use_bias=False, kernel_init=nn.initializers.zeros)(h)
    return jnp.tanh(jnp.arctanh(jnp.clip(x, -RESIDUAL_CLIP, RESIDUAL_CLIP)) + r)


# |x| is clipped below 1 before artanh so that saturated pixels (exactly +-1) stay finite; the
# identity at initialisation is then exact to 1 - RESIDUAL_CLIP.
RESIDUAL_CLIP = 0.999


class Discriminator(nn.Module):
  """PatchGAN critic with an attribute head.

  x [B, S, S, 3] -> (out_src [B, S/2^R, S/2^R, 1] real/fake scores (WGAN critic values),
                     out_cls [B, num_attrs] attribute logits), R = repeat_num.
  """
  image_size: int = 128
  num_attrs: int = 5
  conv_dim: int = 64
  repeat_num: int = 6
  conv_impl: str = 'xla'    # lowering of every conv (layers.conv2d)

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    h = x
    dim = self.conv_dim
    for i in range(self.repeat_num):
      h = layers.Conv2d(dim, 4, stride=2, padding=1, impl=self.conv_impl)(h)
      h = nn.leaky_relu(h, 0.01)
      if i < self.repeat_num - 1:
        dim *= 2
    out_src = layers.Conv2d(1, 3, padding=1, use_bias=False, impl=self.conv_impl,
                            name='conv_src')(h)
    k = final_feature_size(self.image_size, self.repeat_num)
    out_cls = layers.Conv2d(self.num_attrs, k, use_bias=False, impl=self.conv_impl,
                            name='conv_cls')(h)
    return out_src, out_cls.reshape(x.shape[0], self.num_attrs)


def final_feature_size(image_size: int, repeat_num: int) -> int:
  """Spatial size of D's last feature map; raises ValueError if the image is too small for D."""
  size = image_size // 2 ** repeat_num
  if size < 1 or image_size % 2 ** repeat_num:
    raise ConfigError(
        f'image_size {image_size} must be a multiple of 2**d_repeat = {2 ** repeat_num}; '
        f'lower config.model.d_repeat or change config.data.image_size.')
  return size
