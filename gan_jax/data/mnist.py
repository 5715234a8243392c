"""MNIST (and Fashion-MNIST) in the official idx format: images and labels of one split.

    <path>/train-images-idx3-ubyte[.gz]  <path>/train-labels-idx1-ubyte[.gz]
    <path>/t10k-images-idx3-ubyte[.gz]   <path>/t10k-labels-idx1-ubyte[.gz]

The 28x28 grey digits are resized (bicubic, antialiased) to image_size and repeated over three
channels, so every model of the codebase takes them as they are; labels are one-hot over the
digits ('0'..'9', or the subset in `attrs`).
"""

from __future__ import annotations

import gzip
import os
import struct
from typing import Sequence

import numpy as np
from PIL import Image

from gan_jax.data import base

DIGITS = tuple(str(d) for d in range(10))
_PREFIX = {'train': 'train', 'test': 't10k'}


def read_idx(path: str) -> np.ndarray:
  """An idx file (gzip or raw) as a uint8 array of its stated shape; DataConfigError if bad."""
  opener = gzip.open if path.endswith('.gz') else open
  try:
    with opener(path, 'rb') as f:
      data = f.read()
  except (OSError, EOFError) as e:
    raise base.DataConfigError(f'cannot read idx file {path}: {e}') from None
  if len(data) < 4 or data[:2] != b'\0\0' or data[2] != 0x08:
    raise base.DataConfigError(f'{path} is not an unsigned-byte idx file (bad magic number)')
  ndim = data[3]
  shape = struct.unpack(f'>{ndim}I', data[4:4 + 4 * ndim])
  body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
  if body.size != int(np.prod(shape)):
    raise base.DataConfigError(f'{path}: header says {shape} ({int(np.prod(shape))} bytes) but '
                               f'holds {body.size}; the file is truncated or corrupt')
  return body.reshape(shape)


def _find(path: str, stem: str) -> str:
  for name in (stem, stem + '.gz'):
    candidate = os.path.join(path, name)
    if os.path.exists(candidate):
      return candidate
  raise base.DataConfigError(f'no {stem}[.gz] in {path!r}: set config.data.path to a folder with '
                             'the MNIST idx files')


def load_split(path: str, split: str) -> tuple[np.ndarray, np.ndarray]:
  """(images uint8 [N, 28, 28], labels uint8 [N]) of 'train' or 'test'."""
  prefix = _PREFIX[split]
  images = read_idx(_find(path, f'{prefix}-images-idx3-ubyte'))
  labels = read_idx(_find(path, f'{prefix}-labels-idx1-ubyte'))
  if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
    raise base.DataConfigError(f'MNIST {split} in {path}: images {images.shape} and labels '
                               f'{labels.shape} do not match')
  return images, labels


def mnist_source(path: str, split: str, image_size: int,
                 attrs: Sequence[str] = ()) -> base.ArraySource:
  """The split as an in-memory ArraySource (RGB uint8 [N, S, S, 3], one-hot digit labels)."""
  wanted = tuple(attrs) or DIGITS
  base.check_attr_names(list(wanted), list(DIGITS), f'mnist:{path}')
  images, labels = load_split(path, split)
  keep = np.isin(labels, [int(d) for d in wanted])
  images, labels = images[keep], labels[keep]
  if image_size != images.shape[1]:
    images = np.stack([np.asarray(Image.fromarray(x).resize((image_size, image_size),
                                                            Image.BICUBIC)) for x in images])
  onehot = (labels[:, None] == np.asarray([int(d) for d in wanted])[None]).astype(np.float32)
  return base.ArraySource(np.repeat(images[..., None], 3, axis=-1), onehot, wanted)
