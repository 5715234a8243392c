"""CycleGAN networks (Zhu et al. 2017), as junyanz/pytorch-CycleGAN-and-pix2pix builds them.

  ResnetGenerator      `resnet_9blocks`: c7s1-ngf, two stride-2 downs, n_blocks residual blocks
                       (reflection padding), two exact transposed-conv ups, c7s1-3 and tanh.
  NLayerDiscriminator  the 70x70 PatchGAN (n_layers=3): one score per overlapping 70x70 patch.

Images are NHWC float32 in [-1, 1]. Every conv kernel starts from N(0, 0.02) and every bias from 0,
as the official `init_weights('normal', 0.02)`. Normalisation is `layers.instance_norm()` (affine;
the official code's InstanceNorm2d has affine=False, which this equals at initialisation: scale 1,
bias 0). Parameters keep PyTorch's layouts transposed to HWIO (transposed convs: [3, 3, Cin, Cout]
from [Cin, Cout, 3, 3] by (2, 3, 0, 1)), so the official weights can be converted one to one.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import flax.linen as nn

from gan_jax.errors import ConfigError
from gan_jax.models import layers

INIT_STD = 0.02
normal_init = nn.initializers.normal(INIT_STD)

# ConvTranspose2d(k=3, s=2, p=1, output_padding=1) computes output o from input i with kernel tap
# k where o = 2i - 1 + k. Even outputs o = 2m use k = 1 at i = m; odd outputs o = 2m + 1 use
# k = 2 at i = m and k = 0 at i = m + 1 (zero beyond the last row: that is the output padding).
# For output phase p (row parity) and 2x2 tap t (input offset t), the kernel row used, or -1.
_PHASE_TAP_TO_KERNEL_3 = ((1, -1), (2, 0))


def transposed_kernel3_to_subpixel(kernel: jax.Array) -> jax.Array:
  """[3, 3, Cin, Cout] transposed-conv kernel -> [2, 2, Cin, 4*Cout] sub-pixel conv kernel, its
  output channels ordered (row phase, col phase, Cout) as `layers.depth_to_space` expects."""
  zeros = jnp.zeros(kernel.shape[2:], kernel.dtype)
  phases = []
  for a in range(2):
    for b in range(2):
      rows = []
      for tr in range(2):
        kr = _PHASE_TAP_TO_KERNEL_3[a][tr]
        row = []
        for tc in range(2):
          kc = _PHASE_TAP_TO_KERNEL_3[b][tc]
          row.append(zeros if kr < 0 or kc < 0 else kernel[kr, kc])
        rows.append(jnp.stack(row))
      phases.append(jnp.stack(rows))            # [2, 2, Cin, Cout]
  return jnp.concatenate(phases, axis=-1)       # [2, 2, Cin, 4*Cout]


def conv_transpose_3x3_s2_reference(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """PyTorch ConvTranspose2d(k=3, s=2, p=1, output_padding=1, bias=False) via lax (for tests).

  x [B, H, W, Cin], kernel [3, 3, Cin, Cout] (PyTorch's weight transposed by (2, 3, 0, 1)) ->
  [B, 2H, 2W, Cout]: a dilated input convolved with the flipped kernel, padded k-1-p = 1 before
  and k-1-p+output_padding = 2 after.
  """
  return jax.lax.conv_general_dilated(
      x, kernel[::-1, ::-1], window_strides=(1, 1), padding=((1, 2), (1, 2)), lhs_dilation=(2, 2),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


class UpConv3x3(nn.Module):
  """Exact ConvTranspose2d(k=3, s=2, p=1, output_padding=1): [B, H, W, Cin] -> [B, 2H, 2W, F].

  Computed as one 2x2 ordinary convolution (input padded by one row and column after) to 4 *
  features channels, then depth-to-space: the forward and backward passes are ordinary
  convolutions, which XLA:CPU runs ~10x faster than nn.ConvTranspose's weight gradient (see
  layers.UpConv2x, its 4x4 sibling). `kernel` keeps the transposed conv's layout [3, 3, Cin, Cout].
  """
  features: int
  use_bias: bool = True
  impl: str = 'xla'   # lowering of the 2x2 convolution (layers.conv2d)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param('kernel', normal_init, (3, 3, x.shape[-1], self.features))
    subpixel = transposed_kernel3_to_subpixel(kernel.astype(x.dtype))
    padded = jnp.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))
    y = layers.depth_to_space(layers.conv2d(padded, subpixel, 1, 0, self.impl), 2)
    if self.use_bias:
      y = y + self.param('bias', nn.initializers.zeros, (self.features,)).astype(x.dtype)
    return y


def conv(features: int, kernel: int, stride: int = 1, padding: int = 0,
         impl: str = 'xla') -> layers.Conv2d:
  """PyTorch Conv2d (symmetric zero padding, bias) with the official N(0, 0.02) init."""
  return layers.Conv2d(features, kernel, stride=stride, padding=padding, impl=impl,
                       kernel_init=normal_init)


def reflect_pad(x: jax.Array, pad: int) -> jax.Array:
  """PyTorch ReflectionPad2d(pad) on NHWC (the edge pixel is not repeated)."""
  return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='reflect')


class ResnetBlock(nn.Module):
  """x + IN(conv3(pad(relu(IN(conv3(pad(x))))))) with reflection padding: [B, H, W, C] -> same."""
  conv_impl: str = 'xla'

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    c = x.shape[-1]
    y = conv(c, 3, impl=self.conv_impl)(reflect_pad(x, 1))
    y = nn.relu(layers.instance_norm()(y))
    y = conv(c, 3, impl=self.conv_impl)(reflect_pad(y, 1))
    return x + layers.instance_norm()(y)


class ResnetGenerator(nn.Module):
  """G: [B, H, W, 3] in [-1, 1] -> [B, H, W, 3] in [-1, 1]; H and W multiples of 4.

  The official `resnet_9blocks` (n_blocks=9; 6 for `resnet_6blocks`), no dropout: ngf channels
  at full resolution, 2*ngf and 4*ngf after the two stride-2 downs, n_blocks residual blocks at
  4*ngf, then back up. 11.4 M parameters for ngf=64, 9 blocks.
  """
  ngf: int = 64
  n_blocks: int = 9
  conv_impl: str = 'xla'    # lowering (layers.conv2d) of the 3x3 and up-sampling convs

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    h = conv(self.ngf, 7)(reflect_pad(x, 3))
    h = nn.relu(layers.instance_norm()(h))
    dim = self.ngf
    for _ in range(2):
      dim *= 2
      h = conv(dim, 3, stride=2, padding=1, impl=self.conv_impl)(h)
      h = nn.relu(layers.instance_norm()(h))
    for _ in range(self.n_blocks):
      h = ResnetBlock(conv_impl=self.conv_impl)(h)
    for _ in range(2):
      dim //= 2
      h = UpConv3x3(dim, impl=self.conv_impl)(h)
      h = nn.relu(layers.instance_norm()(h))
    return jnp.tanh(conv(3, 7)(reflect_pad(h, 3)))


class NLayerDiscriminator(nn.Module):
  """PatchGAN D: [B, H, W, 3] -> raw scores [B, h, w, 1] (no sigmoid; LSGAN regresses them).

  4x4 convs: ndf stride 2 (no norm), then n_layers - 1 more stride-2 convs and one stride-1 conv
  doubling the width up to 8*ndf (with norm), then a 1-channel stride-1 conv; LeakyReLU 0.2.
  Each score sees a `receptive_field(n_layers)` square of the input: 70x70 for n_layers=3, where
  a 256 px image gives 30x30 scores. norm='none' drops the instance norms (the official
  `--norm none`); with them, every score also depends on the whole image through the statistics.
  """
  ndf: int = 64
  n_layers: int = 3
  norm: str = 'instance'    # instance | none
  conv_impl: str = 'xla'

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    if self.norm not in ('instance', 'none'):
      raise ConfigError(f'discriminator norm {self.norm!r}: choose instance or none')
    h = nn.leaky_relu(conv(self.ndf, 4, stride=2, padding=1, impl=self.conv_impl)(x), 0.2)
    for n in range(1, self.n_layers + 1):
      stride = 2 if n < self.n_layers else 1
      h = conv(self.ndf * min(2 ** n, 8), 4, stride=stride, padding=1, impl=self.conv_impl)(h)
      if self.norm == 'instance':
        h = layers.instance_norm()(h)
      h = nn.leaky_relu(h, 0.2)
    return conv(1, 4, stride=1, padding=1, impl=self.conv_impl)(h)


def patch_layers(n_layers: int) -> list[tuple[int, int]]:
  """(kernel, stride) of the convs of NLayerDiscriminator(n_layers), input to output."""
  return [(4, 2)] * n_layers + [(4, 1), (4, 1)]


def receptive_field(n_layers: int) -> int:
  """Side of the input square that one PatchGAN score depends on: 70 for n_layers=3 (34 for 2,
  142 for 4)."""
  size = 1
  for kernel, stride in reversed(patch_layers(n_layers)):
    size = (size - 1) * stride + kernel
  return size


def patch_output_size(image_size: int, n_layers: int) -> int:
  """Side of D's score map for an image_size input (padding 1 everywhere): 30 for 256 px."""
  size = image_size
  for kernel, stride in patch_layers(n_layers):
    size = (size + 2 - kernel) // stride + 1
  return size


def check_discriminator_fits(image_size: int, n_layers: int) -> None:
  """ConfigError if D's score map would be empty for image_size inputs."""
  if n_layers < 1:
    raise ConfigError(f'config.model.n_layers_d={n_layers} must be >= 1')
  if image_size < 1 or patch_output_size(image_size, n_layers) < 1:
    raise ConfigError(
        f'a {image_size} px image is too small for the PatchGAN with n_layers_d={n_layers} (it '
        f'needs at least {min_image_size(n_layers)} px): raise config.data.crop_size or lower '
        f'config.model.n_layers_d.')


def min_image_size(n_layers: int) -> int:
  size = 1
  while patch_output_size(size, n_layers) < 1:
    size += 1
  return size
