"""Shared layers.

`UpConv2x` is a 4x4, stride-2, padding-1 transposed convolution (PyTorch `ConvTranspose2d(k=4, s=2,
p=1)`, the up-sampling layer of DCGAN/StarGAN/CycleGAN) written as one ordinary 3x3 convolution
followed by depth-to-space. It computes exactly the same function as the transposed convolution
(tests check it against `lax.conv_transpose`), but its forward and backward passes are ordinary
convolutions: on XLA:CPU the weight gradient of `nn.ConvTranspose` lowers to a kernel about 10x
slower (see benchmarks/conv_transpose.py).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import flax.linen as nn

from gan_jax.errors import ConfigError

# For output phase a (row parity) and 3x3 tap t (input offset t - 1), which row of the 4x4
# transposed-conv kernel it uses, or -1 for "not used". Derived from o = 2*i - 1 + k:
#   even outputs o = 2m use k = 1 at i = m and k = 3 at i = m - 1;
#   odd outputs  o = 2m+1 use k = 0 at i = m + 1 and k = 2 at i = m.
_PHASE_TAP_TO_KERNEL = ((3, 1, -1), (-1, 2, 0))


def depth_to_space(x: jax.Array, block: int) -> jax.Array:
  """[B, H, W, block*block*C] -> [B, H*block, W*block, C], channel order (row phase, col phase, C)."""
  b, h, w, c = x.shape
  c_out = c // (block * block)
  x = x.reshape(b, h, w, block, block, c_out)
  x = x.transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(b, h * block, w * block, c_out)


def transposed_kernel_to_subpixel(kernel: jax.Array) -> jax.Array:
  """[4, 4, Cin, Cout] transposed-conv kernel -> [3, 3, Cin, 4*Cout] sub-pixel conv kernel.

  The output channels are ordered (row phase, col phase, Cout) to match `depth_to_space`.
  """
  cin, cout = kernel.shape[2], kernel.shape[3]
  zeros = jnp.zeros((cin, cout), kernel.dtype)
  phases = []
  for a in range(2):
    for b in range(2):
      rows = []
      for tr in range(3):
        kr = _PHASE_TAP_TO_KERNEL[a][tr]
        row = []
        for tc in range(3):
          kc = _PHASE_TAP_TO_KERNEL[b][tc]
          row.append(zeros if kr < 0 or kc < 0 else kernel[kr, kc])
        rows.append(jnp.stack(row))
      phases.append(jnp.stack(rows))            # [3, 3, Cin, Cout]
  return jnp.concatenate(phases, axis=-1)       # [3, 3, Cin, 4*Cout]


def conv_transpose_4x4_s2_reference(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """PyTorch ConvTranspose2d(k=4, s=2, p=1, bias=False) semantics via lax (for tests/benchmarks).

  x: [B, H, W, Cin]; kernel: [4, 4, Cin, Cout] (unflipped, PyTorch layout transposed to HWIO).
  Returns [B, 2H, 2W, Cout].
  """
  flipped = kernel[::-1, ::-1]
  return jax.lax.conv_general_dilated(
      x, flipped, window_strides=(1, 1), padding=((2, 2), (2, 2)), lhs_dilation=(2, 2),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


class UpConv2x(nn.Module):
  """Exact 4x4/stride-2/padding-1 transposed convolution: [B, H, W, Cin] -> [B, 2H, 2W, features].

  The parameter `kernel` [4, 4, Cin, features] has the transposed convolution's own layout
  (PyTorch weight [Cin, Cout, 4, 4] transposed to (2, 3, 0, 1)), so published weights load as is.
  """
  features: int
  use_bias: bool = True
  kernel_init: nn.initializers.Initializer = nn.initializers.kaiming_uniform()
  impl: str = 'xla'   # lowering of the 3x3 convolution, see conv2d

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param('kernel', self.kernel_init, (4, 4, x.shape[-1], self.features))
    subpixel = transposed_kernel_to_subpixel(kernel.astype(x.dtype))
    y = depth_to_space(conv2d(x, subpixel, 1, 1, self.impl), 2)
    if self.use_bias:
      y = y + self.param('bias', nn.initializers.zeros, (self.features,)).astype(x.dtype)
    return y


def conv(features: int, kernel: int, stride: int = 1, padding: int = 0, use_bias: bool = True,
         name: str | None = None) -> nn.Conv:
  """A PyTorch-style Conv2d: symmetric integer padding, HWIO kernel."""
  return nn.Conv(features, (kernel, kernel), strides=(stride, stride),
                 padding=((padding, padding), (padding, padding)), use_bias=use_bias, name=name)


CONV_IMPLS = ('xla', 'im2col', 'hybrid')


def resolve_conv_impl(impl: str, on_cpu: str) -> str:
  """'auto' -> `on_cpu` on CPU, 'xla' on GPU/TPU; others as given (ConfigError if unknown)."""
  if impl == 'auto':
    return on_cpu if jax.default_backend() == 'cpu' else 'xla'
  if impl not in CONV_IMPLS:
    raise ConfigError(f'conv impl {impl!r}: choose auto or one of {CONV_IMPLS}')
  return impl


def extract_patches(x: jax.Array, kernel: int, stride: int, padding: int) -> jax.Array:
  """[B, H, W, C] -> [B, Ho, Wo, kernel*kernel*C], patch channels ordered (row, col, C)."""
  if padding:
    x = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
  h, w = x.shape[1], x.shape[2]
  ho, wo = (h - kernel) // stride + 1, (w - kernel) // stride + 1
  taps = [x[:, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride, :]
          for i in range(kernel) for j in range(kernel)]
  return jnp.concatenate(taps, axis=-1)


def _lax_conv(x: jax.Array, kernel: jax.Array, stride: int, padding: int) -> jax.Array:
  return jax.lax.conv_general_dilated(x, kernel, (stride, stride), ((padding, padding),) * 2,
                                      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


def _im2col_conv(x: jax.Array, kernel: jax.Array, stride: int, padding: int) -> jax.Array:
  patches = extract_patches(x, kernel.shape[0], stride, padding)
  return jnp.einsum('bhwk,kf->bhwf', patches, kernel.reshape(-1, kernel.shape[-1]))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _hybrid_conv(x, kernel, stride, padding):
  return _lax_conv(x, kernel, stride, padding)


def _hybrid_conv_fwd(x, kernel, stride, padding):
  return _lax_conv(x, kernel, stride, padding), (x, kernel)


def _hybrid_conv_bwd(stride, padding, residuals, dy):
  """Input gradient as lax.conv computes it; kernel gradient as one matrix product."""
  x, kernel = residuals
  _, input_vjp = jax.vjp(lambda v: _lax_conv(v, kernel, stride, padding), x)
  patches = extract_patches(x, kernel.shape[0], stride, padding)
  dkernel = jnp.einsum('bhwk,bhwf->kf', patches, dy).reshape(kernel.shape)
  return input_vjp(dy)[0], dkernel


_hybrid_conv.defvjp(_hybrid_conv_fwd, _hybrid_conv_bwd)


def conv2d(x: jax.Array, kernel: jax.Array, stride: int, padding: int, impl: str) -> jax.Array:
  """Cross-correlation of x [B, H, W, Cin] with kernel [k, k, Cin, Cout], symmetric padding.

  Three lowerings of the same function (speed only): 'xla' lax.conv; 'im2col' patches times
  kernel, so that every derivative, second-order ones included, is a matrix product; 'hybrid'
  lax.conv forward and input gradient, kernel gradient as one matrix product (XLA:CPU's own
  kernel-gradient convolution was ~1.5x slower).
  """
  if impl == 'xla':
    return _lax_conv(x, kernel, stride, padding)
  if impl == 'im2col':
    return _im2col_conv(x, kernel, stride, padding)
  if impl == 'hybrid':
    return _hybrid_conv(x, kernel, stride, padding)
  raise ValueError(f'conv impl must be one of {CONV_IMPLS}, got {impl!r}')


class Conv2d(nn.Module):
  """PyTorch-style Conv2d (square kernel, symmetric padding) with a choice of lowering (`conv2d`).

  'xla' suits GPU/TPU. On XLA:CPU a gradient penalty's second-order kernel gradient through
  lax.conv ran ~15x slower than through 'im2col' (benchmarks/RESULTS.md). kernel [k, k, Cin,
  features], as nn.Conv; the lowering never changes the parameters.
  """
  features: int
  kernel_size: int
  stride: int = 1
  padding: int = 0
  use_bias: bool = True
  impl: str = 'xla'
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    k = self.kernel_size
    kernel = self.param('kernel', self.kernel_init, (k, k, x.shape[-1], self.features))
    y = conv2d(x, kernel.astype(x.dtype), self.stride, self.padding, self.impl)
    if self.use_bias:
      y = y + self.param('bias', nn.initializers.zeros, (self.features,)).astype(x.dtype)
    return y


# Variable collection through which `InstanceNorm` shares its statistics (see its docstring).
NORM_STATS = 'norm_stats'


class InstanceNorm(nn.Module):
  """InstanceNorm2d(affine=True): per image and channel statistics over H, W; [B, H, W, C] -> same.

  The same parameters ('scale', 'bias' [C]) and arithmetic as `nn.InstanceNorm(epsilon,
  use_scale=True, use_bias=True)` (biased variance E[x^2] - E[x]^2, clipped at 0), so checkpoints
  of either load into the other. Two optional uses of the 'norm_stats' collection let a network be
  run on tiles of an image with the statistics of the whole image (gan_jax.tiling):

  - given statistics: when the variables hold 'norm_stats' {'mean', 'var'} [B, C] for this layer,
    it normalises with those instead of its own;
  - recording: when 'norm_stats' is mutable, it writes the sums that global statistics are made
    of, 'sum' and 'sum_sq' [B, C] (float32) and 'count' [B], over the positions inside 'region'
    (a given [4] variable of the collection: top, left, bottom, right as fractions of this
    layer's H and W; a position counts when its centre lies inside; default the whole map).

  Without a 'norm_stats' collection it is exactly the plain layer; `init` creates 'params' only.
  """
  epsilon: float = 1e-5

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    features = x.shape[-1]
    if self.is_mutable_collection(NORM_STATS) and not self.is_initializing():
      self._record_sums(x)
    if self.has_variable(NORM_STATS, 'mean'):
      mean = self.get_variable(NORM_STATS, 'mean')
      var = self.get_variable(NORM_STATS, 'var')
    else:
      mean, var = instance_moments(x)
    mean, var = mean[:, None, None, :], var[:, None, None, :]
    scale = self.param('scale', nn.initializers.ones, (features,))
    bias = self.param('bias', nn.initializers.zeros, (features,))
    # The operation order of flax's _normalize, so that results agree bit for bit.
    y = x - mean
    mul = jax.lax.rsqrt(var + self.epsilon) * scale
    y = y * mul + bias
    return jnp.asarray(y, jnp.result_type(x, scale, bias))

  def _record_sums(self, x: jax.Array) -> None:
    region = self.get_variable(NORM_STATS, 'region', None)
    if region is None:
      region = jnp.asarray([0.0, 0.0, 1.0, 1.0], jnp.float32)
    _, h, w, _ = x.shape
    rows = _inside((jnp.arange(h) + 0.5) / h, region[0], region[2])
    cols = _inside((jnp.arange(w) + 0.5) / w, region[1], region[3])
    x32 = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    mask = (rows[:, None] * cols[None, :])[None, :, :, None]
    self.put_variable(NORM_STATS, 'sum', jnp.sum(x32 * mask, axis=(1, 2)))
    self.put_variable(NORM_STATS, 'sum_sq', jnp.sum(jax.lax.square(x32) * mask, axis=(1, 2)))
    self.put_variable(NORM_STATS, 'count',
                      jnp.broadcast_to(jnp.sum(rows) * jnp.sum(cols), x.shape[:1]))


def _inside(centres: jax.Array, low: jax.Array, high: jax.Array) -> jax.Array:
  return ((centres >= low) & (centres < high)).astype(jnp.float32)


def instance_moments(x: jax.Array) -> tuple[jax.Array, jax.Array]:
  """x [B, H, W, C] -> (mean, biased variance) [B, C], at least float32, as nn.InstanceNorm."""
  x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
  mean = jnp.mean(x, axis=(1, 2))
  mean_sq = jnp.mean(jax.lax.square(x), axis=(1, 2))
  return mean, jnp.maximum(0.0, mean_sq - jax.lax.square(mean))


def instance_norm(name: str | None = None) -> InstanceNorm:
  """InstanceNorm2d(affine=True) with PyTorch's epsilon; statistics per image and channel.

  Parameters and values as nn.InstanceNorm(epsilon=1e-5, use_scale=True, use_bias=True); it can
  also use or record whole-image statistics for tiled inference (`InstanceNorm`).
  """
  return InstanceNorm(epsilon=1e-5, name=name)


def tile_labels(x: jax.Array, labels: jax.Array) -> jax.Array:
  """Concatenates labels [B, A] as constant channels: [B, H, W, C] -> [B, H, W, C + A]."""
  b, h, w, _ = x.shape
  planes = jnp.broadcast_to(labels[:, None, None, :].astype(x.dtype), (b, h, w, labels.shape[-1]))
  return jnp.concatenate([x, planes], axis=-1)
