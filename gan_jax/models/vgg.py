"""VGG19's convolutional part (torchvision `vgg19().features`), with named activations, and the
pure conversions from the two weight layouts people have: torchvision's and Keras applications'.

Layers, in order (3x3 convolutions with padding 1, each followed by a ReLU; 2x2 stride-2 pools):
  conv1_1 conv1_2 pool1 | conv2_1 conv2_2 pool2 | conv3_1..conv3_4 pool3 | conv4_1..conv4_4 pool4 |
  conv5_1..conv5_4 pool5
`VGG19()(images, layers)` returns the requested activations by name: 'convB_I' (before the ReLU),
'reluB_I' (after it) and 'poolB'. It stops after the last requested layer, so asking for relu4_1
never runs (nor needs the parameters of) block 5.

Parameters: {'conv1_1': {'kernel': [3, 3, in, out] (HWIO), 'bias': [out]}, ...}.

Conversions (arrays in, arrays out; no file IO here):
  * `params_from_torchvision` / `torchvision_state_from_params`: torchvision's state dict
    (`features.{0,2,5,...,34}.weight` [out, in, 3, 3] / `.bias`; the classifier is ignored).
    Expects preprocess='torch'.
  * `params_from_keras_layers`: the (layer, arrays) list of Keras applications' .h5, assigned in
    order as Keras does. Expects preprocess='caffe' (the original Caffe weights of Simonyan &
    Zisserman).
Reading and writing the weight files (and finding them) is gan_jax.style.vgg_weights.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import errors

BLOCK_SIZES = (2, 2, 4, 4, 4)            # convolutions per block
BLOCK_WIDTHS = (64, 128, 256, 512, 512)
CONV_LAYERS = tuple(f'conv{b + 1}_{i + 1}' for b, n in enumerate(BLOCK_SIZES) for i in range(n))


def _all_layers() -> tuple[str, ...]:
  names = []
  for b, n in enumerate(BLOCK_SIZES):
    for i in range(n):
      names += [f'conv{b + 1}_{i + 1}', f'relu{b + 1}_{i + 1}']
    names.append(f'pool{b + 1}')
  return tuple(names)


LAYERS = _all_layers()                   # every name VGG19 can return, in computation order
POOLINGS = ('max', 'avg')
PREPROCESSINGS = ('torch', 'caffe')

TORCH_MEAN, TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)   # ImageNet, RGB, in [0, 1]
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)                             # in [0, 255], BGR

# torchvision's `features` Sequential: the index of each convolution (ReLUs and pools in between).
TORCHVISION_INDEX = dict(zip(CONV_LAYERS, (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30,
                                           32, 34)))


class VGGWeightsError(errors.UserError, ValueError):
  """A VGG19 weight file that is unreadable, truncated or holds other layers or shapes (raised by
  the conversions here and by the readers of gan_jax.style.vgg_weights)."""


def keras_layer_name(layer: str) -> str:
  """'conv3_2' -> 'block3_conv2' (Keras applications' names)."""
  block, index = layer[len('conv'):].split('_')
  return f'block{block}_conv{index}'


def conv_shapes() -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
  """{'conv1_1': ((3, 3, 3, 64), (64,)), ...}: kernel (HWIO) and bias shapes of every layer."""
  shapes, cin = {}, 3
  for b, n in enumerate(BLOCK_SIZES):
    for i in range(n):
      cout = BLOCK_WIDTHS[b]
      shapes[f'conv{b + 1}_{i + 1}'] = ((3, 3, cin, cout), (cout,))
      cin = cout
  return shapes


_CONV_SHAPES = conv_shapes()

# ------------------------------------------------------------------------------------- model


def preprocess_images(images: jax.Array, mode: str) -> jax.Array:
  """images [B, H, W, 3] in [-1, 1], RGB -> the network's input.

  'torch': [0, 1], minus the ImageNet mean, divided by its std (RGB) — torchvision's weights.
  'caffe': [0, 255], RGB -> BGR, minus the Caffe mean (BGR) — Keras applications' `caffe` mode.
  """
  images = jnp.asarray(images)
  if images.dtype not in (jnp.float32, jnp.bfloat16, jnp.float16):
    images = images.astype(jnp.float32)
  if mode == 'torch':
    x = (images + 1.0) * 0.5
    return (x - jnp.asarray(TORCH_MEAN, x.dtype)) / jnp.asarray(TORCH_STD, x.dtype)
  if mode == 'caffe':
    x = (images + 1.0) * 127.5
    return x[..., ::-1] - jnp.asarray(CAFFE_MEAN_BGR, x.dtype)
  raise errors.ConfigError(f'VGG19 preprocess {mode!r}: choose one of {PREPROCESSINGS}')


def check_layers(layers: Sequence[str], known: Sequence[str], network: str = 'VGG19') -> None:
  """Raises ConfigError naming the unknown layers and the valid ones."""
  if isinstance(layers, str):
    raise errors.ConfigError(f'{network} layers must be a tuple of names, not the string '
                             f'{layers!r}: write ({layers!r},)')
  if not layers:
    raise errors.ConfigError(f'no {network} layers requested; choose from {tuple(known)}')
  unknown = [name for name in layers if name not in known]
  if unknown:
    raise errors.ConfigError(f'{network} has no layer(s) {unknown}; choose from {tuple(known)}')


class VGG19(nn.Module):
  """torchvision's VGG19 `features`; returns named activations (see the module docstring).

  pooling: 'max' (the trained network) or 'avg' (Gatys et al. 2016 found average pooling gives
  smoother style-transfer results). preprocess: 'torch' or 'caffe', matching the weights.
  """
  pooling: str = 'max'
  preprocess: str = 'torch'

  @nn.compact
  def __call__(self, images: jax.Array, layers: Sequence[str] = ('relu4_1',)
               ) -> dict[str, jax.Array]:
    """images [B, H, W, 3] in [-1, 1] -> {name: [B, H / 2^k, W / 2^k, C]} for each requested
    layer (k pools before it; odd sizes are floored as in torchvision and Keras)."""
    check_layers(layers, LAYERS)
    if self.pooling not in POOLINGS:
      raise errors.ConfigError(f'VGG19 pooling {self.pooling!r}: choose one of {POOLINGS}')
    last = max(LAYERS.index(name) for name in layers)
    wanted, out = set(layers), {}
    x = preprocess_images(images, self.preprocess)
    for name in LAYERS[:last + 1]:
      if name.startswith('conv'):
        x = nn.Conv(_CONV_SHAPES[name][1][0], (3, 3), padding=((1, 1), (1, 1)), name=name)(x)
      elif name.startswith('relu'):
        x = nn.relu(x)
      else:
        pool = nn.max_pool if self.pooling == 'max' else nn.avg_pool
        x = pool(x, (2, 2), strides=(2, 2))
      if name in wanted:
        out[name] = x
    return out


def pink_noise_images(seed: int = 0, size: int = 64) -> np.ndarray:
  """[1, size, size, 3] in [-1, 1]: noise with natural images' 1/f amplitude spectrum and
  correlated colour channels (a deterministic stand-in for photographs)."""
  rng = np.random.default_rng(seed)
  freq = np.sqrt(np.fft.fftfreq(size)[:, None] ** 2 + np.fft.fftfreq(size)[None, :] ** 2)
  amplitude = 1.0 / np.maximum(freq, 1.0 / size)
  spectrum = np.fft.fft2(rng.standard_normal((3, size, size)))
  gray = np.real(np.fft.ifft2(spectrum * amplitude))
  mixed = np.einsum('ij,jhw->hwi', np.eye(3) * 0.5 + 0.5, gray)
  mixed = (mixed - mixed.mean()) / (2.5 * mixed.std())
  return np.clip(mixed, -1.0, 1.0)[None].astype(np.float32)


def _conv3x3_numpy(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
  """x [B, H, W, Cin] (zero padding 1) * kernel [3, 3, Cin, Cout] in numpy (float64)."""
  padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  patches = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
  return np.einsum('bhwcij,ijco->bhwo', patches, kernel, optimize=True)


def random_params(seed: int = 0, pooling: str = 'max') -> dict[str, dict[str, np.ndarray]]:
  """Fixed-seed random VGG19 parameters (generated, never stored), for when no weights exist.

  Kernels are He-normal, made zero-mean over each filter (so the positive mean of ReLU outputs
  does not pile up layer after layer) and biases are zero. Zero-mean filters damp the smooth
  part of natural images, so each layer's kernel is then rescaled to give pre-activations of
  root-mean-square 1 on `pink_noise_images(seed)` passed through the network with `pooling`
  (in numpy, float64): activations stay of order 1 through all 16 layers for photographs too.
  The gains are rounded to 1/64 of an octave, so every machine computes the same weights.
  """
  if pooling not in POOLINGS:
    raise errors.ConfigError(f'VGG19 pooling {pooling!r}: choose one of {POOLINGS}')
  rng = np.random.default_rng(seed)
  images = pink_noise_images(seed).astype(np.float64)
  x = ((images + 1) / 2 - np.array(TORCH_MEAN)) / np.array(TORCH_STD)
  params = {}
  for name in LAYERS:
    if name.startswith('conv'):
      kernel_shape, bias_shape = _CONV_SHAPES[name]
      kernel = rng.standard_normal(kernel_shape, dtype=np.float32)
      kernel -= kernel.mean(axis=(0, 1, 2), keepdims=True)
      kernel *= np.sqrt(2.0 / np.prod(kernel_shape[:3])) / kernel.std(axis=(0, 1, 2),
                                                                      keepdims=True)
      x = _conv3x3_numpy(x, kernel)
      gain = np.exp2(np.round(-np.log2(np.sqrt(np.mean(x * x))) * 64) / 64)
      kernel *= np.float32(gain)
      x *= gain
      params[name] = {'kernel': kernel, 'bias': np.zeros(bias_shape, np.float32)}
    elif name.startswith('relu'):
      x = np.maximum(x, 0)
    else:
      b, h, w, c = x.shape
      windows = x[:, :h // 2 * 2, :w // 2 * 2].reshape(b, h // 2, 2, w // 2, 2, c)
      x = windows.max(axis=(2, 4)) if pooling == 'max' else windows.mean(axis=(2, 4))
  return params


# ---------------------------------------------------------------------------- torchvision


def params_from_torchvision(state_dict: Mapping[str, np.ndarray]) -> dict:
  """torchvision vgg19 state dict ('features.N.weight' [out, in, 3, 3], '.bias' [out];
  'classifier.*' ignored) -> VGG19 params. Raises VGGWeightsError listing missing, unexpected
  or misshaped entries."""
  shapes = conv_shapes()
  params, problems = {}, []
  expected_keys = set()
  for name, index in TORCHVISION_INDEX.items():
    (kh, kw, cin, cout), bias_shape = shapes[name]
    weight_key, bias_key = f'features.{index}.weight', f'features.{index}.bias'
    expected_keys |= {weight_key, bias_key}
    weight, bias = state_dict.get(weight_key), state_dict.get(bias_key)
    for key, value, shape in ((weight_key, weight, (cout, cin, kh, kw)),
                              (bias_key, bias, bias_shape)):
      if value is None:
        problems.append(f'{key} missing')
      elif tuple(np.shape(value)) != shape:
        problems.append(f'{key} has shape {tuple(np.shape(value))}, VGG19 needs {shape}')
    if weight is not None and bias is not None and not problems:
      params[name] = {'kernel': np.transpose(np.asarray(weight, np.float32), (2, 3, 1, 0)),
                      'bias': np.asarray(bias, np.float32)}
  unexpected = sorted(k for k in state_dict
                      if k not in expected_keys and not k.startswith('classifier.'))
  problems += [f'{key} unexpected' for key in unexpected]
  if problems:
    raise VGGWeightsError(
        f'not a torchvision VGG19 state dict ({len(problems)} problem(s): '
        f'{"; ".join(problems[:6])}{"; ..." if len(problems) > 6 else ""}). Use torchvision\'s '
        'vgg19-dcbb9e9d.pth (the weights of torchvision.models.vgg19).')
  return params


def torchvision_state_from_params(params: Mapping[str, Mapping[str, Any]]
                                  ) -> dict[str, np.ndarray]:
  """VGG19 params -> a state dict in torchvision's names and layouts (tests, conversions; the
  real file also holds 'classifier.*', which VGG19 here does not use)."""
  state = {}
  for name, index in TORCHVISION_INDEX.items():
    state[f'features.{index}.weight'] = np.ascontiguousarray(
        np.transpose(np.asarray(params[name]['kernel']), (3, 2, 0, 1)))
    state[f'features.{index}.bias'] = np.asarray(params[name]['bias'])
  return state


# ----------------------------------------------------------------------- Keras .h5 layers


def params_from_keras_layers(layers: Sequence[tuple[str, Sequence[np.ndarray]]]) -> dict:
  """[(layer name, [kernel HWIO, bias])] in file order -> VGG19 params, the way Keras assigns
  them: the n-th convolution (4-D kernel) of the file is the n-th of VGG19, whatever its name.
  Dense layers (2-D kernels: fc1, fc2, predictions of the file with the top) are ignored."""
  convs = [(name, arrays) for name, arrays in layers
           if any(np.ndim(a) == 4 for a in arrays)]
  shapes = conv_shapes()
  if len(convs) != len(CONV_LAYERS):
    raise VGGWeightsError(
        f'the file has {len(convs)} convolution layers ({[n for n, _ in convs][:5]}...), VGG19 '
        f'has {len(CONV_LAYERS)}: use Keras applications\' '
        'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5')
  params, problems = {}, []
  for ours, (theirs, arrays) in zip(CONV_LAYERS, convs):
    kernels = [a for a in arrays if np.ndim(a) == 4]
    biases = [a for a in arrays if np.ndim(a) == 1]
    kernel_shape, bias_shape = shapes[ours]
    if (len(arrays) != 2 or len(kernels) != 1 or len(biases) != 1
        or kernels[0].shape != kernel_shape or biases[0].shape != bias_shape):
      problems.append(f'{theirs} holds {[np.shape(a) for a in arrays]}, {keras_layer_name(ours)} '
                      f'needs [{kernel_shape}, {bias_shape}]')
      continue
    params[ours] = {'kernel': np.asarray(kernels[0], np.float32),
                    'bias': np.asarray(biases[0], np.float32)}
  if problems:
    raise VGGWeightsError(f'not VGG19 weights ({len(problems)} layer(s) differ: '
                          f'{"; ".join(problems[:4])}). Use Keras applications\' '
                          'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5.')
  return params

