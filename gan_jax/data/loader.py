"""Deterministic, resumable batches from a random-access source.

The examples of global batch `step` are a pure function of (seed, step): the sample at global
position p = step * batch_size + j is `perm_e[p % N]` with e = p // N and perm_e a permutation
drawn from the seed and the epoch. Restarting at any step therefore continues the exact same
stream with no iterator state to checkpoint. Each process loads only its rows of every batch.
"""

from __future__ import annotations

import concurrent.futures
import functools
import queue
import threading
from typing import Iterator

from absl import logging
import numpy as np

from gan_jax.data import base


class BatchLoader:
  """Batches {'image': float32 [b, S, S, 3] in [-1, 1], 'label': float32 [b, A]} by step.

  b is this process's share of the global batch (rows `rows` of it).
  """

  def __init__(self, source: base.ImageSource, global_batch_size: int, seed: int,
               rows: slice | None = None, shuffle: bool = True, random_flip: bool = True,
               num_threads: int = 4):
    if len(source) == 0:
      raise base.DataConfigError('the dataset is empty: check config.data')
    self.source = source
    self.global_batch_size = global_batch_size
    self.seed = seed
    self.rows = rows or slice(0, global_batch_size)
    self.shuffle = shuffle
    self.random_flip = random_flip
    self._pool = concurrent.futures.ThreadPoolExecutor(num_threads)
    self._lock = threading.Lock()
    self.unreadable: dict[int, str] = {}   # index -> 'path: reason', every example skipped so far

  @functools.lru_cache(maxsize=4)
  def _epoch_order(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """(permutation [N] of example indices, horizontal-flip flags [N]) of one epoch."""
    n = len(self.source)
    rng = np.random.default_rng([self.seed, epoch])
    order = rng.permutation(n) if self.shuffle else np.arange(n)
    flips = rng.random(n) < 0.5 if self.random_flip else np.zeros(n, bool)
    return order, flips

  def batch_positions(self, step: int) -> np.ndarray:
    """Global stream positions [b] of this process's rows of batch `step`."""
    start = step * self.global_batch_size
    return np.arange(start, start + self.global_batch_size)[self.rows]

  def _load_position(self, position: int) -> tuple[np.ndarray, np.ndarray]:
    """The example at one stream position; an unreadable one is replaced by the next readable."""
    n = len(self.source)
    epoch, offset = divmod(position, n)
    order, flips = self._epoch_order(epoch)
    for k in range(n):
      index = int(order[(offset + k) % n])
      try:
        example = self.source[index]
      except base.UnreadableImageError as e:
        self._record_unreadable(index, str(e))
        continue
      image = example['image'][:, ::-1] if flips[(offset + k) % n] else example['image']
      return image, example['label']
    raise base.DataConfigError(f'no readable image in the dataset ({n} examples tried)')

  def _record_unreadable(self, index: int, what: str) -> None:
    with self._lock:
      if index in self.unreadable:
        return
      self.unreadable[index] = what
      count = len(self.unreadable)
    if count & (count - 1) == 0:   # 1, 2, 4, 8, ...: warn often early, rarely later
      first = list(self.unreadable.values())[:5]
      logging.warning('Skipped %d unreadable image(s) so far; first: %s', count, first)

  def load(self, step: int) -> dict[str, np.ndarray]:
    """This process's rows of batch `step`."""
    examples = list(self._pool.map(self._load_position, self.batch_positions(step)))
    images = np.stack([e[0] for e in examples])
    labels = np.stack([e[1] for e in examples]).astype(np.float32)
    return {'image': base.uint8_to_float(images), 'label': labels}

  def iterate(self, start_step: int, prefetch: int = 2) -> Iterator[dict[str, np.ndarray]]:
    """Yields batches start_step, start_step + 1, ... loaded ahead by a background thread."""
    buffer: queue.Queue = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def produce():
      step = start_step
      while not stop.is_set():
        try:
          item = self.load(step)
        except Exception as e:  # pylint: disable=broad-except  (re-raised in the consumer)
          item = e
        while not stop.is_set():
          try:
            buffer.put(item, timeout=0.1)
            break
          except queue.Full:
            continue
        if isinstance(item, Exception):
          return
        step += 1

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
      while True:
        item = buffer.get()
        if isinstance(item, Exception):
          raise item
        yield item
    finally:
      stop.set()


def ordered_batches(source: base.ImageSource, batch_size: int,
                    limit: int | None = None) -> Iterator[dict[str, np.ndarray]]:
  """The first `limit` examples (default all) in order, no flips; last batch may be smaller.

  Unreadable examples are skipped and counted (warning), so batches hold only real examples.
  Adds 'index' [b] int64 with each example's index in the source.
  """
  total = len(source) if limit is None else min(limit, len(source))
  skipped = []
  images, labels, indices = [], [], []
  for index in range(total):
    try:
      example = source[index]
    except base.UnreadableImageError as e:
      skipped.append(str(e))
      continue
    images.append(example['image'])
    labels.append(example['label'])
    indices.append(index)
    if len(images) == batch_size:
      yield _stack(images, labels, indices)
      images, labels, indices = [], [], []
  if images:
    yield _stack(images, labels, indices)
  if skipped:
    logging.warning('Skipped %d unreadable image(s); first: %s', len(skipped), skipped[:5])


def _stack(images, labels, indices) -> dict[str, np.ndarray]:
  return {'image': base.uint8_to_float(np.stack(images)),
          'label': np.stack(labels).astype(np.float32),
          'index': np.asarray(indices, np.int64)}
