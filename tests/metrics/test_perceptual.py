"""The uncalibrated LPIPS-style feature distance and diversity."""

import jax
import numpy as np
import pytest

from gan_jax.metrics import perceptual
from gan_jax.models import classifier as classifier_models
from gan_jax.trainers import classifier


def _stack_fn():
  model = classifier_models.Classifier(num_outputs=3, widths=(4, 8))
  params = model.init(jax.random.key(0), np.zeros((1, 16, 16, 3), np.float32))
  trained = classifier.TrainedClassifier(model, params, ('a', 'b', 'c'), 16, 'bce', 0)
  return classifier.feature_stack(trained)


def test_distance_by_hand_and_invariances():
  a = [np.array([[[[3.0, 4.0]]]])]                  # one position, unit vector (0.6, 0.8)
  b = [np.array([[[[4.0, 3.0]]]])]                  # (0.8, 0.6)
  assert float(perceptual.normalized_feature_distance(a, b)[0]) == pytest.approx(0.08)
  rng = np.random.default_rng(0)
  x = [rng.normal(size=(2, 4, 4, 5)), rng.normal(size=(2, 2, 2, 7))]
  y = [rng.normal(size=(2, 4, 4, 5)), rng.normal(size=(2, 2, 2, 7))]
  np.testing.assert_allclose(perceptual.normalized_feature_distance(x, x), 0.0, atol=1e-7)
  np.testing.assert_allclose(perceptual.normalized_feature_distance(x, [3 * m for m in x]), 0.0,
                             atol=1e-6)
  np.testing.assert_allclose(perceptual.normalized_feature_distance(x, y),
                             perceptual.normalized_feature_distance(y, x), rtol=1e-6)


def test_classifier_stack_and_diversity_warns_on_identical_outputs(caplog):
  stack = _stack_fn()
  rng = np.random.default_rng(1)
  images = rng.uniform(-1, 1, (3, 16, 16, 3)).astype(np.float32)
  maps = stack(images)
  assert [m.shape for m in maps] == [(3, 8, 8, 4), (3, 4, 4, 8)]
  same = np.stack([images, images, images])
  mean, per_input = perceptual.diversity(same, stack)
  assert mean == pytest.approx(0.0, abs=1e-6) and per_input.shape == (3,)
  assert 'mode collapse' in caplog.text
  varied = rng.uniform(-1, 1, (3, 3, 16, 16, 3)).astype(np.float32)
  assert perceptual.diversity(varied, stack)[0] > 0.05
  with pytest.raises(ValueError, match='K >= 2'):
    perceptual.diversity(images[None], stack)


def test_extractor_features_equal_on_1_and_8_devices():
  from gan_jax import sharding
  from gan_jax import metrics
  from gan_jax.metrics import features
  model = classifier_models.Classifier(num_outputs=3, widths=(4, 8))
  params = model.init(jax.random.key(0), np.zeros((1, 16, 16, 3), np.float32))
  apply = jax.jit(lambda x: dict(zip(('logits', 'features'), model.apply(params, x))))
  extractor = features.Extractor('toy', 'toy', 16, 8, False, apply)
  rng = np.random.default_rng(2)
  real = rng.uniform(-1, 1, (32, 20, 20, 3)).astype(np.float32)     # resized to 16 inside
  fake = rng.uniform(-0.5, 1, (32, 20, 20, 3)).astype(np.float32)
  mesh = sharding.make_mesh()
  assert mesh.shape['data'] == 8
  one = [extractor(x)['features'] for x in (real, fake)]
  eight = [extractor(x, mesh=mesh)['features'] for x in (real, fake)]
  np.testing.assert_allclose(eight[0], one[0], rtol=1e-6, atol=1e-6)
  assert metrics.fid_from_features(*eight) == pytest.approx(metrics.fid_from_features(*one),
                                                            rel=1e-5)
