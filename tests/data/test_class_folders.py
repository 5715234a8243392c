"""Class-folder datasets (CIFAR-10 layout): folders and zips, labels, bad files, errors."""

import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from gan_jax import data as data_lib
from gan_jax.data import base
from gan_jax.data import class_folders
from gan_jax.data import loader

SHARED_CIFAR = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data',
                            'cifar10')


def _write_split(root, split, per_class=3, corrupt=False):
  rng = np.random.default_rng(0)
  for c, name in enumerate(('cat', 'dog', 'ship')):
    folder = os.path.join(root, split, name)
    os.makedirs(folder)
    for i in range(per_class):
      colour = np.full((40, 30, 3), 60 * c + i, np.uint8) + rng.integers(0, 3, (40, 30, 3),
                                                                         dtype=np.uint8)
      Image.fromarray(colour).save(os.path.join(folder, f'{i:04d}.png'))
  if corrupt:
    with open(os.path.join(root, split, 'dog', 'broken.jpg'), 'wb') as f:
      f.write(b'not a jpeg')


def test_folder_and_zip_give_the_same_examples(tmp_path):
  _write_split(str(tmp_path / 'a'), 'train')
  with zipfile.ZipFile(tmp_path / 'b_train.zip', 'w') as z:
    for root, _, names in os.walk(tmp_path / 'a' / 'train'):
      for name in names:
        full = os.path.join(root, name)
        z.write(full, os.path.relpath(full, tmp_path / 'a'))
  os.makedirs(tmp_path / 'b')
  os.replace(tmp_path / 'b_train.zip', tmp_path / 'b' / 'train.zip')
  folder = class_folders.ClassFolders(str(tmp_path / 'a'), 'train', 16)
  archive = class_folders.ClassFolders(str(tmp_path / 'b'), 'train', 16)
  assert folder.attr_names == archive.attr_names == ('cat', 'dog', 'ship')
  assert len(folder) == len(archive) == 9
  for i in range(9):
    a, b = folder[i], archive[i]
    np.testing.assert_array_equal(a['image'], b['image'])
    np.testing.assert_array_equal(a['label'], b['label'])
    assert a['image'].shape == (16, 16, 3) and a['label'].sum() == 1.0
  assert folder[4]['label'].tolist() == [0.0, 1.0, 0.0]         # sorted: cat, dog, ship


def test_class_subset_order_and_errors(tmp_path):
  _write_split(str(tmp_path), 'test', corrupt=True)
  source = class_folders.ClassFolders(str(tmp_path), 'test', 8, attrs=('ship', 'cat'))
  assert len(source) == 6 and source[0]['label'].tolist() == [0.0, 1.0]   # cat is column 1
  full = data_lib.make_source(_data_config(str(tmp_path)), 'test')
  batches = list(loader.ordered_batches(full, 4))                  # the broken file is skipped
  assert sum(len(b['image']) for b in batches) == 9
  with pytest.raises(base.DataConfigError, match='Unknown attribute'):
    class_folders.ClassFolders(str(tmp_path), 'test', 8, attrs=('horse',))
  with pytest.raises(base.DataConfigError, match="no 'train' split"):
    class_folders.ClassFolders(str(tmp_path), 'train', 8)


def _data_config(path):
  import ml_collections
  return ml_collections.ConfigDict(dict(name='class_folders', path=path, image_size=8, attrs=()))


def test_reads_the_shared_cifar10_layout():
  if not os.path.isdir(SHARED_CIFAR):
    pytest.skip('../shared/data/cifar10 is on the development machines only')
  test = class_folders.ClassFolders(SHARED_CIFAR, 'test', 32)
  assert len(test) == 10_000 and len(test.attr_names) == 10
  example = test[0]
  assert example['image'].shape == (32, 32, 3) and example['label'][0] == 1.0   # airplane
  train = class_folders.ClassFolders(SHARED_CIFAR, 'train', 32)             # train.zip
  assert len(train) == 50_000 and train[49_999]['label'][-1] == 1.0          # truck
