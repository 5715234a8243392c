"""Feature extractors for distribution metrics, pluggable by name.

  'inception_v3'         the FID-standard Inception-v3 (pool3, 2048-d): `inception_extractor`
  'classifier:WORKDIR'   a classifier trained with configs/classifier.py (trainers.classifier)
  (gan_jax.evaluation.make_extractor picks one by name.)

An extractor maps images [B, H, W, 3] in [-1, 1] to {'features': [B, D], 'logits': [B, C]}.
Only `inception_v3` with the standard weights gives FIDs comparable to papers; every result
records `extractor.description` so a report says which one was used.

Resizing to the extractor's input size follows clean-fid (Parmar et al. 2022): in float, with
an antialiasing filter when shrinking (`resize='clean'`, the default), rather than the
aliasing bilinear resize of pytorch-fid (`resize='legacy_pytorch'`), which changes FID.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import errors
from gan_jax.models import inception

INCEPTION_WEIGHTS_NAME = 'pt_inception-2015-12-05-6726825d.pth'
INCEPTION_WEIGHTS_SHA256_PREFIX = '6726825d'   # torch hub names files by their sha256 prefix
INCEPTION_WEIGHTS_ENV = 'GAN_JAX_INCEPTION_WEIGHTS'
RESIZE_MODES = ('clean', 'legacy_pytorch', 'none')


class MissingWeightsError(errors.UserError, FileNotFoundError):
  """The standard weights of a feature network are not on this machine."""


@dataclasses.dataclass(frozen=True)
class Extractor:
  name: str                   # e.g. 'inception_v3', 'classifier:/path'
  description: str            # what a report prints: network, weights and their hash, resize
  input_size: int             # images are resized to input_size x input_size first
  feature_dim: int
  comparable_to_papers: bool  # True only for the standard FID Inception weights
  apply: Callable[[jax.Array], dict[str, jax.Array]]   # resized [B, S, S, 3] -> features/logits
  weights_hash: str = ''
  resize: str = 'clean'

  def __call__(self, images, mesh: jax.sharding.Mesh | None = None) -> dict[str, np.ndarray]:
    """images [B, H, W, 3] in [-1, 1] (numpy or jax) -> {'features': [B, D], 'logits': [B, C]}.

    With a mesh whose 'data' axis divides B, the batch is split over its devices (same numbers).
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or images.shape[-1] != 3:
      raise ValueError(f'extractor {self.name} needs RGB images [B, H, W, 3], got {images.shape}')
    if mesh is not None and len(images) % mesh.shape['data'] == 0:
      images = jax.device_put(images, jax.sharding.NamedSharding(
          mesh, jax.sharding.PartitionSpec('data')))
    out = self.apply(resize_images(jnp.asarray(images), self.input_size, self.resize))
    return {k: np.asarray(v) for k, v in out.items()}


def resize_images(images: jax.Array, size: int, mode: str = 'clean') -> jax.Array:
  """[B, H, W, 3] -> [B, size, size, 3] in float.

  'clean': bicubic, antialiased when shrinking (clean-fid's recommendation); 'legacy_pytorch':
  bilinear without antialiasing (pytorch-fid's F.interpolate, align_corners=False); 'none':
  the images must already have the size.
  """
  if mode not in RESIZE_MODES:
    raise ValueError(f'resize mode {mode!r}: choose one of {RESIZE_MODES}')
  if images.shape[1:3] == (size, size):
    return images
  if mode == 'none':
    raise ValueError(f'images are {images.shape[1]}x{images.shape[2]} but the extractor needs '
                     f'{size}x{size} and resize is "none"')
  shape = (images.shape[0], size, size, images.shape[-1])
  if mode == 'clean':
    return jax.image.resize(images, shape, method='bicubic', antialias=True)
  return jax.image.resize(images, shape, method='linear', antialias=False)


def file_sha256(path: str, length: int = 12) -> str:
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()[:length]


def find_inception_weights(path: str | None = None) -> str:
  """The FID Inception weight file: `path`, else $GAN_JAX_INCEPTION_WEIGHTS, else
  ~/.cache/gan_jax/pt_inception-2015-12-05-6726825d.pth. Never downloads."""
  candidates = [p for p in (path, os.environ.get(INCEPTION_WEIGHTS_ENV),
                            os.path.expanduser(f'~/.cache/gan_jax/{INCEPTION_WEIGHTS_NAME}')) if p]
  for candidate in candidates:
    if os.path.isfile(candidate):
      return candidate
  raise MissingWeightsError(
      f'The FID Inception-v3 weights are not on this machine (looked at: {candidates}). '
      f'Put pytorch-fid\'s {INCEPTION_WEIGHTS_NAME} (from the pytorch-fid releases page; no torch '
      f'needed to read it) or an .npz made by scripts/convert_inception_weights.py there, or set '
      f'{INCEPTION_WEIGHTS_ENV}. Without them, use extractor "classifier:WORKDIR": its FID is '
      'useful for comparing your own runs but is NOT comparable to FIDs in papers.')


def load_inception_state(path: str) -> tuple[dict[str, np.ndarray], str]:
  """(PyTorch-named state dict, sha256 of the original .pth) from a .pth or a converted .npz."""
  from gan_jax import torch_weights   # pylint: disable=g-import-not-at-top
  if path.endswith('.npz'):
    with np.load(path) as data:
      state = {k: data[k] for k in data.files if k != SOURCE_HASH_KEY}
      source = str(data[SOURCE_HASH_KEY]) if SOURCE_HASH_KEY in data.files else ''
    return state, source
  return torch_weights.load_state_dict(path), file_sha256(path, length=64)


SOURCE_HASH_KEY = '__source_sha256__'


def load_inception_variables(path: str) -> dict:
  """Flax variables of FIDInceptionV3 from a .pth (PyTorch state dict) or .npz (same names)."""
  return inception.inception_variables_from_torch(load_inception_state(path)[0])


def inception_extractor(weights: str | None = None, resize: str = 'clean') -> Extractor:
  """The FID Inception-v3 with weights from `weights` (or the default places, see
  find_inception_weights). Its FID is comparable to papers only with the standard weights."""
  path = find_inception_weights(weights)
  state, source_hash = load_inception_state(path)
  variables = jax.tree.map(jnp.asarray, inception.inception_variables_from_torch(state))
  model = inception.FIDInceptionV3()
  apply = jax.jit(lambda x: _rename(model.apply(variables, x)))
  standard = source_hash.startswith(INCEPTION_WEIGHTS_SHA256_PREFIX)
  return Extractor(
      name='inception_v3', input_size=299, feature_dim=inception.FEATURE_DIM, resize=resize,
      description=f'FID Inception-v3 (2015-12-05 graph), weights {os.path.basename(path)} '
                  f'(sha256 {source_hash[:12] or "unknown"}'
                  f'{"" if standard else ", NOT the standard pt_inception weights"}), '
                  f'pool3 2048-d, resize {resize} to 299',
      comparable_to_papers=standard, apply=apply, weights_hash=source_hash[:12])


def _rename(out: dict) -> dict:
  return {'features': out['pool'], 'logits': out['logits']}
