import gzip
import os
import struct

import numpy as np
import pytest

from gan_jax import data as data_lib
from gan_jax.data import base
from gan_jax.data import mnist

SHARED_MNIST = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data', 'mnist')


def write_idx(path, array, compress):
  header = struct.pack('>BBBB', 0, 0, 0x08, array.ndim) + struct.pack(f'>{array.ndim}I',
                                                                      *array.shape)
  opener = gzip.open if compress else open
  with opener(path, 'wb') as f:
    f.write(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize('compress', [True, False])
def test_reads_idx_files_written_in_the_official_format(tmp_path, compress):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
  labels = np.asarray([3, 1, 4, 1, 5], np.uint8)
  suffix = '.gz' if compress else ''
  write_idx(str(tmp_path / f'train-images-idx3-ubyte{suffix}'), images, compress)
  write_idx(str(tmp_path / f'train-labels-idx1-ubyte{suffix}'), labels, compress)
  got_images, got_labels = mnist.load_split(str(tmp_path), 'train')
  np.testing.assert_array_equal(got_images, images)
  np.testing.assert_array_equal(got_labels, labels)
  source = mnist.mnist_source(str(tmp_path), 'train', 28, ('1', '5'))
  assert len(source) == 3 and source.attr_names == ('1', '5')
  item = source[2]
  assert item['image'].shape == (28, 28, 3) and item['image'].dtype == np.uint8
  np.testing.assert_array_equal(item['image'][..., 0], images[4])
  np.testing.assert_array_equal(item['image'][..., 1], images[4])   # grey over 3 channels
  np.testing.assert_array_equal(item['label'], [0.0, 1.0])
  assert mnist.mnist_source(str(tmp_path), 'train', 32)[0]['image'].shape == (32, 32, 3)


def test_corrupt_or_missing_files_are_clear_errors(tmp_path):
  with pytest.raises(base.DataConfigError, match='no train-images-idx3-ubyte'):
    mnist.load_split(str(tmp_path), 'train')
  (tmp_path / 'train-images-idx3-ubyte').write_bytes(b'\x00\x00\x08\x03' + struct.pack('>3I', 2, 28, 28) + b'\x00' * 100)
  with pytest.raises(base.DataConfigError, match='truncated'):
    mnist.read_idx(str(tmp_path / 'train-images-idx3-ubyte'))
  (tmp_path / 'bad').write_bytes(b'PK\x03\x04 not an idx file')
  with pytest.raises(base.DataConfigError, match='magic'):
    mnist.read_idx(str(tmp_path / 'bad'))
  with pytest.raises(base.DataConfigError, match='Unknown attribute'):
    mnist.mnist_source(str(tmp_path), 'train', 28, ('seven',))


@pytest.mark.skipif(not os.path.isdir(SHARED_MNIST), reason='../shared/data/mnist not present')
def test_the_official_test_files_through_make_source():
  from configs import dcgan as dcgan_config   # pylint: disable=g-import-not-at-top
  config = dcgan_config.get_config('mnist')
  config.data.path = SHARED_MNIST
  source = data_lib.make_source(config.data, 'test')
  assert len(source) == 10_000 and source.attr_names == mnist.DIGITS
  labels = np.stack([source[i]['label'] for i in range(0, 10_000, 500)])
  assert labels.sum() == 20 and np.all(labels.sum(axis=1) == 1)
  np.testing.assert_array_equal(np.argmax(labels[:1], axis=1), [7])   # the first test digit is 7
