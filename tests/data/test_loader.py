import chex
import numpy as np
import pytest

from gan_jax.data import base
from gan_jax.data import loader as loader_lib


def make_source(n=10, size=4, num_attrs=2):
  images = np.stack([np.full((size, size, 3), i, np.uint8) for i in range(n)])
  images[:, :, 0, :] = 255   # left column marks orientation
  labels = (np.arange(n)[:, None] % (np.arange(num_attrs) + 2) == 0).astype(np.float32)
  return base.ArraySource(images, labels, tuple(f'a{i}' for i in range(num_attrs)))


def example_ids(batch):
  """The source index of each row (encoded in the pixel values)."""
  return np.round((batch['image'][:, 1, 1, 0] + 1.0) * 127.5).astype(int)


def test_batches_are_float_in_range_with_labels():
  loader = loader_lib.BatchLoader(make_source(), 4, seed=0)
  batch = loader.load(0)
  chex.assert_shape(batch['image'], (4, 4, 4, 3))
  chex.assert_shape(batch['label'], (4, 2))
  assert batch['image'].dtype == np.float32 and batch['image'].min() >= -1 and batch['image'].max() <= 1
  ids = example_ids(batch)
  np.testing.assert_array_equal(batch['label'], make_source().labels[ids])


def test_order_is_a_pure_function_of_seed_and_step():
  a = loader_lib.BatchLoader(make_source(), 4, seed=3)
  b = loader_lib.BatchLoader(make_source(), 4, seed=3)
  c = loader_lib.BatchLoader(make_source(), 4, seed=4)
  for step in (7, 0, 2):   # any access order
    chex.assert_trees_all_equal(a.load(step), b.load(step))
  assert any(not np.array_equal(example_ids(a.load(s)), example_ids(c.load(s))) for s in range(3))


def test_each_epoch_visits_every_example_once():
  loader = loader_lib.BatchLoader(make_source(n=12), 4, seed=0)
  for epoch in range(2):
    ids = np.concatenate([example_ids(loader.load(3 * epoch + s)) for s in range(3)])
    assert sorted(ids) == list(range(12))


def test_resumed_iteration_equals_fresh_iteration():
  loader = loader_lib.BatchLoader(make_source(), 4, seed=0)
  stream = loader.iterate(0)
  fresh = [next(stream) for _ in range(6)]
  stream.close()
  resumed = loader.iterate(3)
  for step in range(3, 6):
    chex.assert_trees_all_equal(next(resumed), fresh[step])
  resumed.close()


def test_process_rows_partition_the_global_batch():
  whole = loader_lib.BatchLoader(make_source(), 4, seed=0).load(5)
  first = loader_lib.BatchLoader(make_source(), 4, seed=0, rows=slice(0, 2)).load(5)
  second = loader_lib.BatchLoader(make_source(), 4, seed=0, rows=slice(2, 4)).load(5)
  chex.assert_trees_all_equal(whole, {k: np.concatenate([first[k], second[k]]) for k in whole})


def test_random_flips_mirror_images():
  loader = loader_lib.BatchLoader(make_source(n=40), 40, seed=0)
  images = loader.load(0)['image']
  left_marked = images[:, 2, 0, 0] == 1.0
  right_marked = images[:, 2, -1, 0] == 1.0
  assert np.all(left_marked ^ right_marked)
  assert 5 < right_marked.sum() < 35
  no_flip = loader_lib.BatchLoader(make_source(n=40), 40, seed=0, random_flip=False).load(0)
  assert np.all(no_flip['image'][:, 2, 0, 0] == 1.0)


class FlakySource:
  """Examples 2 and 5 cannot be decoded."""

  def __init__(self):
    self.inner = make_source()
    self.attr_names, self.image_size = self.inner.attr_names, 4

  def __len__(self):
    return len(self.inner)

  def __getitem__(self, index):
    if index in (2, 5):
      raise base.UnreadableImageError(f'/data/{index}.jpg', 'truncated')
    return self.inner[index]


def test_unreadable_examples_are_skipped_counted_and_deterministic():
  loader = loader_lib.BatchLoader(FlakySource(), 5, seed=0)
  batches = [loader.load(s) for s in range(4)]   # two epochs
  ids = np.concatenate([example_ids(b) for b in batches])
  assert 2 not in ids and 5 not in ids
  assert len(ids) == 20
  assert sorted(loader.unreadable) == [2, 5]
  assert '/data/2.jpg' in loader.unreadable[2]
  again = loader_lib.BatchLoader(FlakySource(), 5, seed=0)
  chex.assert_trees_all_equal(again.load(1), batches[1])


def test_ordered_batches_skip_unreadable_and_keep_indices():
  batches = list(loader_lib.ordered_batches(FlakySource(), 4))
  indices = np.concatenate([b['index'] for b in batches])
  np.testing.assert_array_equal(indices, [0, 1, 3, 4, 6, 7, 8, 9])
  np.testing.assert_array_equal(np.concatenate([example_ids(b) for b in batches]), indices)
  assert [len(b['index']) for b in batches] == [4, 4]


def test_empty_source_is_an_error():
  empty = base.ArraySource(np.zeros((0, 4, 4, 3), np.uint8), np.zeros((0, 1), np.float32), ('a',))
  with pytest.raises(base.DataConfigError, match='empty'):
    loader_lib.BatchLoader(empty, 2, seed=0)
