"""A StyleGAN2-style generator and discriminator (Karras et al. 2020), 32-256 px.

Generator = mapping network (z -> w, 8 equalised-LR dense layers with a 100x lower learning rate,
pixel-normalised z, a tracked w average for truncation) + synthesis network (a learned 4x4
constant, per resolution one up-sampling and one plain modulated/demodulated 3x3 conv with
per-pixel noise of learned strength, and skip-connected toRGB layers). Every layer takes its own
w ("w+" = [B, num_ws, w_dim]), which is what style mixing and the editing code manipulate.
Discriminator = residual StyleGAN2 D with a minibatch standard-deviation layer.

Differences from the official code, all documented choices: up/down-sampling is bilinear
(jax.image.resize) instead of the [1, 3, 3, 1] FIR filter; no path-length regulariser; the
modulated conv is the non-fused form (scale inputs, shared conv, scale outputs), which equals the
grouped-conv form exactly and runs as one ordinary convolution per layer.

Shapes: z [B, Z]; w [B, W]; ws [B, num_ws, W]; images [B, S, S, 3] in about [-1, 1] (no tanh, as
in StyleGAN).
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.errors import ConfigError

SQRT2 = math.sqrt(2.0)


def resolutions(image_size: int) -> list[int]:
  """[4, 8, ..., image_size]; ConfigError unless image_size is a power of two in [8, 1024]."""
  log = int(round(math.log2(max(image_size, 1))))
  if 2 ** log != image_size or not 3 <= log <= 10:
    raise ConfigError(f'StyleGAN image_size={image_size} must be a power of two in [8, 1024]')
  return [2 ** i for i in range(2, log + 1)]


def num_ws(image_size: int) -> int:
  """Number of per-layer w vectors (StyleGAN2's num_ws = conv layers + 1): 2 per resolution.
  4x4 uses ws[0] (conv) and ws[1] (toRGB); resolution 2^k uses two convs and its toRGB shares
  the next index with the next conv."""
  return 2 * len(resolutions(image_size))


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
  return min(channel_base // resolution, channel_max)


def style_layers(image_size: int) -> list[list[tuple[str, ...]]]:
  """For each w index of the synthesis network, the paths (inside the synthesis params) of the
  modulated convs whose styles it drives: [['b4_conv', 'conv'], ['b4_torgb'], ...] as tuples.
  (As in StyleGAN2, a block's toRGB shares its w with the next block's first conv.)"""
  layers = [[('b4_conv', 'conv')], [('b4_torgb',)]]
  for r in resolutions(image_size)[1:]:
    layers[-1].append((f'b{r}_conv0', 'conv'))
    layers.append([(f'b{r}_conv1', 'conv')])
    layers.append([(f'b{r}_torgb',)])
  assert len(layers) == num_ws(image_size)
  return layers


def lrelu(x: jax.Array) -> jax.Array:
  """LeakyReLU(0.2) with StyleGAN's gain sqrt(2)."""
  return nn.leaky_relu(x, 0.2) * SQRT2


def pixel_norm(x: jax.Array, axis: int = -1) -> jax.Array:
  return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=axis, keepdims=True) + 1e-8)


def resize(x: jax.Array, size: int) -> jax.Array:
  """Bilinear (antialiased when shrinking) resize of [B, H, W, C] to [B, size, size, C]."""
  return jax.image.resize(x, (x.shape[0], size, size, x.shape[3]), 'bilinear')


class EqualDense(nn.Module):
  """Dense layer with equalised learning rate: weights N(0, 1/lr_mul^2) scaled at run time by
  lr_mul / sqrt(fan_in); bias init `bias_init`, scaled by lr_mul."""
  features: int
  lr_mul: float = 1.0
  bias_init: float = 0.0

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    fan_in = x.shape[-1]
    kernel = self.param('kernel', nn.initializers.normal(1.0 / self.lr_mul),
                        (fan_in, self.features))
    bias = self.param('bias', nn.initializers.constant(self.bias_init / self.lr_mul),
                      (self.features,))
    return x @ (kernel * (self.lr_mul / math.sqrt(fan_in))) + bias * self.lr_mul


class EqualConv(nn.Module):
  """Conv (SAME padding, stride 1) with equalised learning rate; optional bias."""
  features: int
  kernel_size: int = 3
  use_bias: bool = True

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    k = self.kernel_size
    kernel = self.param('kernel', nn.initializers.normal(1.0), (k, k, x.shape[-1],
                                                                 self.features))
    y = jax.lax.conv_general_dilated(
        x, kernel * (1.0 / math.sqrt(k * k * x.shape[-1])), (1, 1), 'SAME',
        dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    if self.use_bias:
      y = y + self.param('bias', nn.initializers.zeros, (self.features,))
    return y


class ModulatedConv(nn.Module):
  """StyleGAN2 modulated (and optionally demodulated) conv: x [B, H, W, Cin], w [B, W].

  styles s = affine(w) (bias init 1); y = conv(x * s, weight) * d with
  d[b, o] = 1 / sqrt(sum_{k, i} (weight[k, i, o] * s[b, i])^2 + 1e-8) when demodulating.
  """
  features: int
  kernel_size: int = 3
  demodulate: bool = True

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
    k, cin = self.kernel_size, x.shape[-1]
    styles = EqualDense(cin, bias_init=1.0, name='affine')(w)            # [B, Cin]
    weight = self.param('kernel', nn.initializers.normal(1.0), (k, k, cin, self.features))
    weight = weight * (1.0 / math.sqrt(k * k * cin))
    y = jax.lax.conv_general_dilated(x * styles[:, None, None, :], weight, (1, 1), 'SAME',
                                     dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    if self.demodulate:
      sq = jnp.einsum('bi,io->bo', jnp.square(styles), jnp.sum(jnp.square(weight), axis=(0, 1)))
      y = y * jax.lax.rsqrt(sq + 1e-8)[:, None, None, :]
    return y


class StyleLayer(nn.Module):
  """(optional 2x up-sampling) -> modulated conv -> noise * strength -> bias -> lrelu."""
  features: int
  up: bool = False

  @nn.compact
  def __call__(self, x, w, noise):
    if self.up:
      x = resize(x, x.shape[1] * 2)
    y = ModulatedConv(self.features, name='conv')(x, w)
    strength = self.param('noise_strength', nn.initializers.zeros, ())
    if noise is not None:
      y = y + strength * noise
    return lrelu(y + self.param('bias', nn.initializers.zeros, (self.features,)))


class MappingNetwork(nn.Module):
  """z [B, Z] -> w [B, W]: pixel norm and `depth` equalised dense layers (lr_mul 0.01)."""
  w_dim: int = 512
  depth: int = 8
  lr_mul: float = 0.01

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    h = pixel_norm(z)
    for i in range(self.depth):
      h = lrelu(EqualDense(self.w_dim, lr_mul=self.lr_mul, name=f'fc{i}')(h))
    return h


class SynthesisNetwork(nn.Module):
  """ws [B, num_ws, W] -> images [B, S, S, 3]; noise: list of [B, r, r, 1] per layer or None."""
  image_size: int = 64
  channel_base: int = 8192
  channel_max: int = 256

  def noise_shapes(self, batch: int) -> list[tuple[int, ...]]:
    """Shapes of the per-layer noise inputs, in layer order (one per conv layer)."""
    shapes = []
    for r in resolutions(self.image_size):
      shapes += [(batch, r, r, 1)] * (1 if r == 4 else 2)
    return shapes

  @nn.compact
  def __call__(self, ws: jax.Array, noise: Sequence[jax.Array | None] | None = None,
               blend: tuple[jax.Array, int] | None = None):
    """blend = (mask [B, S, S, 1] in [0, 1], from_resolution): a masked local edit in feature
    space. ws then holds 2B rows, the edited latents then the original ones (noise likewise);
    from `from_resolution` on, every layer's features and the RGB skip of the edited half are
    mixed back to the original's outside the mask (resized to the layer), so the edit blends
    into its surroundings and pixels where the mask is 0 equal the original half's. Returns
    the B edited images."""
    res = resolutions(self.image_size)
    layers_noise = list(noise) if noise is not None else [None] * (2 * len(res) - 1)
    mix = lambda x, r: x if blend is None or r < blend[1] else _blend_halves(x, blend[0])
    c = channels_at(4, self.channel_base, self.channel_max)
    x = jnp.broadcast_to(self.param('const', nn.initializers.normal(1.0), (4, 4, c)),
                         (ws.shape[0], 4, 4, c))
    x = mix(StyleLayer(c, name='b4_conv')(x, ws[:, 0], layers_noise[0]), 4)
    rgb = ModulatedConv(3, 1, demodulate=False, name='b4_torgb')(x, ws[:, 1])
    rgb = mix(rgb + self.param('b4_torgb_bias', nn.initializers.zeros, (3,)), 4)
    layer, w_index = 1, 1
    for r in res[1:]:
      c = channels_at(r, self.channel_base, self.channel_max)
      x = mix(StyleLayer(c, up=True, name=f'b{r}_conv0')(x, ws[:, w_index], layers_noise[layer]), r)
      x = mix(StyleLayer(c, name=f'b{r}_conv1')(x, ws[:, w_index + 1], layers_noise[layer + 1]), r)
      y = ModulatedConv(3, 1, demodulate=False, name=f'b{r}_torgb')(x, ws[:, w_index + 2])
      rgb = mix(resize(rgb, r) + y + self.param(f'b{r}_torgb_bias', nn.initializers.zeros, (3,)),
                r)
      layer += 2
      w_index += 2
    if blend is not None:
      return rgb[:rgb.shape[0] // 2]
    return rgb


def _blend_halves(x: jax.Array, mask: jax.Array) -> jax.Array:
  """x [2B, r, r, C] = (edited, original): the edited half becomes original + m * (edited -
  original) with the mask resized to r (area average when shrinking); the original half stays."""
  b, r = x.shape[0] // 2, x.shape[1]
  m = mask if mask.shape[1] == r else jax.image.resize(mask, (b, r, r, 1), 'linear')
  edited, original = x[:b], x[b:]
  return jnp.concatenate([original + m * (edited - original), original], axis=0)


class Generator(nn.Module):
  """The full G: z -> images, with style mixing, truncation and the tracked w average.

  Variables: 'params' and 'stats' {'w_avg': [W]} (updated in training, used by truncation).
  """
  image_size: int = 64
  z_dim: int = 512
  w_dim: int = 512
  mapping_depth: int = 8
  channel_base: int = 8192
  channel_max: int = 256
  w_avg_beta: float = 0.995

  def setup(self):
    self.mapping = MappingNetwork(self.w_dim, self.mapping_depth)
    self.synthesis = SynthesisNetwork(self.image_size, self.channel_base, self.channel_max)
    self.w_avg = self.variable('stats', 'w_avg', jnp.zeros, (self.w_dim,))

  @property
  def num_ws(self) -> int:
    return num_ws(self.image_size)

  def __call__(self, z: jax.Array, key: jax.Array | None = None, train: bool = True,
               mixing_prob: float = 0.0, truncation_psi: float = 1.0) -> jax.Array:
    """z [B, Z] -> images. key draws noise and the mixing crossover (None: no noise, no mixing).
    In training the w average is updated (mutable 'stats')."""
    ws = self.ws_from_z(z, key, train, mixing_prob, truncation_psi)
    noise = self.random_noise(key, z.shape[0]) if key is not None else None
    return self.synthesis(ws, noise)

  def mapping_ws(self, z: jax.Array, train: bool = False) -> jax.Array:
    """z -> ws [B, num_ws, W] (the same w for every layer)."""
    w = self.mapping(z)
    if train and not self.is_initializing():
      self.w_avg.value = (self.w_avg_beta * self.w_avg.value +
                          (1.0 - self.w_avg_beta) * jnp.mean(jax.lax.stop_gradient(w), axis=0))
    return jnp.broadcast_to(w[:, None], (z.shape[0], self.num_ws, self.w_dim))

  def ws_from_z(self, z, key=None, train=False, mixing_prob=0.0, truncation_psi=1.0):
    ws = self.mapping_ws(z, train)
    if key is not None and mixing_prob > 0:
      k_z, k_cut, k_use = jax.random.split(jax.random.fold_in(key, 1), 3)
      ws2 = self.mapping_ws(jax.random.normal(k_z, z.shape, z.dtype), train=False)
      cutoff = jax.random.randint(k_cut, (z.shape[0], 1, 1), 1, self.num_ws)
      use = jax.random.uniform(k_use, (z.shape[0], 1, 1)) < mixing_prob
      layer = jnp.arange(self.num_ws)[None, :, None]
      ws = jnp.where(use & (layer >= cutoff), ws2, ws)
    return truncate(ws, self.w_avg.value, truncation_psi)

  def synthesize(self, ws: jax.Array, noise=None) -> jax.Array:
    """ws [B, num_ws, W] -> images (editing: the w+ space)."""
    return self.synthesis(ws, noise)

  def synthesize_masked(self, ws_edit: jax.Array, ws_orig: jax.Array, mask: jax.Array,
                        noise=None, from_resolution: int = 4) -> jax.Array:
    """A local edit: ws_edit's image inside mask [B, S, S, 1] (1 = edit), ws_orig's outside,
    blended in feature space from `from_resolution` on (SynthesisNetwork's `blend`). noise:
    per-layer maps of batch B (shared by both), or None."""
    both = jnp.concatenate([ws_edit, ws_orig], axis=0)
    if noise is not None:
      noise = [jnp.concatenate([n, n], axis=0) for n in noise]
    return self.synthesis(both, noise, blend=(mask, from_resolution))

  def random_noise(self, key: jax.Array, batch: int) -> list[jax.Array]:
    shapes = self.synthesis.noise_shapes(batch)
    keys = jax.random.split(jax.random.fold_in(key, 2), len(shapes))
    return [jax.random.normal(k, s) for k, s in zip(keys, shapes)]


def truncate(ws: jax.Array, w_avg: jax.Array, psi: float) -> jax.Array:
  """The truncation trick: w_avg + psi * (w - w_avg) (psi = 1: unchanged)."""
  if psi == 1.0:
    return ws
  return w_avg + psi * (ws - w_avg)


def minibatch_stddev(x: jax.Array, group_size: int = 4) -> jax.Array:
  """Appends one channel: the mean over features of the std over groups of `group_size` images."""
  b, h, w, c = x.shape
  g = min(group_size, b)
  if b % g:
    g = 1 if b % 2 else 2
  y = x.reshape(g, b // g, h, w, c)
  y = jnp.sqrt(jnp.var(y, axis=0) + 1e-8)                  # [b/g, h, w, c]
  y = jnp.mean(y, axis=(1, 2, 3))                           # [b/g]
  y = jnp.tile(y, (g,))[:, None, None, None]                # [b, 1, 1, 1], image i -> group i % (b/g)
  return jnp.concatenate([x, jnp.broadcast_to(y, (b, h, w, 1))], axis=-1)


class Discriminator(nn.Module):
  """Residual StyleGAN2 D: images [B, S, S, 3] -> logits [B]."""
  image_size: int = 64
  channel_base: int = 8192
  channel_max: int = 256
  mbstd_group: int = 4

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    del train   # no batch statistics: the same in training and inference
    res = resolutions(self.image_size)
    ch = lambda r: channels_at(r, self.channel_base, self.channel_max)
    h = lrelu(EqualConv(ch(res[-1]), 1, name='fromrgb')(x))
    for r in reversed(res[1:]):
      skip = EqualConv(ch(r // 2), 1, use_bias=False, name=f'b{r}_skip')(resize(h, r // 2))
      y = lrelu(EqualConv(ch(r), 3, name=f'b{r}_conv0')(h))
      y = lrelu(EqualConv(ch(r // 2), 3, name=f'b{r}_conv1')(resize(y, r // 2)))
      h = (skip + y) / SQRT2
    h = minibatch_stddev(h, self.mbstd_group)
    h = lrelu(EqualConv(ch(4), 3, name='b4_conv')(h))
    h = lrelu(EqualDense(ch(4), name='b4_fc')(h.reshape(h.shape[0], -1)))
    return EqualDense(1, name='out')(h)[:, 0]
