import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import errors
from gan_jax.editing import guided


def linear_classifier(normals: np.ndarray, offsets: np.ndarray, names) -> guided.LatentClassifier:
  """A depth-0 model (one Dense layer) with hand-set weights: logits = w @ normals.T + offsets,
  with the identity normalisation, so its edits have closed forms."""
  dim = normals.shape[1]
  params = {'Dense_0': {'kernel': np.asarray(normals.T, np.float32),
                        'bias': np.asarray(offsets, np.float32)}}
  return guided.LatentClassifier(params, np.zeros(dim, np.float32), np.ones(dim, np.float32),
                                 tuple(names), hidden=1, depth=0)


def band_truth(x: np.ndarray) -> np.ndarray:
  """Toy attribute logits [N, 2]: Male a half-space, Brown_Hair the band |x1| < 0.6 (brown hair
  between black and blond), which no half-space fits."""
  return np.stack([4.0 * x[:, 0], 6.0 * (0.6 - np.abs(x[:, 1]))], axis=1)


@pytest.fixture(scope='module')
def band_model():
  w = np.random.default_rng(0).normal(size=(4000, 8)).astype(np.float32)
  return w, guided.fit_latent_classifier(w, band_truth(w), ('Male', 'Brown_Hair'),
                                         guided.FitSettings(hidden=64, steps=1000, seed=0))


def test_fitted_latent_classifier_learns_a_band_that_no_half_space_fits(band_model):
  w, model = band_model
  assert model.info['num_holdout'] == 400
  agreement = model.info['holdout_agreement']
  assert agreement['Male'] > 0.97 and agreement['Brown_Hair'] > 0.95, agreement
  chex.assert_shape(model.logits(w[:5]), (5, 2))
  # a w+ latent is read through its layer mean
  w_plus = np.repeat(w[:5, None], 3, axis=1)
  np.testing.assert_allclose(model.logits(w_plus), model.logits(w[:5]), atol=1e-5)


def test_fit_is_deterministic_and_checks_shapes():
  rng = np.random.default_rng(1)
  w = rng.normal(size=(200, 4)).astype(np.float32)
  y = w[:, :1] * 3
  settings = guided.FitSettings(hidden=8, steps=20)
  a = guided.fit_latent_classifier(w, y, ('Smiling',), settings)
  b = guided.fit_latent_classifier(w, y, ('Smiling',), settings)
  np.testing.assert_array_equal(a.logits(w), b.logits(w))
  with pytest.raises(ValueError, match='want'):
    guided.fit_latent_classifier(w, y[:10], ('Smiling',), settings)


def test_fit_keeps_the_step_that_validates_best_not_the_memorised_last_one():
  # Labels that are noise (no function of w): training drives the train loss down by memorising,
  # so the validation loss is best early, and those are the parameters kept.
  rng = np.random.default_rng(5)
  w = rng.normal(size=(400, 6)).astype(np.float32)
  noise = rng.normal(size=(400, 1)).astype(np.float32) * 4
  model = guided.fit_latent_classifier(w, noise, ('Smiling',), guided.FitSettings(
      hidden=64, steps=600, eval_every=50, learning_rate=1e-2, weight_decay=0.0))
  info = model.info
  assert info['best_step'] < 300, info
  assert info['train_loss'] < info['validation_loss'] + 0.05, info   # not the memorised model
  assert info['num_train'] + info['num_validation'] + info['num_holdout'] == 400


def test_guided_edit_of_a_linear_model_is_the_minimum_norm_conditional_offset():
  # Linear logits f = N w + b: reaching f_0 = margin with f_1 unchanged at the least distance is
  # delta* = N^T (N N^T)^-1 [margin - f_0(w), 0], InterFaceGAN's conditional edit made exact.
  rng = np.random.default_rng(2)
  normals = np.stack([[1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.6, 0.8, 0.0, 0.0, 0.0, 0.0]])
  model = linear_classifier(normals, np.zeros(2), ('Smiling', 'Young'))
  w = rng.normal(size=(16, 6)).astype(np.float32) * 0.3
  w[:, 0] = -np.abs(w[:, 0]) - 0.5                            # all read "not smiling"
  w[:, 1] = 0.02 * np.sign(rng.normal(size=16))               # Young sits on its boundary
  push, margin, keep = guided.edit_request(model.attr_names, [('Smiling', 2.0)], len(w))
  np.testing.assert_array_equal(keep, [[0.0, 1.0]] * 16)
  settings = guided.GuidedEditSettings(steps=400, learning_rate=0.05, keep_weight=1000.0,
                                       distance_weight=1e-3)
  offsets = np.asarray(guided.guided_offsets(model, w, push, margin, keep, settings))
  after = np.asarray(model.logits(w + offsets))
  before = np.asarray(model.logits(w))
  np.testing.assert_allclose(after[:, 0], 2.0, atol=0.05)     # reaches the margin, not beyond
  np.testing.assert_allclose(after[:, 1], before[:, 1], atol=0.02)
  assert np.all(np.sign(after[:, 1]) == np.sign(before[:, 1]))
  f0 = before[:, 0]
  rhs = np.stack([2.0 - f0, np.zeros_like(f0)], axis=1)                    # [B, 2]
  expected = rhs @ np.linalg.solve(normals @ normals.T, normals)           # [B, W]
  cos = np.sum(offsets * expected, 1) / (np.linalg.norm(offsets, axis=1) *
                                         np.linalg.norm(expected, axis=1))
  assert np.all(cos > 0.999), cos
  np.testing.assert_allclose(np.linalg.norm(offsets, axis=1), np.linalg.norm(expected, axis=1),
                             rtol=0.03)


def test_judged_edit_through_a_linear_judge_is_the_guided_edit():
  # judged_offsets optimises the same loss through any logits function: given the latent
  # classifier's own linear map it must find guided_offsets' minimum-norm conditional offset,
  # and averaging identical renderings (D = 2) changes nothing.
  rng = np.random.default_rng(4)
  normals = np.stack([[1.0, 0.0, 0.0, 0.0], [0.6, 0.8, 0.0, 0.0]])
  model = linear_classifier(normals, np.zeros(2), ('Smiling', 'Young'))
  w = (rng.normal(size=(8, 4)) * 0.3).astype(np.float32)
  w[:, 0] = -np.abs(w[:, 0]) - 0.5
  push, margin, keep = guided.edit_request(model.attr_names, [('Smiling', 2.0)], len(w))
  settings = guided.GuidedEditSettings(steps=200, learning_rate=0.05, keep_weight=100.0,
                                       distance_weight=1e-3)
  expected = np.asarray(guided.guided_offsets(model, w, push, margin, keep, settings))
  logits_fn = lambda kernel, latent, key: (latent @ kernel)[None]
  twice = lambda kernel, latent, key: jnp.concatenate([logits_fn(kernel, latent, key)] * 2)
  kernel = jnp.asarray(normals.T, jnp.float32)
  start = np.asarray(model.logits(w))
  for fn in (logits_fn, twice):
    step = jax.jit(guided.judged_edit_step(fn, settings))
    offsets, history = guided.judged_offsets(step, kernel, w, np.ones(4), push, margin, keep,
                                             start, settings.steps)
    chex.assert_shape(offsets, w.shape)
    chex.assert_shape(history['loss'], (settings.steps,))
    np.testing.assert_allclose(offsets, expected, atol=1e-4)
    assert float(history['reached'][-1]) == 1.0 and float(history['reached'][0]) == 0.0
  # the offset is in units of std, and a w+ latent gets it on the asked layers only
  std = np.array([2.0, 2.0, 2.0, 2.0], np.float32)
  scaled, _ = guided.judged_offsets(jax.jit(guided.judged_edit_step(logits_fn, settings)),
                                    kernel / 2, w * 2, std, push, margin, keep, start,
                                    settings.steps)
  np.testing.assert_allclose(scaled, 2 * expected, atol=2e-4)
  w_plus = np.repeat(w[:, None], 3, axis=1)
  on_layers = lambda k, latent, key: jnp.mean(latent, axis=1, keepdims=False)[None] @ k
  step = jax.jit(guided.judged_edit_step(on_layers, settings, layers=(1, 2)))
  offsets, _ = guided.judged_offsets(step, kernel, w_plus, np.ones(4), push, margin, keep,
                                     start, 50)
  edited = np.asarray(guided.apply_offsets(w_plus, offsets, (1, 2)))
  np.testing.assert_array_equal(edited[:, [0, 2]], w_plus[:, [0, 2]])
  assert np.all(np.abs(edited[:, 1] - w_plus[:, 1]).sum(-1) > 0.1)


def test_a_latent_already_past_the_margin_does_not_move():
  model = linear_classifier(np.eye(3)[:2], np.zeros(2), ('Male', 'Smiling'))
  w = np.array([[5.0, 0.3, 1.0]], np.float32)
  push, margin, keep = guided.edit_request(model.attr_names, [('Male', 3.0)], 1)
  offsets = guided.guided_offsets(model, w, push, margin, keep)
  np.testing.assert_allclose(offsets, 0.0, atol=1e-6)
  # ... and a negative strength drives it to <= -3
  push, margin, keep = guided.edit_request(model.attr_names, [('Male', -3.0)], 1)
  offsets = guided.guided_offsets(model, w, push, margin, keep,
                                  guided.GuidedEditSettings(steps=200, learning_rate=0.2))
  assert -3.1 < float(model.logits(w + offsets)[0, 0]) < -2.9


def test_guided_edit_flips_a_band_attribute_on_both_sides(band_model):
  # Faces on either side of the band must move towards the middle, which no single direction
  # does. Judged by the true function, not by the fitted model.
  _, model = band_model
  truth = band_truth
  test = np.random.default_rng(3).normal(size=(400, 8)).astype(np.float32)
  test = test[np.abs(test[:, 1]) > 0.8]                        # none has brown hair
  push, margin, keep = guided.edit_request(model.attr_names, [('Brown_Hair', 2.0)], len(test))
  edited = test + np.asarray(guided.guided_offsets(model, test, push, margin, keep))
  flipped = np.mean(truth(edited)[:, 1] > 0)
  kept = np.mean(np.sign(truth(edited)[:, 0]) == np.sign(truth(test)[:, 0]))
  assert flipped > 0.95 and kept > 0.95, (flipped, kept)
  assert np.mean(np.sign(edited[:, 1] - test[:, 1]) == -np.sign(test[:, 1])) > 0.95


def test_edit_request_turns_the_rest_of_an_exclusive_group_off():
  names = ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young')
  groups = (('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Gray_Hair'),)
  push, margin, keep = guided.edit_request(names, [('Blond_Hair', 3.0), ('Young', -1.0)], 2,
                                           groups)
  np.testing.assert_array_equal(push[0], [-1, 1, -1, 0, -1])
  np.testing.assert_array_equal(margin[0], [3, 3, 3, 0, 1])
  np.testing.assert_array_equal(keep[0], [0, 0, 0, 1, 0])
  # turning a colour off leaves the others free
  push, _, keep = guided.edit_request(names, [('Black_Hair', -2.0)], 1, groups)
  np.testing.assert_array_equal(push[0], [-1, 0, 0, 0, 0])
  np.testing.assert_array_equal(keep[0], [0, 0, 0, 1, 1])
  with pytest.raises(errors.ConfigError, match='Black_Hair, Blond_Hair'):
    guided.edit_request(names, [('Smiling', 1.0)], 1, groups)


def test_apply_offsets_on_a_layer_range():
  w = jnp.zeros((2, 4))
  offsets = jnp.ones((2, 4))
  np.testing.assert_array_equal(guided.apply_offsets(w, offsets), np.ones((2, 4)))
  out = np.asarray(guided.apply_offsets(w, offsets, (1, 3), num_ws=5))
  chex.assert_shape(out, (2, 5, 4))
  np.testing.assert_array_equal(out[:, :, 0], [[0, 1, 1, 0, 0]] * 2)
  with pytest.raises(ValueError, match='num_ws'):
    guided.apply_offsets(w, offsets, (1, 3))
  with pytest.raises(ValueError, match='outside'):
    guided.apply_offsets(jnp.zeros((2, 5, 4)), offsets, (2, 9))


def test_save_and_load_round_trip(tmp_path):
  rng = np.random.default_rng(4)
  w = rng.normal(size=(300, 6)).astype(np.float32)
  model = guided.fit_latent_classifier(w, w[:, :2] * 2, ('Male', 'Young'),
                                       guided.FitSettings(hidden=16, depth=2, steps=50))
  path = str(tmp_path / 'edits' / 'latent_classifier.npz')
  guided.save_latent_classifier(path, model)
  loaded = guided.load_latent_classifier(path)
  assert loaded.attr_names == ('Male', 'Young') and loaded.info == model.info
  np.testing.assert_array_equal(loaded.logits(w), model.logits(w))
  with pytest.raises(errors.InputNotFoundError, match='--mode=directions'):
    guided.load_latent_classifier(str(tmp_path / 'missing.npz'))
