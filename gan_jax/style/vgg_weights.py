"""VGG19 weight files: reading, writing and finding them (the network and the pure conversions of
the weights' layouts are gan_jax.models.vgg).

Reads local files only; nothing here downloads. The formats:
  * torchvision `vgg19-dcbb9e9d.pth` (`features.{0,2,5,...,34}.weight` [out, in, 3, 3] / `.bias`;
    the classifier is ignored), read without torch. Expects preprocess='torch'.
  * Keras applications `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`, read with h5py the way
    Keras' legacy `load_weights_from_hdf5_group` does (see `load_keras_h5`). Expects
    preprocess='caffe' (these are the original Caffe weights of Simonyan & Zisserman).
  * an .npz of the Flax parameters written by `save_npz` (remembers which preprocessing applies).
`load_weights(path)` reads any of them and says which preprocessing makes the features match the
source framework. `find_weights` looks at a given path, then $GAN_JAX_VGG19_WEIGHTS, then the
caches of torch hub and Keras (and ~/.cache/gan_jax). Unreadable or wrong files raise
gan_jax.models.vgg.VGGWeightsError.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any, Mapping

import numpy as np

from gan_jax import errors
from gan_jax.models import vgg

TORCHVISION_WEIGHTS_NAME = 'vgg19-dcbb9e9d.pth'
TORCHVISION_SHA256_PREFIX = 'dcbb9e9d'     # torch hub names files by their sha256 prefix
KERAS_WEIGHTS_NAME = 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5'
KERAS_WEIGHTS_MD5 = '253f8cb515780f3b799900260a226db6'   # keras.applications.vgg19's file_hash
WEIGHTS_ENV = 'GAN_JAX_VGG19_WEIGHTS'
NPZ_PREPROCESS_KEY, NPZ_SOURCE_KEY = '__preprocess__', '__source__'


# ---------------------------------------------------------------------------- torchvision


def load_torchvision(path: str) -> dict:
  """VGG19 params from torchvision's `vgg19-dcbb9e9d.pth` (or any file in its layout); no torch."""
  from gan_jax import torch_weights   # pylint: disable=g-import-not-at-top
  try:
    state = torch_weights.load_state_dict(path)
  except torch_weights.WeightFileError as e:
    raise vgg.VGGWeightsError(f'cannot read VGG19 weights {path}: {e}') from e
  return vgg.params_from_torchvision(state)


# ---------------------------------------------------------------------------------- Keras h5
#
# Layout of vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 (written by Keras 1's save_weights;
# later Keras versions write the same tree, with more root attributes and other weight names):
#   /                      attrs: layer_names = [b'block1_conv1', b'block1_conv2', b'block1_pool',
#                                                ..., b'block5_conv4', b'block5_pool'] (21; no
#                                                input layer); Keras >= 1.2 adds keras_version and
#                                                backend; very long lists are split into
#                                                layer_names0, layer_names1, ...
#   /block1_conv1          attrs: weight_names = [b'block1_conv1_W_1:0', b'block1_conv1_b_1:0']
#     block1_conv1_W_1:0   float32 [3, 3, 3, 64]  (HWIO: the "tf_kernels" ordering)
#     block1_conv1_b_1:0   float32 [64]
#   /block1_pool           attrs: weight_names = [] (layers without weights keep an empty group)
#   ...
# Keras 2 names the weights 'block1_conv1/kernel:0', 'block1_conv1/bias:0' (so h5py nests a
# group), Keras 3 'block1_conv1/kernel'. Keras reads a file like this by order: the n-th layer of
# `layer_names` with a non-empty `weight_names` goes to the n-th layer of the model that has
# weights, and the datasets are taken in `weight_names` order (kernel, then bias). A whole-model
# file keeps the same tree under /model_weights.


def _h5py():
  try:
    import h5py   # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise errors.UserError('reading Keras .h5 weights needs h5py: pip install h5py (or use '
                           f'torchvision\'s {TORCHVISION_WEIGHTS_NAME})') from e
  return h5py


def _h5_string_list(group, name: str) -> list[str]:
  """An attribute holding a list of names, joined from name0, name1, ... chunks if split
  (as Keras' load_attributes_from_hdf5_group)."""
  if name in group.attrs:
    chunks = [group.attrs[name]]
  else:
    chunks, index = [], 0
    while f'{name}{index}' in group.attrs:
      chunks.append(group.attrs[f'{name}{index}'])
      index += 1
  return [n.decode('utf8') if isinstance(n, bytes) else str(n)
          for chunk in chunks for n in np.atleast_1d(chunk)]


def _read_keras_layers(root) -> list[tuple[str, list[np.ndarray]]]:
  """[(layer name, [arrays in weight_names order])] for the layers that hold weights."""
  if 'layer_names' not in root.attrs and 'layer_names0' not in root.attrs:
    if 'model_weights' in root:
      root = root['model_weights']
    else:
      raise vgg.VGGWeightsError('not a Keras weight file: no "layer_names" attribute')
  layers = []
  for layer_name in _h5_string_list(root, 'layer_names'):
    if layer_name not in root:
      raise vgg.VGGWeightsError(f'layer {layer_name!r} is listed in layer_names but has no group')
    group = root[layer_name]
    weight_names = _h5_string_list(group, 'weight_names')
    missing = [w for w in weight_names if w not in group]
    if missing:
      raise vgg.VGGWeightsError(
          f'layer {layer_name!r} lists weights {missing} that are not stored')
    if weight_names:
      layers.append((layer_name, [np.asarray(group[w]) for w in weight_names]))
  return layers


def load_keras_h5(path: str) -> dict:
  """VGG19 params from Keras applications' `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`
  (or the file with the top, or any Keras save_weights .h5 of VGG19). Needs only h5py."""
  h5py = _h5py()
  if not os.path.isfile(path):
    raise errors.InputNotFoundError(f'VGG19 weight file {path} does not exist')
  try:
    with h5py.File(path, 'r') as f:
      layers = _read_keras_layers(f)
  except OSError as e:   # h5py's "truncated file", "file signature not found", ...
    raise vgg.VGGWeightsError(f'{path} is not a readable HDF5 file ({e}); it may be truncated: '
                              'download it again') from e
  return vgg.params_from_keras_layers(layers)


def save_keras_h5(path: str, params: Mapping[str, Mapping[str, Any]],
                  weight_name_style: str = 'keras1') -> None:
  """Writes VGG19 params as Keras applications' notop .h5 (the layout above). weight_name_style
  'keras1' names weights 'block1_conv1_W_1:0' as the released file does; 'keras2' names them
  'block1_conv1/kernel:0'. For tests and conversions."""
  h5py = _h5py()
  names = {'keras1': ('{layer}_W_1:0', '{layer}_b_1:0'),
           'keras2': ('{layer}/kernel:0', '{layer}/bias:0')}[weight_name_style]
  layer_names = []
  for b, n in enumerate(vgg.BLOCK_SIZES):
    layer_names += [f'block{b + 1}_conv{i + 1}' for i in range(n)] + [f'block{b + 1}_pool']
  by_keras_name = {vgg.keras_layer_name(name): name for name in vgg.CONV_LAYERS}
  tmp = path + '.tmp'
  with h5py.File(tmp, 'w') as f:
    # Fixed-length byte strings ('|S12'), as h5py 2 stored the lists of the released file.
    f.attrs['layer_names'] = np.array([name.encode('utf8') for name in layer_names])
    for layer in layer_names:
      group = f.create_group(layer)
      if layer not in by_keras_name:
        group.attrs['weight_names'] = []     # an empty float64 array, as Keras writes it
        continue
      weight_names = [pattern.format(layer=layer) for pattern in names]
      group.attrs['weight_names'] = np.array([w.encode('utf8') for w in weight_names])
      values = params[by_keras_name[layer]]
      for weight_name, key in zip(weight_names, ('kernel', 'bias')):
        group.create_dataset(weight_name, data=np.asarray(values[key], np.float32))
  os.replace(tmp, path)


# ---------------------------------------------------------------------------------- npz, any


def save_npz(path: str, params: Mapping[str, Mapping[str, Any]], preprocess: str,
             source: str = '') -> None:
  """Writes VGG19 params as an .npz ('conv1_1/kernel', ...) that remembers the preprocessing its
  weights expect and where they came from (e.g. the original file's name and hash)."""
  if preprocess not in vgg.PREPROCESSINGS:
    raise errors.ConfigError(f'preprocess {preprocess!r}: choose one of {vgg.PREPROCESSINGS}')
  arrays = {f'{layer}/{key}': np.asarray(value, np.float32)
            for layer, leaves in params.items() for key, value in leaves.items()}
  arrays[NPZ_PREPROCESS_KEY] = np.asarray(preprocess)
  arrays[NPZ_SOURCE_KEY] = np.asarray(source)
  tmp = path + '.tmp.npz'
  np.savez(tmp, **arrays)
  os.replace(tmp, path)


def load_npz(path: str) -> tuple[dict, str, str]:
  """(params, preprocess, source) from an .npz written by save_npz."""
  try:
    with np.load(path) as data:
      arrays = {k: data[k] for k in data.files}
  except (OSError, ValueError, EOFError) as e:
    raise vgg.VGGWeightsError(f'{path} is not a readable .npz ({e}); it may be truncated') from e
  preprocess = str(arrays.pop(NPZ_PREPROCESS_KEY, 'torch'))
  source = str(arrays.pop(NPZ_SOURCE_KEY, ''))
  params: dict = {}
  for key, value in arrays.items():
    layer, _, leaf = key.partition('/')
    params.setdefault(layer, {})[leaf] = value
  flat = {(layer, leaf): tuple(np.shape(v)) for layer, leaves in params.items()
          for leaf, v in leaves.items()}
  wanted = {(layer, leaf): shape for layer, shapes in vgg.conv_shapes().items()
            for leaf, shape in zip(('kernel', 'bias'), shapes)}
  if flat != wanted:
    problems = sorted(f'{"/".join(k)}: {flat.get(k, "missing")} vs {wanted.get(k, "unexpected")}'
                      for k in set(flat) | set(wanted) if flat.get(k) != wanted.get(k))
    raise vgg.VGGWeightsError(f'{path} does not hold VGG19 params ({len(problems)} problem(s): '
                              f'{"; ".join(problems[:4])})')
  return params, preprocess, source


@dataclasses.dataclass(frozen=True)
class VGGWeights:
  params: dict         # {'conv1_1': {'kernel', 'bias'}, ...} as numpy float32
  preprocess: str      # the preprocessing these weights were trained with: 'torch' | 'caffe'
  format: str          # 'torchvision' | 'keras_h5' | 'npz'
  description: str     # e.g. "torchvision weights vgg19-dcbb9e9d.pth (sha256 dcbb9e9d...)"


def file_digest(path: str, algorithm: str = 'sha256') -> str:
  digest = hashlib.new(algorithm)
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()


def load_weights(path: str) -> VGGWeights:
  """Reads a VGG19 weight file by its extension: .pth/.pt (torchvision), .h5/.hdf5 (Keras),
  .npz (save_npz). The description names the file, its hash and whether it is the standard one."""
  if not os.path.isfile(path):
    raise errors.InputNotFoundError(f'VGG19 weight file {path} does not exist')
  base = os.path.basename(path)
  ext = os.path.splitext(path)[1].lower()
  if ext in ('.h5', '.hdf5'):
    params = load_keras_h5(path)
    md5 = file_digest(path, 'md5')
    standard = '' if md5 == KERAS_WEIGHTS_MD5 else ', NOT the standard Keras applications file'
    return VGGWeights(params, 'caffe', 'keras_h5',
                      f'Keras applications weights {base} (md5 {md5[:12]}{standard})')
  if ext == '.npz':
    params, preprocess, source = load_npz(path)
    return VGGWeights(params, preprocess, 'npz',
                      f'weights {base} (converted from {source or "an unnamed source"})')
  if ext in ('.pth', '.pt', '.bin'):
    params = load_torchvision(path)
    sha = file_digest(path)
    standard = ('' if sha.startswith(TORCHVISION_SHA256_PREFIX)
                else ', NOT the standard torchvision file')
    return VGGWeights(params, 'torch', 'torchvision',
                      f'torchvision weights {base} (sha256 {sha[:12]}{standard})')
  raise vgg.VGGWeightsError(f'{path}: unknown VGG19 weight format {ext!r}; use torchvision\'s '
                            f'{TORCHVISION_WEIGHTS_NAME}, Keras\' {KERAS_WEIGHTS_NAME} or an .npz '
                            'written by gan_jax.style.vgg_weights.save_npz')


def default_weight_paths() -> list[str]:
  """Where find_weights looks when neither a path nor $GAN_JAX_VGG19_WEIGHTS is given."""
  return [os.path.expanduser(p) for p in (
      f'~/.cache/gan_jax/{TORCHVISION_WEIGHTS_NAME}',
      f'~/.cache/torch/hub/checkpoints/{TORCHVISION_WEIGHTS_NAME}',
      f'~/.keras/models/{KERAS_WEIGHTS_NAME}')]


def weight_candidates(path: str | None = None) -> list[str]:
  """Every place find_weights looks, in order."""
  return [p for p in (path, os.environ.get(WEIGHTS_ENV)) if p] + default_weight_paths()


def find_weights(path: str | None = None) -> str | None:
  """The VGG19 weight file to use: `path`, else $GAN_JAX_VGG19_WEIGHTS, else the first existing
  of ~/.cache/gan_jax/vgg19-dcbb9e9d.pth, ~/.cache/torch/hub/checkpoints/vgg19-dcbb9e9d.pth,
  ~/.keras/models/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5; None if there is none.
  A `path` or $GAN_JAX_VGG19_WEIGHTS naming a missing file is an error (InputNotFoundError), not
  a silent fallback. Never downloads."""
  for explicit, what in ((path, 'the given path'),
                         (os.environ.get(WEIGHTS_ENV), f'${WEIGHTS_ENV}')):
    if explicit:
      if not os.path.isfile(explicit):
        raise errors.InputNotFoundError(f'VGG19 weight file {explicit} ({what}) does not exist')
      return explicit
  for candidate in default_weight_paths():
    if os.path.isfile(candidate):
      return candidate
  return None
