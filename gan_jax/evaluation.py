"""What `--mode=eval` shares across methods: feature extractors by name, progress with ETA,
the reference-statistics cache, distribution metrics and the eval files of a workdir.

A method's eval (e.g. trainers.stargan.evaluate) produces images; this module turns them into
numbers and writes `workdir/eval/<step>.json` and `workdir/eval/report.html`.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import time
from typing import Iterable, Iterator

from absl import logging
import numpy as np

from gan_jax import errors
from gan_jax.metrics import distributions
from gan_jax.metrics import features


def make_extractor(spec: str, inception_weights: str | None = None,
                   resize: str = 'clean') -> features.Extractor:
  """'inception_v3' (the FID network; weights never downloaded) or 'classifier:WORKDIR'."""
  if spec == 'inception_v3':
    return features.inception_extractor(inception_weights, resize)
  if spec.startswith('classifier:'):
    from gan_jax.trainers import classifier   # pylint: disable=g-import-not-at-top
    return classifier.feature_extractor(spec.split(':', 1)[1], resize)
  raise errors.ConfigError(f'unknown feature extractor {spec!r}: use inception_v3 or '
                           'classifier:WORKDIR')


def configured_extractor(eval_config, judge_workdir: str = '') -> features.Extractor | None:
  """The extractor of config.eval: `extractor` if set, else the judge's features, else
  Inception-v3 if its weights are on this machine; None (with a warning saying why) otherwise."""
  spec = eval_config.extractor or (f'classifier:{judge_workdir}' if judge_workdir
                                   else 'inception_v3')
  try:
    return make_extractor(spec, eval_config.inception_weights or None, eval_config.resize)
  except features.MissingWeightsError as e:
    if eval_config.extractor:
      raise
    logging.warning('No FID/KID/precision-recall: %s', e)
    return None


def dataset_description(data_config) -> str:
  """The identity of a test split for the reference-statistics cache key."""
  if data_config.name == 'synthetic_faces':
    return f'synthetic_faces(seed={data_config.seed}, n={data_config.num_test_examples})'
  if data_config.name == 'celeba_folder':
    return f'celeba_folder({os.path.abspath(data_config.path)}, test_size={data_config.test_size})'
  if data_config.get('path'):
    return f'{data_config.name}({os.path.abspath(data_config.path)})'
  return f'{data_config.name}({data_config.get("tfds_data_dir", "")})'


def reference_features_of_split(extractor: features.Extractor, data_config, source, split: str,
                                num_images: int, batch_size: int, cache_dir: str | None = None,
                                mesh=None) -> tuple[np.ndarray, 'ReferenceKey', bool]:
  """Features of the first num_images images of a data split, from the cache when there:
  (features [N, D], the cache key, whether they came from the cache)."""
  from gan_jax.data import loader as loader_lib   # pylint: disable=g-import-not-at-top
  key = ReferenceKey(dataset_description(data_config), split, data_config.image_size,
                     extractor.name, extractor.weights_hash, extractor.resize, num_images)
  compute = lambda: extract_features(
      extractor, (b['image'] for b in loader_lib.ordered_batches(source, batch_size, num_images)),
      num_images, 'reference features', mesh)[0]
  feats, cached = reference_features(key, compute, cache_dir)
  return feats, key, cached


class Progress:
  """Logs `label: done/total (pct), rate/s, ETA` at most every `every_s` seconds and at the end."""

  def __init__(self, total: int, label: str, unit: str = 'images', every_s: float = 10.0):
    self.total, self.label, self.unit, self.every_s = total, label, unit, every_s
    self.done, self._start, self._last = 0, time.monotonic(), 0.0

  def update(self, count: int) -> None:
    self.done += count
    now = time.monotonic()
    if now - self._last < self.every_s and self.done < self.total:
      return
    self._last = now
    elapsed = max(now - self._start, 1e-9)
    rate = self.done / elapsed
    eta = (self.total - self.done) / rate if rate > 0 else float('inf')
    logging.info('%s: %d/%d %s (%.0f%%), %.1f %s/s, ETA %s', self.label, self.done, self.total,
                 self.unit, 100.0 * self.done / max(self.total, 1), rate, self.unit,
                 format_seconds(eta))


def format_seconds(seconds: float) -> str:
  if not np.isfinite(seconds):
    return '?'
  minutes, secs = divmod(int(round(seconds)), 60)
  hours, minutes = divmod(minutes, 60)
  return f'{hours}h{minutes:02d}m{secs:02d}s' if hours else f'{minutes}m{secs:02d}s'


def extract_features(extractor: features.Extractor, batches: Iterable[np.ndarray], total: int,
                     label: str, mesh=None) -> tuple[np.ndarray, np.ndarray | None]:
  """(features [N, D] float32, logits [N, C] or None) of image batches [b, H, W, 3] in [-1, 1]."""
  progress = Progress(total, label)
  feats, logits = [], []
  for images in batches:
    out = extractor(images, mesh=mesh)
    feats.append(out['features'].astype(np.float32))
    if out.get('logits') is not None:
      logits.append(out['logits'].astype(np.float32))
    progress.update(len(images))
  if not feats:
    raise errors.ConfigError(f'{label}: no images to extract features from')
  return np.concatenate(feats), (np.concatenate(logits) if logits else None)


# ------------------------------------------------------------------ reference statistics cache


@dataclasses.dataclass(frozen=True)
class ReferenceKey:
  """What the reference features depend on; its digest names the cache file."""
  dataset: str            # e.g. 'synthetic_faces(seed=0)' or 'celeba_folder:/data/celeba'
  split: str
  resolution: int
  extractor: str          # extractor.name
  weights_hash: str
  resize: str
  num_images: int

  def digest(self) -> str:
    text = json.dumps(dataclasses.asdict(self), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_cache_dir() -> str:
  return os.environ.get('GAN_JAX_CACHE', os.path.expanduser('~/.cache/gan_jax/reference_stats'))


def reference_features(key: ReferenceKey, compute: callable, cache_dir: str | None = None
                       ) -> tuple[np.ndarray, bool]:
  """Features of the reference split: loaded from the cache when `key` was computed before,
  else `compute()` -> [N, D] and stored (atomically) with mu, sigma and the key.
  Returns (features, from_cache)."""
  cache_dir = cache_dir or default_cache_dir()
  path = os.path.join(cache_dir, f'{key.digest()}.npz')
  if os.path.exists(path):
    with np.load(path) as data:
      if json.loads(str(data['key'])) == dataclasses.asdict(key):
        logging.info('Reference statistics from cache %s', path)
        return data['features'], True
  feats = compute()
  os.makedirs(cache_dir, exist_ok=True)
  mu, sigma = distributions.feature_statistics(feats)
  tmp = path + f'.tmp{os.getpid()}.npz'
  np.savez(tmp, features=feats, mu=mu, sigma=sigma,
           key=np.asarray(json.dumps(dataclasses.asdict(key))))
  os.replace(tmp, path)
  logging.info('Reference statistics cached in %s', path)
  return feats, False


# -------------------------------------------------------------------------- distribution metrics


def distribution_metrics(real: np.ndarray, fake: np.ndarray, fake_logits: np.ndarray | None,
                         kid_subset_size: int = 1000, kid_subsets: int = 100,
                         k_nearest: int = 3, max_knn: int = 10_000) -> dict[str, float]:
  """FID, KID (mean/std), precision/recall, density/coverage and, given logits, IS.

  k-NN metrics use at most `max_knn` rows of each set (their cost is quadratic).
  """
  out = {'fid': distributions.fid_from_features(real, fake)}
  out['kid'], out['kid_std'] = distributions.kernel_inception_distance(
      real, fake, num_subsets=kid_subsets, subset_size=kid_subset_size)
  r, f = real[:max_knn], fake[:max_knn]
  if min(len(r), len(f)) > k_nearest + 1:
    out['precision'], out['recall'] = distributions.precision_recall(r, f, k=k_nearest)
    density_k = 5 if len(r) > 6 else k_nearest         # Naeem et al.'s k = 5 when it fits
    out['density'], out['coverage'] = distributions.density_coverage(r, f, k=density_k)
  if fake_logits is not None and fake_logits.shape[1] > 1 and len(fake_logits) >= 10:
    shifted = fake_logits - fake_logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    out['inception_score'], out['inception_score_std'] = distributions.inception_score(
        probs, num_splits=min(10, len(probs) // 10))
  return out


# ----------------------------------------------------------------------------------- eval files


def write_eval(workdir: str, step: int, result: dict) -> str:
  """Writes workdir/eval/<step>.json (atomically) and returns its path."""
  folder = os.path.join(workdir, 'eval')
  os.makedirs(folder, exist_ok=True)
  path = os.path.join(folder, f'{step:07d}.json')
  with open(path + '.tmp', 'w', encoding='utf-8') as f:
    json.dump(result, f, indent=2, sort_keys=True, default=_json_default)
  os.replace(path + '.tmp', path)
  return path


def _json_default(value):
  if isinstance(value, (np.floating, np.integer)):
    return value.item()
  if isinstance(value, np.ndarray):
    return value.tolist()
  raise TypeError(f'cannot write {type(value).__name__} to JSON')


def read_eval_history(workdir: str) -> list[dict]:
  """Every workdir/eval/<step>.json, by step."""
  results = []
  for path in sorted(glob.glob(os.path.join(workdir, 'eval', '*.json'))):
    with open(path, encoding='utf-8') as f:
      results.append(json.load(f))
  return sorted(results, key=lambda r: r.get('step', 0))


def batched(array: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
  for start in range(0, len(array), batch_size):
    yield array[start:start + batch_size]
