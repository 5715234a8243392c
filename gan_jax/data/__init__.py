"""Datasets by name: `make_source(config.data, split)` -> a random-access ImageSource.

Names:
  synthetic_faces  procedurally drawn cartoon faces with exact attribute labels (embedded default)
  celeba_folder    CelebA in its official layout on disk (config.data.path)
  celeb_a          tensorflow-datasets `celeb_a` (downloads on machines with internet)
  class_folders    <path>/<split>/<class>/* or <path>/<split>.zip (CIFAR-10 as in shared/data)
  mnist            MNIST idx files (train-/t10k-images-idx3-ubyte[.gz] and labels) in <path>
"""

from __future__ import annotations

from typing import Any

from gan_jax.data.base import DataConfigError, ImageSource, UnreadableImageError

DATASETS = ('synthetic_faces', 'celeba_folder', 'celeb_a', 'class_folders', 'mnist')
SPLITS = ('train', 'test')


def make_source(data: Any, split: str) -> ImageSource:
  """Builds the dataset `data.name` for `split`; every config error is raised here, early."""
  if split not in SPLITS:
    raise DataConfigError(f'split must be one of {SPLITS}, got {split!r}')
  attrs = tuple(data.attrs)
  if data.name == 'synthetic_faces':
    from gan_jax.data import synthetic_faces
    num = data.num_examples if split == 'train' else data.num_test_examples
    return synthetic_faces.SyntheticFaces(data.image_size, attrs, num, seed=data.seed, split=split)
  if data.name == 'celeba_folder':
    from gan_jax.data import celeba
    if not data.get('path'):
      raise DataConfigError('config.data.path is empty: set --config.data.path to a CelebA folder '
                            '(img_align_celeba/ + list_attr_celeba.txt).')
    return celeba.CelebAFolder(data.path, attrs, data.image_size, crop=data.crop, split=split,
                               test_size=data.test_size, image_dir=data.get('image_dir') or None,
                               attr_file=data.get('attr_file') or None)
  if data.name == 'celeb_a':
    from gan_jax.data import celeba
    return celeba.TfdsCelebA(attrs, data.image_size, crop=data.crop, split=split,
                             data_dir=data.get('tfds_data_dir') or None,
                             download=data.get('download', False))
  if data.name == 'class_folders':
    from gan_jax.data import class_folders
    if not data.get('path'):
      raise DataConfigError('config.data.path is empty: set --config.data.path to a folder with '
                            'train/ and test/ class folders (or train.zip, test.zip).')
    return class_folders.ClassFolders(data.path, split, data.image_size, attrs)
  if data.name == 'mnist':
    from gan_jax.data import mnist
    if not data.get('path'):
      raise DataConfigError('config.data.path is empty: set --config.data.path to the folder '
                            'with the MNIST idx files.')
    return mnist.mnist_source(data.path, split, data.image_size, attrs)
  raise DataConfigError(f'unknown dataset config.data.name={data.name!r}; choose one of {DATASETS}')


def crop_fraction(data: Any) -> float:
  """Side of the centred square crop relative to the shorter image side, as in training."""
  if data.name in ('celeba_folder', 'celeb_a'):
    from gan_jax.data import celeba
    return celeba.crop_fraction(data.crop)
  return 1.0


__all__ = ['DATASETS', 'DataConfigError', 'ImageSource', 'UnreadableImageError', 'crop_fraction',
           'make_source']
