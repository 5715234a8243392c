"""Eval plumbing: the reference-statistics cache, the metric bundle and the HTML report."""

import dataclasses

import numpy as np
import pytest

from gan_jax import evaluation
from gan_jax import metrics
from gan_jax import report


def _key(**changes):
  key = evaluation.ReferenceKey('synthetic_faces(seed=0)', 'test', 32, 'classifier:/w', 'step9',
                                'clean', 100)
  return dataclasses.replace(key, **changes)


def test_reference_cache_reuses_only_the_same_key(tmp_path):
  calls = []
  def compute(value):
    def fn():
      calls.append(value)
      return np.full((5, 3), value, np.float32)
    return fn
  feats, cached = evaluation.reference_features(_key(), compute(1.0), str(tmp_path))
  assert not cached and calls == [1.0]
  again, cached = evaluation.reference_features(_key(), compute(2.0), str(tmp_path))
  assert cached and calls == [1.0]
  np.testing.assert_array_equal(again, feats)
  for change in (dict(resolution=64), dict(weights_hash='step10'), dict(resize='legacy_pytorch'),
                 dict(num_images=50), dict(split='train'), dict(extractor='inception_v3')):
    _, cached = evaluation.reference_features(_key(**change), compute(3.0), str(tmp_path))
    assert not cached, change
  with np.load(next(tmp_path.glob(f'{_key().digest()}.npz'))) as data:
    np.testing.assert_allclose(data['mu'], feats.mean(0))


def test_distribution_metrics_bundle_matches_the_functions():
  rng = np.random.default_rng(0)
  real, fake = rng.normal(size=(120, 6)), rng.normal(0.3, 1.0, size=(110, 6))
  logits = rng.normal(size=(110, 4))
  out = evaluation.distribution_metrics(real, fake, logits, kid_subset_size=50, kid_subsets=5)
  assert out['fid'] == pytest.approx(metrics.fid_from_features(real, fake))
  assert (out['kid'], out['kid_std']) == pytest.approx(
      metrics.kernel_inception_distance(real, fake, num_subsets=5, subset_size=50))
  assert (out['precision'], out['recall']) == metrics.precision_recall(real, fake, k=3)
  probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  assert out['inception_score'] == pytest.approx(metrics.inception_score(probs, 10)[0])


def test_report_has_bars_plots_table_and_grid():
  history = [{'step': 100, 'fid': 30.0}, {'step': 200, 'fid': 20.0}]
  grid = np.zeros((10, 20, 3), np.uint8)
  html = report.render('t', {'step': 200, 'fid': 20.0}, history, {'grid': grid},
                       {'transfer': {'Male': 0.9, 'Young': 0.5}}, notes=['extractor X'])
  assert html.count('<svg') == 2 and '<polyline' in html and 'Male: 0.9000' in html
  assert 'data:image/png;base64,' in html and 'extractor X' in html and '<td>fid</td>' in html
  noisy = np.random.default_rng(0).integers(0, 255, (300, 300, 3), np.uint8)
  assert report.png_data_uri(noisy).startswith('data:image/jpeg;base64,')   # kept small
  assert evaluation.format_seconds(3725) == '1h02m05s' and evaluation.format_seconds(65) == '1m05s'
