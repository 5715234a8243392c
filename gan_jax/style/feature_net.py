"""The feature network that style losses (Gatys et al. 2016, AdaIN) look through, by name.

  'vgg19'              VGG19 with ImageNet weights from a file (read by gan_jax.style.vgg_weights:
                       torchvision's vgg19-dcbb9e9d.pth, Keras' ..._notop.h5 or a converted .npz).
                       The network of the papers; nothing downloads it.
  'random_multiscale'  no weights needed: one layer of fixed random filters applied to an image
                       pyramid, in the spirit of Ustyuzhaninov et al. 2017 ("What does it take to
                       generate natural textures?", ICLR), who showed that Gram matrices of a single
                       layer of random multi-scale filters already capture textures. Cheap (see
                       benchmarks/feature_net_speed.py), but NOT VGG19: results differ from papers.
  'vgg19_random'       VGG19's structure with fixed-seed random weights: the cost VGG19 would
                       have, and a deep random encoder to test with (an AdaIN decoder trained
                       against it on CPU learnt far less than against 'random_multiscale':
                       benchmarks/RESULTS.md).
  'auto'               'vgg19' if its weights are found (vgg_weights.find_weights), else
                       'random_multiscale' with one warning saying where it looked.

Everything is deterministic: random weights come from a seed, never from a file.

    net = load_feature_net('auto')
    maps = net.features(net.params, images, net.style_layers)    # images [B, H, W, 3] in [-1, 1]

`features` is pure and jit-able: the parameters are an argument (so a compiled loss does not bake
80 MB of weights in as constants) and `layers` must be a static tuple of names.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import errors
from gan_jax.metrics.features import MissingWeightsError
from gan_jax.models import vgg
from gan_jax.style import vgg_weights

NETWORKS = ('auto', 'vgg19', 'random_multiscale', 'vgg19_random')

# Random multi-scale filters: level l (1 = full resolution) sees the image averaged down by 2^(l-1)
# through 7x7 filters, so its receptive field is about 7 * 2^(l-1) px: 7, 14, 28, 56, 112.
# Fewer filters at the finest levels keep a forward + backward at 512 px cheap: there the
# convolution and a loss's Gram matrix cost the most per filter.
MULTISCALE_LAYERS = ('ms1', 'ms2', 'ms3', 'ms4', 'ms5')
MULTISCALE_WIDTHS = (64, 96, 128, 128, 128)
MULTISCALE_KERNEL = 7

VGG_CONTENT_LAYERS = ('relu4_2',)                                            # Gatys et al. 2016
VGG_STYLE_LAYERS = ('relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1')   # Gatys et al. 2016
VGG_ADAIN_LAYER = 'relu4_1'                                                  # Huang & Belongie 2017
VGG_ADAIN_STYLE_LAYERS = ('relu1_1', 'relu2_1', 'relu3_1', 'relu4_1')


@dataclasses.dataclass(frozen=True, eq=False)
class FeatureNet:
  """A feature network with its parameters and its default layers for each loss."""
  name: str                      # 'vgg19' | 'random_multiscale' | 'vgg19_random'
  description: str               # one plain line for outputs and logs: network, weights, caveats
  pretrained: bool               # True only for 'vgg19' (ImageNet weights)
  params: Any                    # pytree of jnp arrays: pass it to `features`
  layers: tuple[str, ...]        # every name `features` can return, fine to coarse
  content_layers: tuple[str, ...]
  style_layers: tuple[str, ...]
  adain_layer: str               # the AdaIN encoder's output
  adain_style_layers: tuple[str, ...]
  apply: Callable[[Any, jax.Array, tuple[str, ...]], dict[str, jax.Array]] = dataclasses.field(
      repr=False)

  def features(self, params: Any, images: jax.Array, layers: Sequence[str]
               ) -> dict[str, jax.Array]:
    """images [B, H, W, 3] in [-1, 1] -> {layer: activations [B, H_l, W_l, C_l]} for each of
    `layers` (a static tuple of names from self.layers). Pure: differentiable in images and
    params, and runs only as far as the deepest requested layer."""
    vgg.check_layers(layers, self.layers, self.name)
    images = jnp.asarray(images, jnp.float32)
    if images.ndim != 4 or images.shape[-1] != 3:
      raise ValueError(f'{self.name} needs RGB images [B, H, W, 3] in [-1, 1], got '
                       f'{images.shape}')
    return self.apply(params, images, tuple(layers))


# ------------------------------------------------------------------- random multi-scale filters


def multiscale_params(seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
  """{'ms1': {'kernel': [7, 7, 3, 64]}, ...}: the same numbers for a seed on every machine.

  Each filter is zero-mean over its 7x7x3 weights (so it responds to structure and colour
  contrast, not to the average brightness) and has unit L2 norm (responses are of the order of
  the local contrast of an image in [-1, 1]).
  """
  rng = np.random.default_rng(seed)
  params = {}
  for name, width in zip(MULTISCALE_LAYERS, MULTISCALE_WIDTHS):
    kernel = rng.standard_normal((MULTISCALE_KERNEL, MULTISCALE_KERNEL, 3, width),
                                 dtype=np.float32)
    kernel -= kernel.mean(axis=(0, 1, 2), keepdims=True)
    kernel /= np.sqrt(np.sum(kernel * kernel, axis=(0, 1, 2), keepdims=True))
    params[name] = {'kernel': kernel}
  return params


def _conv_valid(x: jax.Array, kernel: jax.Array) -> jax.Array:
  return jax.lax.conv_general_dilated(x, kernel, (1, 1), 'VALID',
                                      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


@jax.custom_vjp
def conv_few_inputs(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """A 'VALID' convolution x [B, H, W, Cin] * kernel [kh, kw, Cin, Cout] (HWIO) whose input
  gradient is a matrix product plus shifted sums rather than XLA:CPU's transposed convolution
  into Cin = 3 channels, which is several times slower for 3-channel images. Same values and
  gradients as lax.conv_general_dilated (tests/style/test_feature_net.py)."""
  return _conv_valid(x, kernel)


def _conv_few_inputs_fwd(x, kernel):
  return _conv_valid(x, kernel), (x, kernel)


def _conv_few_inputs_bwd(residuals, grad_out):
  x, kernel = residuals
  kh, kw, cin, cout = kernel.shape
  b, h, w, _ = grad_out.shape
  # d out[p] / d x[p + (i, j)] = kernel[i, j]: one [B*H*W, Cout] x [Cout, kh*kw*Cin] product,
  # then each (i, j) slice is added back at its offset.
  patch_grads = (grad_out.reshape(-1, cout) @ kernel.reshape(-1, cout).T).reshape(
      b, h, w, kh, kw, cin)
  grad_x = jnp.zeros_like(x)
  for i in range(kh):
    for j in range(kw):
      grad_x = grad_x.at[:, i:i + h, j:j + w, :].add(patch_grads[:, :, :, i, j, :])
  _, kernel_vjp = jax.vjp(lambda k: _conv_valid(x, k), kernel)
  return grad_x, kernel_vjp(grad_out)[0]


conv_few_inputs.defvjp(_conv_few_inputs_fwd, _conv_few_inputs_bwd)


_BINOMIAL = np.array([1.0, 3.0, 3.0, 1.0], np.float32) / 8.0


def _halve(x: jax.Array) -> jax.Array:
  """Blur with the separable binomial [1, 3, 3, 1] / 8 and keep every second pixel (a Gaussian
  pyramid step; odd sizes floored). Plain 2x2 average pooling would give the coarse levels
  gradients that are constant over 2^L-pixel blocks, and the optimised images visible blocks."""
  c = x.shape[-1]
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode='reflect')
  kernel = jnp.asarray(np.outer(_BINOMIAL, _BINOMIAL)[:, :, None, None] * np.eye(c)[None, None])
  out = jax.lax.conv_general_dilated(padded, kernel.astype(x.dtype), (2, 2), 'VALID',
                                     dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  return out[:, :x.shape[1] // 2, :x.shape[2] // 2]


def multiscale_features(params: Any, images: jax.Array, layers: tuple[str, ...]
                        ) -> dict[str, jax.Array]:
  """images [B, H, W, 3] in [-1, 1] -> {'msL': ReLU(random 7x7 filters on the image averaged
  down by 2^(L-1)) [B, H / 2^(L-1), W / 2^(L-1), C_L]} for the requested levels. Borders are
  reflected, so a texture's statistics are not polluted by a zero frame."""
  vgg.check_layers(layers, MULTISCALE_LAYERS, 'random_multiscale')
  last = max(MULTISCALE_LAYERS.index(name) for name in layers)
  out, x = {}, images
  for level, name in enumerate(MULTISCALE_LAYERS[:last + 1]):
    if level:
      x = _halve(x)
    if min(x.shape[1:3]) < 1:
      raise errors.ConfigError(
          f'random_multiscale layer {name} needs images of at least {2 ** level} px on each side, '
          f'got {images.shape[1]}x{images.shape[2]}: use larger images or coarser layers only')
    if name in layers:
      kernel = params[name]['kernel']
      pad = kernel.shape[0] // 2
      padded = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='reflect')
      out[name] = jax.nn.relu(conv_few_inputs(padded, kernel))
  return out


# --------------------------------------------------------------------------------- loading


def _vgg_apply(module: vgg.VGG19):
  def apply(params, images, layers):
    return module.apply({'params': params}, images, layers)
  return apply


def _vgg_net(name: str, description: str, pretrained: bool, params: Any,
             module: vgg.VGG19) -> FeatureNet:
  return FeatureNet(
      name=name, description=description, pretrained=pretrained,
      params=jax.tree.map(jnp.asarray, params), layers=vgg.LAYERS,
      content_layers=VGG_CONTENT_LAYERS, style_layers=VGG_STYLE_LAYERS,
      adain_layer=VGG_ADAIN_LAYER, adain_style_layers=VGG_ADAIN_STYLE_LAYERS,
      apply=_vgg_apply(module))


def _pretrained_vgg19(path: str, pooling: str) -> FeatureNet:
  weights = vgg_weights.load_weights(path)
  module = vgg.VGG19(pooling=pooling, preprocess=weights.preprocess)
  return _vgg_net('vgg19', f'VGG19 ({pooling} pooling, {weights.preprocess} preprocessing), '
                           f'{weights.description}', True, weights.params, module)


def _random_vgg19(seed: int, pooling: str, why: str) -> FeatureNet:
  return _vgg_net('vgg19_random',
                  f'VGG19 structure with random weights (seed {seed}, He-normal; {pooling} '
                  f'pooling), NOT pretrained: {why}', False, vgg.random_params(seed, pooling),
                  vgg.VGG19(pooling=pooling, preprocess='torch'))


def _random_multiscale(seed: int, why: str) -> FeatureNet:
  return FeatureNet(
      name='random_multiscale',
      description=(f'random multi-scale filters (Ustyuzhaninov et al. 2017; seed {seed}; '
                   f'{len(MULTISCALE_LAYERS)} scales, receptive fields 7-112 px, '
                   f'{"/".join(map(str, MULTISCALE_WIDTHS))} filters of 7x7), NOT VGG19: {why}'),
      pretrained=False, params=jax.tree.map(jnp.asarray, multiscale_params(seed)),
      layers=MULTISCALE_LAYERS,
      content_layers=('ms2',),          # fine scale: edges and shapes, not pixel values
      style_layers=MULTISCALE_LAYERS,   # all scales: texture from 7 to 112 px
      adain_layer='ms3', adain_style_layers=('ms1', 'ms2', 'ms3'),
      apply=multiscale_features)


def _not_found_reason(weights: str) -> str:
  candidates = vgg_weights.weight_candidates(weights or None)
  return f'no VGG19 weights found (looked at: {", ".join(candidates)})'


def _where_to_put_weights() -> str:
  return (f'put torchvision\'s {vgg_weights.TORCHVISION_WEIGHTS_NAME} (the file '
          'torchvision.models.vgg19(weights="IMAGENET1K_V1") downloads; no torch needed to read '
          'it) in ~/.cache/gan_jax/ or ~/.cache/torch/hub/checkpoints/, or Keras\' '
          f'{vgg_weights.KERAS_WEIGHTS_NAME} in ~/.keras/models/, or set '
          f'${vgg_weights.WEIGHTS_ENV} to either file')


def _check_choice(network: str, pooling: str, weights: str) -> None:
  if network not in NETWORKS:
    raise errors.ConfigError(f'feature network {network!r}: choose one of {NETWORKS}')
  if pooling not in vgg.POOLINGS:
    raise errors.ConfigError(f'VGG19 pooling {pooling!r}: choose one of {vgg.POOLINGS}')
  if weights and network in ('random_multiscale', 'vgg19_random'):
    raise errors.ConfigError(f'feature network {network!r} uses random weights, so weights='
                             f'{weights!r} would be ignored: use network "vgg19" or "auto"')


def load_feature_net(network: str = 'auto', weights: str = '', seed: int = 0,
                     pooling: str = 'avg') -> FeatureNet:
  """The feature network for style losses (see the module docstring for the names).

  weights: a VGG19 weight file ('' = $GAN_JAX_VGG19_WEIGHTS or the default places). seed: the
  random networks' weights. pooling: VGG19's pools, 'avg' (Gatys et al.'s choice for synthesis)
  or 'max'. 'vgg19' without a weight file raises MissingWeightsError saying where to put one.
  """
  _check_choice(network, pooling, weights)
  if network == 'random_multiscale':
    return _random_multiscale(seed, 'network "random_multiscale" requested')
  if network == 'vgg19_random':
    return _random_vgg19(seed, pooling, 'network "vgg19_random" requested')
  path = vgg_weights.find_weights(weights or None)
  if path:
    return _pretrained_vgg19(path, pooling)
  if network == 'vgg19':
    raise MissingWeightsError(f'feature network "vgg19" needs ImageNet weights, but '
                              f'{_not_found_reason(weights)}. To use it, '
                              f'{_where_to_put_weights()}. Without them, use network '
                              '"random_multiscale" (textures and styles, not VGG19).')
  net = _random_multiscale(seed, _not_found_reason(weights))
  logging.warning('Style features: %s. Using %s instead. For the VGG19 of the papers, %s.',
                  _not_found_reason(weights), 'random multi-scale filters (NOT VGG19)',
                  _where_to_put_weights())
  return net


def adain_encoder_net(network: str = 'auto', weights: str = '', seed: int = 0,
                      pooling: str = 'max') -> FeatureNet:
  """The AdaIN encoder (Huang & Belongie 2017: VGG19 up to relu4_1, max pooling): like
  load_feature_net. Without VGG19 weights 'auto' falls back to 'random_multiscale' (AdaIN at
  'ms3', a quarter of the resolution, style statistics of 'ms1'..'ms3'), with one warning: a
  decoder trained against it on CPU learnt the content layout within a few hundred steps, while
  against VGG19's structure with random weights it still ignored its input after 1000
  (benchmarks/RESULTS.md)."""
  _check_choice(network, pooling, weights)
  if network != 'auto':
    return load_feature_net(network, weights, seed, pooling)
  path = vgg_weights.find_weights(weights or None)
  if path:
    return _pretrained_vgg19(path, pooling)
  logging.warning('AdaIN encoder: %s. Using random multi-scale filters (NOT VGG19) instead. '
                  'For the encoder of the paper, %s.', _not_found_reason(weights),
                  _where_to_put_weights())
  return _random_multiscale(seed, _not_found_reason(weights))
