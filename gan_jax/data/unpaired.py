"""Unpaired two-domain image sets (CycleGAN) and their deterministic loader.

A domain is an ImageSource without labels: source[i] -> {'image': uint8 [S, S, 3], 'label':
float32 [0]}. `make_domain_sources(config.data, split)` gives (domain A, domain B) from:

  domain_folders   <path>/trainA, trainB, testA, testB: the CycleGAN layout (any image files;
                   folder names configurable, e.g. monet/ and photo/ with the last `test_size`
                   images of each held out as the test split)
  cycle_gan        tensorflow-datasets `cycle_gan/<tfds_name>` (splits trainA/trainB/testA/testB)
  synthetic_faces  the embedded faces split by an attribute: A = `attr_a` faces (e.g. Black_Hair),
                   B = `attr_b` faces (e.g. Blond_Hair); no files, no network

Preprocessing is the official 'resize_and_crop': training images are resized to load_size x
load_size (bicubic, aspect not kept, as torchvision's Resize([L, L])), then the loader takes a
random crop_size crop and flips half of them horizontally; test images are resized straight to
crop_size (deterministic, unlike the official test script's random crop).

`UnpairedLoader` gives batches {'a': float32 [b, C, C, 3], 'b': float32 [b, C, C, 3]} in [-1, 1]
as a pure function of (seed, step), like loader.BatchLoader: A and B are drawn independently
(the official serial_batches=False), each in its own shuffled epochs; each process loads only its
rows. Unreadable files are skipped and counted. Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import io
import os
import socket
from typing import Any, Sequence

from absl import logging
import numpy as np
from PIL import Image

from gan_jax import image_io
from gan_jax.data import base
from gan_jax.data import loader as loader_lib

DOMAIN_DATASETS = ('domain_folders', 'cycle_gan', 'synthetic_faces')
SPLITS = ('train', 'test')
DOMAINS = ('a', 'b')

LOCAL_OPTION = ('To use local folders instead: --config.data.name=domain_folders '
                '--config.data.path=/path/to/horse2zebra (a folder with trainA/, trainB/, testA/ '
                'and testB/, as the CycleGAN download unzips, e.g. ../shared/data/horse2zebra).')

_NO_LABEL = np.zeros((0,), np.float32)


def resize_square(image: Image.Image, size: int) -> np.ndarray:
  """PIL RGB image -> uint8 [size, size, 3], bicubic, aspect ratio not kept (official Resize)."""
  if image.size != (size, size):
    image = image.resize((size, size), Image.BICUBIC)
  return np.asarray(image, dtype=np.uint8)


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
  """A uniformly placed size x size crop of image [H, W, 3] (the official RandomCrop)."""
  h, w = image.shape[:2]
  top, left = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
  return image[top:top + size, left:left + size]


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------

def list_image_files(folder: str) -> list[str]:
  """Image file names (by extension) in folder, sorted; other files are ignored."""
  return sorted(f for f in os.listdir(folder)
                if f.lower().endswith(image_io.IMAGE_EXTENSIONS)
                and os.path.isfile(os.path.join(folder, f)))


class DomainFolder:
  """The image files of one folder (a slice of them, sorted by name) as a domain source.

  source[i] -> {'image': uint8 [image_size, image_size, 3], 'label': float32 [0]}; a file that
  cannot be decoded raises base.UnreadableImageError (the loaders skip and count it).
  """

  def __init__(self, folder: str, image_size: int, files: Sequence[str] | None = None):
    self.folder = folder
    self.image_size = int(image_size)
    self.attr_names = ()
    self.files = list(list_image_files(folder) if files is None else files)
    if not self.files:
      raise base.DataConfigError(
          f'{folder} holds no image files ({", ".join(image_io.IMAGE_EXTENSIONS)})')

  def __len__(self) -> int:
    return len(self.files)

  def path_of(self, index: int) -> str:
    return os.path.join(self.folder, self.files[index])

  def __getitem__(self, index: int) -> dict[str, np.ndarray]:
    image = base.load_rgb(self.path_of(index))
    return {'image': resize_square(image, self.image_size), 'label': _NO_LABEL}

  def __repr__(self) -> str:
    return f'DomainFolder({self.folder!r}, {len(self)} images, image_size={self.image_size})'


def _layout_error(path: str, missing: str, data: Any) -> base.DataConfigError:
  return base.DataConfigError(
      f'{missing} is not a folder. config.data.path={path!r} must hold one folder of images per '
      f'domain and split, the CycleGAN layout: trainA/, trainB/, testA/, testB/ (names set by '
      f'config.data.domain_a, domain_b, test_a, test_b: now {data.domain_a!r}, {data.domain_b!r}, '
      f'{data.test_a!r}, {data.test_b!r}). With test_a/test_b = \'\' the last '
      f'config.data.test_size images of each training folder are held out as the test split.')


def domain_folder_sources(data: Any, split: str,
                          image_size: int) -> tuple[DomainFolder, DomainFolder]:
  """(A, B) of `split` from local folders (see the module docstring)."""
  path = data.get('path', '')
  if not path:
    raise base.DataConfigError('config.data.path is empty: set --config.data.path to a folder '
                               'with trainA/, trainB/, testA/ and testB/ (e.g. '
                               '../shared/data/horse2zebra).')
  if not os.path.isdir(path):
    raise base.DataConfigError(f'config.data.path={path!r} does not exist. ' + LOCAL_OPTION)
  sources = []
  for train_name, test_name in ((data.domain_a, data.test_a), (data.domain_b, data.test_b)):
    train_folder = os.path.join(path, train_name)
    if split == 'test' and test_name:
      folder = os.path.join(path, test_name)
      if not os.path.isdir(folder):
        raise _layout_error(path, folder, data)
      sources.append(DomainFolder(folder, image_size))
      continue
    if not os.path.isdir(train_folder):
      raise _layout_error(path, train_folder, data)
    files = list_image_files(train_folder)
    if not test_name:   # hold out the last test_size files as the test split
      held_out = int(data.get('test_size', 0))
      if not 0 < held_out < len(files):
        raise base.DataConfigError(
            f'{train_folder} has {len(files)} images and no test folder (config.data.test_a/'
            f'test_b empty): config.data.test_size={held_out} must be in [1, {len(files) - 1}] '
            f'to hold out that many as the test split.')
      files = files[-held_out:] if split == 'test' else files[:-held_out]
    sources.append(DomainFolder(train_folder, image_size, files))
  logging.info('Unpaired %s split: A %r, B %r', split, sources[0], sources[1])
  return sources[0], sources[1]


class SyntheticDomain:
  """Embedded synthetic faces that have attribute `attr` (e.g. all the Black_Hair faces).

  source[i] -> {'image': uint8 [image_size, image_size, 3], 'label': float32 [0]}: the i-th face
  of the (seed, split) stream of SyntheticFaces with that attribute.
  """

  def __init__(self, attr: str, image_size: int, num_examples: int, seed: int = 0,
               split: str = 'train'):
    from gan_jax.data import synthetic_faces   # pylint: disable=g-import-not-at-top
    self.attr_names = ()
    self.attr = attr
    self.image_size = int(image_size)
    # Enough candidates for any attribute with probability >= 5%.
    self._faces = synthetic_faces.SyntheticFaces(image_size, (attr,), 40 * int(num_examples),
                                                 seed=seed, split=split)
    self._indices = []
    for index in range(len(self._faces)):
      if len(self._indices) == num_examples:
        break
      if synthetic_faces.face_labels(self._faces.params(index), (attr,))[0]:
        self._indices.append(index)
    if len(self._indices) < num_examples:
      raise base.DataConfigError(f'synthetic_faces: attribute {attr} is too rare for '
                                 f'{num_examples} examples')

  def __len__(self) -> int:
    return len(self._indices)

  def __getitem__(self, index: int) -> dict[str, np.ndarray]:
    return {'image': self._faces[self._indices[index]]['image'], 'label': _NO_LABEL}


def synthetic_sources(data: Any, split: str,
                      image_size: int) -> tuple[SyntheticDomain, SyntheticDomain]:
  from gan_jax.data import synthetic_faces   # pylint: disable=g-import-not-at-top
  attrs = (data.attr_a, data.attr_b)
  base.check_attr_names(list(attrs), synthetic_faces.ALL_ATTRS, 'synthetic_faces')
  num = data.num_examples if split == 'train' else data.num_test_examples
  if int(num) <= 0:
    raise base.DataConfigError(f'synthetic_faces needs num_examples and num_test_examples > 0, '
                               f'got {num} for the {split} split')
  return tuple(SyntheticDomain(attr, image_size, num, seed=data.seed, split=split)
               for attr in attrs)


# tfds cycle_gan -------------------------------------------------------------------------------

_DOWNLOAD_HOST = ('efrosgans.eecs.berkeley.edu', 443)   # the builder's _DL_URL
_CONNECT_TIMEOUT_S = 5.0
_PROXY_VARIABLES = ('HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy')


def _download_host_error() -> str | None:
  """Why the dataset host is unreachable, or None (reachable, or a proxy is configured)."""
  if any(os.environ.get(v) for v in _PROXY_VARIABLES):
    return None
  try:
    with socket.create_connection(_DOWNLOAD_HOST, timeout=_CONNECT_TIMEOUT_S):
      return None
  except OSError as e:
    return f'{_DOWNLOAD_HOST[0]}:{_DOWNLOAD_HOST[1]} is unreachable: {type(e).__name__}: {e}'


def open_cycle_gan(name: str, split: str, data_dir: str | None, download: bool):
  """tfds `cycle_gan/<name>` split (trainA, trainB, testA or testB) as a random-access sequence
  of examples with encoded 'image' bytes; DataConfigError, quickly, when it is not available."""
  from gan_jax.data import celeba   # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds   # pylint: disable=g-import-not-at-top
  celeba.hide_gpus_from_tensorflow()
  dataset = f'cycle_gan/{name}'
  open_split = lambda: tfds.data_source(dataset, split=split, data_dir=data_dir, download=False,
                                        try_gcs=False,
                                        decoders={'image': tfds.decode.SkipDecoding()})
  try:
    return open_split()
  except Exception as e:   # pylint: disable=broad-except  (explained below)
    error = e
  where = data_dir or f'{tfds.core.constants.DATA_DIR} (the TFDS default data dir)'
  try:
    builder = tfds.builder(dataset, data_dir=data_dir, try_gcs=False,
                           file_format='array_record')
    prepared = builder.is_prepared()
  except Exception as e:   # pylint: disable=broad-except  (e.g. an unknown name)
    raise base.DataConfigError(f'tfds {dataset}: {type(e).__name__}: {e}. {LOCAL_OPTION}') from e
  if prepared:
    raise base.DataConfigError(f'tfds {dataset} in {where} could not be opened by index '
                               f'({type(error).__name__}: {error}); prepare it as ArrayRecord. '
                               f'{LOCAL_OPTION}') from error
  unreachable = _download_host_error() if download else 'download=False (--config.data.download)'
  if unreachable:
    raise base.DataConfigError(f'tfds {dataset} is not prepared in {where} and this machine will '
                               f'not download it: {unreachable}. {LOCAL_OPTION}') from error
  logging.info('Downloading and preparing tfds %s into %s', dataset, where)
  try:
    builder.download_and_prepare()
    return open_split()
  except Exception as e:   # pylint: disable=broad-except  (any failure: explain and chain it)
    raise base.DataConfigError(f'downloading tfds {dataset} failed: {type(e).__name__}: {e}. '
                               f'{LOCAL_OPTION}') from e
  finally:
    celeba.hide_gpus_from_tensorflow()


class TfdsDomain:
  """One split of tfds cycle_gan/<name> as a domain source (images resized to image_size)."""

  def __init__(self, name: str, split: str, image_size: int, data_dir: str | None = None,
               download: bool = False):
    self.attr_names = ()
    self.image_size = int(image_size)
    self.where = f'tfds cycle_gan/{name} {split}'
    self._source = open_cycle_gan(name, split, data_dir, download)

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, index: int) -> dict[str, np.ndarray]:
    index = int(index)
    if not 0 <= index < len(self):
      raise IndexError(f'index {index} out of range for {len(self)} examples')
    where = f'{self.where}[{index}]'
    try:
      image = base.load_rgb(io.BytesIO(self._source[index]['image']))
    except base.UnreadableImageError as e:
      raise base.UnreadableImageError(where, e.reason) from None
    return {'image': resize_square(image, self.image_size), 'label': _NO_LABEL}

  def __repr__(self) -> str:
    return f'TfdsDomain({self.where}, {len(self)} images, image_size={self.image_size})'


def tfds_sources(data: Any, split: str, image_size: int) -> tuple[TfdsDomain, TfdsDomain]:
  suffix = 'train' if split == 'train' else 'test'
  return tuple(TfdsDomain(data.tfds_name, f'{suffix}{d}', image_size,
                          data_dir=data.get('tfds_data_dir') or None,
                          download=data.get('download', False)) for d in ('A', 'B'))


# ---------------------------------------------------------------------------------------------
# Config -> sources
# ---------------------------------------------------------------------------------------------

def check_sizes(data: Any) -> None:
  """DataConfigError unless 0 < crop_size <= load_size."""
  if not 0 < data.crop_size <= data.load_size:
    raise base.DataConfigError(f'config.data.crop_size={data.crop_size} must be in (0, '
                               f'load_size={data.load_size}]: training crops crop_size squares '
                               f'out of images resized to load_size.')


def make_domain_sources(data: Any, split: str) -> tuple[Any, Any]:
  """(domain A, domain B) of `split` at load_size (train) or crop_size (test)."""
  if split not in SPLITS:
    raise base.DataConfigError(f'split must be one of {SPLITS}, got {split!r}')
  check_sizes(data)
  size = data.load_size if split == 'train' else data.crop_size
  if data.name == 'domain_folders':
    return domain_folder_sources(data, split, size)
  if data.name == 'cycle_gan':
    return tfds_sources(data, split, size)
  if data.name == 'synthetic_faces':
    return synthetic_sources(data, split, size)
  raise base.DataConfigError(f'unknown dataset config.data.name={data.name!r} for unpaired '
                             f'translation; choose one of {DOMAIN_DATASETS}')


def describe(data: Any, split: str, domain: str) -> str:
  """A stable description of one domain's split (for reference-statistics cache keys)."""
  a_or_b = domain.upper()
  if data.name == 'domain_folders':
    train_name, test_name = ((data.domain_a, data.test_a) if domain == 'a' else
                             (data.domain_b, data.test_b))
    folder = test_name if split == 'test' and test_name else train_name
    held_out = '' if test_name else f', test_size={data.test_size}'
    return f'domain_folders({os.path.abspath(os.path.join(data.path, folder))}{held_out})'
  if data.name == 'cycle_gan':
    return f'cycle_gan/{data.tfds_name}({data.get("tfds_data_dir", "")}, {split}{a_or_b})'
  attr = data.attr_a if domain == 'a' else data.attr_b
  num = data.num_examples if split == 'train' else data.num_test_examples
  return f'synthetic_faces({attr}, seed={data.seed}, n={num}, {split})'


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

class DomainLoader(loader_lib.BatchLoader):
  """BatchLoader of one domain plus the official random crop: batches {'image': float32 [b, C,
  C, 3] in [-1, 1], ...}. The crop of stream position p is drawn from (seed, p), so it is
  resumable exactly like the order and flips."""

  def __init__(self, source, global_batch_size: int, seed: int, crop_size: int,
               rows: slice | None = None, num_threads: int = 2):
    super().__init__(source, global_batch_size, seed, rows=rows, num_threads=num_threads)
    self.crop_size = crop_size

  def _load_position(self, position: int) -> tuple[np.ndarray, np.ndarray]:
    image, label = super()._load_position(position)
    rng = np.random.default_rng([self.seed, 1, position])
    return random_crop(image, self.crop_size, rng), label


class UnpairedLoader:
  """Batches {'a': float32 [b, C, C, 3], 'b': float32 [b, C, C, 3]} in [-1, 1] by step.

  Domain A's stream is DomainLoader(seed 2*seed), B's DomainLoader(seed 2*seed + 1): independent
  orders, flips and crops, each a pure function of (seed, step). b = this process's rows.
  """

  def __init__(self, source_a, source_b, global_batch_size: int, seed: int, crop_size: int,
               rows: slice | None = None, num_threads: int = 4):
    threads = max(1, num_threads // 2)
    self.domains = {'a': DomainLoader(source_a, global_batch_size, 2 * seed, crop_size, rows,
                                      threads),
                    'b': DomainLoader(source_b, global_batch_size, 2 * seed + 1, crop_size, rows,
                                      threads)}

  @property
  def unreadable(self) -> dict[str, dict[int, str]]:
    """Per domain, index -> 'path: reason' of every example skipped so far."""
    return {name: loader.unreadable for name, loader in self.domains.items()}

  def load(self, step: int) -> dict[str, np.ndarray]:
    """This process's rows of batch `step`."""
    return {name: loader.load(step)['image'] for name, loader in self.domains.items()}

  # The background prefetching of BatchLoader, which only calls self.load(step).
  iterate = loader_lib.BatchLoader.iterate


def first_images(source, count: int) -> np.ndarray:
  """The first `count` readable images of a source in order: float32 [n, S, S, 3] in [-1, 1]."""
  batch = next(loader_lib.ordered_batches(source, count), None)
  if batch is None:
    raise base.DataConfigError(f'no readable image in {source!r}')
  return batch['image']
