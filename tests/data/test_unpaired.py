"""Unpaired domains (CycleGAN): local folders, held-out test splits, the embedded faces, tfds
cycle_gan through mock_data, and the deterministic resize-crop-flip loader."""

import os
import subprocess
import sys
import time

import chex
import ml_collections
import numpy as np
import pytest
from PIL import Image

from configs import cyclegan as cyclegan_config
from gan_jax.data import base
from gan_jax.data import loader as loader_lib
from gan_jax.data import synthetic_faces
from gan_jax.data import unpaired

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(REPO_ROOT, '..', 'shared', 'data')


def data_config(**overrides) -> ml_collections.ConfigDict:
  data = cyclegan_config.get_config().data
  data.update({'name': 'domain_folders', 'load_size': 20, 'crop_size': 16, **overrides})
  return data


def write_domains(root, counts=(('trainA', 5), ('trainB', 4), ('testA', 2), ('testB', 3)),
                  corrupt_in='trainA'):
  """Images of distinct flat colours (value 10 * folder + i) in several sizes and modes, a
  non-image file, and one corrupt .jpg in `corrupt_in`."""
  for f, (folder, count) in enumerate(counts):
    path = os.path.join(root, folder)
    os.makedirs(path)
    for i in range(count):
      value = 10 * f + i
      mode, size = (('L', (30, 24)) if i == 1 else ('RGBA', (24, 24)) if i == 2 else
                    ('RGB', (24, 30)))
      colour = value if mode == 'L' else (value,) * 3 + ((255,) if mode == 'RGBA' else ())
      Image.new(mode, size, colour).save(os.path.join(path, f'{i:03d}.png'))
    with open(os.path.join(path, 'notes.txt'), 'w') as notes:
      notes.write('not an image')
  with open(os.path.join(root, corrupt_in, 'zzz_broken.jpg'), 'wb') as broken:
    broken.write(b'not a jpeg')


def test_folders_give_resized_domains_and_skip_unreadable_files(tmp_path):
  write_domains(str(tmp_path))
  data = data_config(path=str(tmp_path))
  train_a, train_b = unpaired.make_domain_sources(data, 'train')
  test_a, test_b = unpaired.make_domain_sources(data, 'test')
  assert (len(train_a), len(train_b), len(test_a), len(test_b)) == (6, 4, 2, 3)   # + broken
  example = train_a[1]
  chex.assert_shape(example['image'], (20, 20, 3))    # load_size; greyscale made RGB
  chex.assert_type(example['image'], np.uint8)
  assert example['label'].shape == (0,)
  assert test_b[2]['image'].shape == (16, 16, 3)       # test: crop_size
  assert int(test_b[2]['image'][0, 0, 0]) == 32        # folder 3, image 2
  with pytest.raises(base.UnreadableImageError, match='zzz_broken.jpg'):
    train_a[5]
  loader = unpaired.UnpairedLoader(train_a, train_b, 4, seed=0, crop_size=16)
  batches = [loader.load(step) for step in range(3)]   # 12 draws from 6 files: meets the broken one
  assert [train_a.path_of(5) in what for what in loader.unreadable['a'].values()] == [True]
  assert not loader.unreadable['b']
  for batch in batches:
    assert set(batch) == {'a', 'b'}
    for images in batch.values():
      chex.assert_shape(images, (4, 16, 16, 3))
      chex.assert_type(images, np.float32)
      assert images.min() >= -1 and images.max() <= 1
  # Domain A's images are the five readable ones (flat colours 0..4), B's 10..13.
  values_a = {int(round((v + 1) * 127.5)) for b in batches for v in b['a'][:, 8, 8, 0]}
  assert values_a <= {0, 1, 2, 3, 4}
  values_b = {int(round((v + 1) * 127.5)) for b in batches for v in b['b'][:, 8, 8, 0]}
  assert values_b <= {10, 11, 12, 13}


def test_loader_is_a_pure_function_of_seed_and_step(tmp_path):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 255, (7, 20, 20, 3), np.uint8)
  source_a = base.ArraySource(images, np.zeros((7, 0), np.float32), ())
  source_b = base.ArraySource(images[::-1].copy(), np.zeros((7, 0), np.float32), ())
  make = lambda seed, rows=None: unpaired.UnpairedLoader(source_a, source_b, 4, seed, 16, rows)
  loader = make(0)
  batches = [loader.load(step) for step in range(6)]
  resumed = make(0).iterate(3)
  for step in range(3, 6):
    chex.assert_trees_all_equal(next(resumed), batches[step])
  resumed.close()
  other = make(1).load(0)
  assert not np.array_equal(other['a'], batches[0]['a'])
  # Each process loads its rows of the global batch.
  halves = [make(0, slice(0, 2)).load(4), make(0, slice(2, 4)).load(4)]
  for name in ('a', 'b'):
    np.testing.assert_array_equal(np.concatenate([h[name] for h in halves]), batches[4][name])
  # Random crops: 16 px windows of the 20 px images, at several offsets; flips.
  crops = {(d, s, j): batches[s][d][j] for d in 'ab' for s in range(6) for j in range(4)}
  offsets = set()
  for (d, s, j), crop in crops.items():
    source = images if d == 'a' else images[::-1]
    target = np.round((crop + 1) * 127.5).astype(np.uint8)
    found = [(k, t, l, f) for k in range(7) for f in (False, True) for t in range(5)
             for l in range(5)
             if np.array_equal((source[k][:, ::-1] if f else source[k])[t:t + 16, l:l + 16],
                               target)]
    assert found, (d, s, j)
    offsets.add(found[0][1:])
  assert len(offsets) > 5


def test_missing_folder_names_the_layout(tmp_path):
  write_domains(str(tmp_path), counts=(('trainA', 2), ('testA', 1)))
  with pytest.raises(base.DataConfigError, match=r'trainB.*trainA/, trainB/, testA/, testB/'):
    unpaired.make_domain_sources(data_config(path=str(tmp_path)), 'train')
  with pytest.raises(base.DataConfigError, match='does not exist'):
    unpaired.make_domain_sources(data_config(path=str(tmp_path / 'nope')), 'train')
  with pytest.raises(base.DataConfigError, match='config.data.path is empty'):
    unpaired.make_domain_sources(data_config(), 'train')
  with pytest.raises(base.DataConfigError, match='crop_size=16 must be in'):
    unpaired.make_domain_sources(data_config(path=str(tmp_path), load_size=12), 'train')


def test_domain_folders_without_test_folders_hold_out_the_last_images(tmp_path):
  write_domains(str(tmp_path), counts=(('monet', 5), ('photo', 6)), corrupt_in='photo')
  data = data_config(path=str(tmp_path), domain_a='monet', domain_b='photo', test_a='',
                     test_b='', test_size=2)
  train_a, train_b = unpaired.make_domain_sources(data, 'train')
  test_a, test_b = unpaired.make_domain_sources(data, 'test')
  assert train_a.files == ['000.png', '001.png', '002.png'] and test_a.files == ['003.png',
                                                                                '004.png']
  assert len(train_b) == 5 and test_b.files == ['005.png', 'zzz_broken.jpg']
  assert 'test_size=2' in unpaired.describe(data, 'test', 'a')
  data.test_size = 5
  with pytest.raises(base.DataConfigError, match=r'test_size=5 must be in \[1, 4\]'):
    unpaired.make_domain_sources(data, 'train')


def test_synthetic_domains_are_faces_with_each_attribute():
  data = cyclegan_config.get_config('smoke').data
  source_a, source_b = unpaired.make_domain_sources(data, 'train')
  assert len(source_a) == len(source_b) == data.num_examples
  chex.assert_shape(source_a[0]['image'], (data.load_size, data.load_size, 3))
  faces = synthetic_faces.SyntheticFaces(16, ('Black_Hair', 'Blond_Hair'), 10_000, seed=data.seed)
  for source, column in ((source_a, 0), (source_b, 1)):
    labels = [synthetic_faces.face_labels(faces.params(i), faces.attr_names)
              for i in source._indices]   # pylint: disable=protected-access
    assert all(label[column] == 1 and label.sum() == 1 for label in labels)
  test_a, _ = unpaired.make_domain_sources(data, 'test')
  assert len(test_a) == data.num_test_examples
  assert test_a[0]['image'].shape == (data.crop_size, data.crop_size, 3)
  data.attr_b = 'Blonde'
  with pytest.raises(base.DataConfigError, match='Blonde'):
    unpaired.make_domain_sources(data, 'train')


def test_importing_the_module_does_not_import_tensorflow():
  code = ('import sys, gan_jax.data.unpaired; '
          'assert "tensorflow" not in sys.modules and "tensorflow_datasets" not in sys.modules')
  subprocess.run([sys.executable, '-c', code], check=True, cwd=REPO_ROOT)


def test_tfds_cycle_gan_mock_data(tmp_path):
  tfds = pytest.importorskip('tensorflow_datasets')
  data = data_config(name='cycle_gan', tfds_name='horse2zebra', tfds_data_dir=str(tmp_path))
  with tfds.testing.mock_data(num_examples=5):
    train_a, train_b = unpaired.make_domain_sources(data, 'train')
    test_a, _ = unpaired.make_domain_sources(data, 'test')
    assert len(train_a) == len(train_b) == len(test_a) == 5
    assert 'trainA' in repr(train_a) and 'testA' in repr(test_a)
    chex.assert_shape(train_b[4]['image'], (20, 20, 3))
    chex.assert_shape(test_a[0]['image'], (16, 16, 3))
    batch = unpaired.UnpairedLoader(train_a, train_b, 2, 0, 16).load(0)
    chex.assert_shape(batch['b'], (2, 16, 16, 3))


def test_tfds_offline_error_is_fast_and_names_the_local_option(tmp_path):
  pytest.importorskip('tensorflow_datasets')
  start = time.perf_counter()
  data = data_config(name='cycle_gan', tfds_data_dir=str(tmp_path), download=False)
  with pytest.raises(base.DataConfigError) as e:
    unpaired.make_domain_sources(data, 'train')
  assert time.perf_counter() - start < 5.0
  message = str(e.value)
  assert 'tfds cycle_gan/horse2zebra is not prepared' in message and 'download=False' in message
  assert '--config.data.name=domain_folders --config.data.path=' in message


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, 'horse2zebra')),
                    reason='../shared/data/horse2zebra is not here')
def test_shared_horse2zebra_and_monet2photo():
  for variant, sizes in (('horse2zebra', (356, 400, 60, 70)), ('monet2photo', (225, 775, 25, 25))):
    config = cyclegan_config.get_config(variant)
    config.data.path = os.path.join(SHARED, variant)
    train = unpaired.make_domain_sources(config.data, 'train')
    test = unpaired.make_domain_sources(config.data, 'test')
    assert tuple(len(s) for s in train + test) == sizes
    image = unpaired.first_images(test[1], 1)
    chex.assert_shape(image, (1, config.data.crop_size, config.data.crop_size, 3))


def test_first_images_skips_unreadable_ones(tmp_path):
  write_domains(str(tmp_path), counts=(('testA', 2),), corrupt_in='testA')
  os.rename(tmp_path / 'testA' / 'zzz_broken.jpg', tmp_path / 'testA' / '000_broken.jpg')
  source = unpaired.DomainFolder(str(tmp_path / 'testA'), 8)
  assert unpaired.first_images(source, 2).shape == (2, 8, 8, 3)
  assert len(list(loader_lib.ordered_batches(source, 8))[0]['image']) == 2


def test_tfds_download_without_network_fails_fast(tmp_path, monkeypatch):
  pytest.importorskip('tensorflow_datasets')
  monkeypatch.setattr(unpaired, '_download_host_error',
                      lambda: 'efrosgans.eecs.berkeley.edu:443 is unreachable: gaierror')
  data = data_config(name='cycle_gan', tfds_data_dir=str(tmp_path), download=True)
  start = time.perf_counter()
  with pytest.raises(base.DataConfigError,
                     match='will not download it: .*unreachable.*domain_folders'):
    unpaired.make_domain_sources(data, 'train')
  assert time.perf_counter() - start < 5.0
