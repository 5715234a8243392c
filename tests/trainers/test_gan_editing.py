"""--mode=directions and --mode=edit on a smoke StyleGAN workdir judged by the smoke classifier."""

import dataclasses
import json
import os

import chex
import jax
import numpy as np
import pytest
from PIL import Image

from configs import stylegan as stylegan_config
from gan_jax import attributes
from gan_jax import errors
from gan_jax.data import base
from gan_jax.editing import directions as directions_lib
from gan_jax.editing import guided
from gan_jax.trainers import classifier
from gan_jax.trainers import gan
from gan_jax.trainers import gan_editing
from tests.main_runner import run_main


def _config(judge):
  c = stylegan_config.get_config('smoke')
  c.num_steps = 1
  c.edit.update(judge=judge, num_samples=64, num_eval=16, eval_strengths=(1.0, 3.0),
                sweep=(-1.0, 0.0, 1.0), num_grid=2, sefa_num=3, ganspace_num=2, num_seeds=2,
                invert_steps=10, sweep_columns=3)
  c.edit.guided.update(num_samples=64, hidden=16, fit_steps=20, steps=10, strengths=(1.0, 3.0))
  return c


@pytest.fixture(scope='module')
def trained(smoke_judge, tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('stylegan'))
  config = _config(smoke_judge)
  gan.train_and_evaluate(config, workdir)
  return config, workdir


def test_directions_are_found_saved_and_judged(trained, smoke_judge):
  config, workdir = trained
  summary = gan_editing.find_directions(config, workdir)
  found = directions_lib.load_directions(os.path.join(workdir, 'edits', 'directions.npz'))
  attrs = classifier.restore(smoke_judge).attr_names
  methods = [d.info['method'] for d in found.values()]
  assert methods.count('interfacegan') == len(attrs) == methods.count('conditional')
  assert methods.count('sefa') == 3 and methods.count('ganspace') == 2
  assert set(attrs) <= set(found) and attrs[-1] + '|' + ','.join(attrs[:-1]) in found
  for name in attrs:   # conditional directions are orthogonal to those outside their group
    cond = found[[n for n in found if n.startswith(name + '|')][0]]
    group = [attrs[i] for i in attributes.group_of(name, attrs)]
    others = np.stack([found[o].vector for o in attrs if o not in group])
    assert cond.info['conditioned_on'] == [o for o in attrs if o not in group]
    np.testing.assert_allclose(others @ cond.vector, 0.0, atol=1e-5)
  with open(os.path.join(workdir, 'edits', 'directions_eval.json')) as f:
    written = json.load(f)
  assert written == json.loads(json.dumps(summary))
  assert written['eval_judge'] == smoke_judge         # no eval_judge: the labelling judge judges
  sweep = written['directions']['Male']['sweep']
  assert [r['strength'] for r in sweep] == [1.0, 3.0]
  assert all(0.0 <= r['transfer'] <= 1.0 and 0.0 <= r['preservation'] <= 1.0 for r in sweep)
  assert os.path.exists(os.path.join(workdir, 'edits', 'report.html'))
  # the guided edits: a latent classifier fitted to the judge, judged on the same samples
  model = guided.load_latent_classifier(os.path.join(workdir, 'edits', 'latent_classifier.npz'))
  assert model.attr_names == attrs and model.info == written['latent_classifier']
  assert model.info['num_train'] + model.info['num_validation'] + model.info['num_holdout'] == 64
  assert set(written['guided']) == set(attrs)
  for rows in (r['sweep'] for r in written['guided'].values()):
    assert [r['strength'] for r in rows] == [1.0, 3.0]
    assert all(0.0 <= r['transfer'] <= 1.0 and 0.0 <= r['preservation'] <= 1.0 for r in rows)
  assert os.path.exists(os.path.join(workdir, 'edits', 'sweep_Male_guided.png'))


def test_labels_average_the_judge_over_noise_draws(trained):
  config, workdir = trained
  gen = gan_editing.load_editable(config, workdir)
  judge = classifier.restore(config.edit.judge)
  latents = np.asarray(gen.edit_latents(jax.random.normal(jax.random.key(4), (6, gen.latent_dim))))
  one, two = (judge.logits_and_features(gan_editing.render_batched(
      gen.renderer('w'), latents, seed, gen))[0] for seed in (3, 3 + 7919))
  np.testing.assert_allclose(gan_editing.label_logits(gen, judge, latents, 3), one, atol=1e-5)
  np.testing.assert_allclose(gan_editing.label_logits(gen, judge, latents, 3, draws=2),
                             (one + two) / 2, atol=1e-5)


def test_an_eval_judge_must_read_the_same_attributes(trained, monkeypatch, tmp_path):
  config, workdir = trained
  config = _config(config.edit.judge)
  config.edit.update(eval_judge='OTHER', directions=str(tmp_path / 'd.npz'))
  real = gan_editing.restore_judge

  def restore(path, gen):   # 'OTHER' is the same classifier reading one attribute fewer
    judge = real(config.edit.judge, gen)
    return dataclasses.replace(judge, attr_names=judge.attr_names[:-1]) if path == 'OTHER' \
        else judge
  monkeypatch.setattr(gan_editing, 'restore_judge', restore)
  with pytest.raises(errors.ConfigError, match='same attributes'):
    gan_editing.find_directions(config, workdir)
  assert not os.path.exists(tmp_path / 'd.npz')       # said before anything was sampled


def test_guided_flip_latents_drive_each_latent_to_its_side():
  # A linear latent classifier (one Dense layer, hand-set): each latent's Male logit must reach
  # the side opposite to its reading, and the hair colour it turns on drives the others off.
  names = ('Black_Hair', 'Blond_Hair', 'Male')
  params = {'Dense_0': {'kernel': np.eye(4, 3, dtype=np.float32), 'bias': np.zeros(3, np.float32)}}
  model = guided.LatentClassifier(params, np.zeros(4, np.float32), np.ones(4, np.float32), names,
                                  hidden=1, depth=0)
  latents = np.asarray(jax.random.normal(jax.random.key(3), (12, 4)))
  judged_in = (np.asarray(model.logits(latents)) > 0).astype(np.float32)
  settings = guided.GuidedEditSettings(steps=300, learning_rate=0.1, keep_weight=0.0,
                                       distance_weight=0.0)   # the drive alone
  edited = gan_editing.guided_flip_latents(model, 'Male', 2.0, latents, judged_in, settings)
  male = np.asarray(model.logits(edited))[:, 2]
  reached = np.where(judged_in[:, 2] > 0.5, male, -male)   # past the margin (Adam overshoots it:
  assert np.all(reached <= -1.95) and np.all(reached > -3.0), reached   # nothing pulls back)
  np.testing.assert_allclose(edited[:, :2], latents[:, :2], atol=1e-6)   # nothing else asked
  blond = gan_editing.guided_flip_latents(model, 'Blond_Hair', 2.0, latents, judged_in, settings)
  turned_on = judged_in[:, 1] < 0.5
  assert np.all(blond[turned_on, 0] <= -1.95) and np.all(blond[turned_on, 1] >= 1.95)
  # on a layer range the offset lands there only
  ws = gan_editing.guided_flip_latents(model, 'Male', 2.0, latents, judged_in, settings, (1, 3), 4)
  np.testing.assert_allclose(ws[:, 1], edited, atol=1e-6)
  np.testing.assert_array_equal(ws[:, 0], latents)


def test_judge_through_the_generator_reads_own_and_fresh_noise_maps(trained, smoke_judge):
  config, workdir = trained
  gen = gan_editing.load_editable(config, workdir)
  judge = gan_editing.restore_judge(smoke_judge, gen)
  latents, images = gan_editing.fresh_samples(gen, 5, 4)
  noise = gen.noise(5, 4)
  aux = (gen.variables, judge.params, noise)
  logits_fn = jax.jit(gan_editing.judge_through_generator(gen, judge, fresh_draws=2,
                                                         max_shift=1))
  logits = np.asarray(logits_fn(aux, latents, jax.random.key(1)))
  chex.assert_shape(logits, (3, 4, len(judge.attr_names)))
  own = judge.logits_and_features(images)[0]     # rendering 0: the samples' own noise maps
  np.testing.assert_allclose(logits[0], own, atol=1e-4)
  np.testing.assert_array_equal(logits, logits_fn(aux, latents, jax.random.key(1)))
  assert not np.allclose(logits[1], logits[2])   # two fresh draws differ
  judged_in = (own > 0).astype(np.float32)
  push, margin, keep = gan_editing.flip_request(judge.attr_names, 'Male', 2.0, judged_in)
  np.testing.assert_array_equal(push[:, judge.attr_names.index('Male')],
                                np.where(judged_in[:, judge.attr_names.index('Male')], -1, 1))
  dcgan = dataclasses.replace(gen, kind='dcgan')
  with pytest.raises(errors.ConfigError, match='StyleGAN'):
    gan_editing.judge_through_generator(dcgan, judge)


def test_guided_edit_cli_keeps_the_outside_of_a_mask(trained, tmp_path):
  config, workdir = trained
  if not os.path.exists(os.path.join(workdir, 'edits', 'latent_classifier.npz')):
    gan_editing.find_directions(config, workdir)
  mask = np.zeros((16, 16), np.uint8)
  mask[:8] = 255
  Image.fromarray(mask).save(tmp_path / 'mask.png')
  judge = config.edit.judge
  config = _config(judge)                      # a copy: the module's config stays linear
  config.edit.method = 'guided'
  metrics = gan_editing.edit_images(config, workdir, output=str(tmp_path / 'out'),
                                    edit='Male:+3,Young:-2', mask=str(tmp_path / 'mask.png'))
  assert metrics['max_change_outside_mask'] < 1e-5
  assert (tmp_path / 'out' / 'seed0_0_sweep.png').exists()
  config.edit.method = 'judged'        # the same, found through the judge's logits of G's images
  config.edit.guided.update(lr=0.5, keep_weight=1.0)
  metrics = gan_editing.edit_images(config, workdir, output=str(tmp_path / 'judged'),
                                    edit='Male:+3,Young:-2', mask=str(tmp_path / 'mask.png'))
  assert metrics['max_change_outside_mask'] < 1e-5
  # the gradient reaches w through the judge and G (this 1-step G barely responds to w: its 10
  # steps lower the loss by ~0.5 %)
  run = metrics['edit_optimisation']
  assert run['method'] == 'judged'
  assert run['loss_last'] < 0.999 * run['loss_first'], run
  config.edit.method = 'guided'
  with pytest.raises(errors.ConfigError, match='no attribute'):
    gan_editing.edit_images(config, workdir, output=str(tmp_path), edit='Bald:+1')
  config.edit.method = 'nonlinear'
  with pytest.raises(errors.ConfigError, match="'linear'"):
    gan_editing.edit_images(config, workdir, output=str(tmp_path), edit='Male:+1')
  config.edit.update(method='judged', judge='')
  with pytest.raises(errors.ConfigError, match='config.edit.judge'):
    gan_editing.edit_images(config, workdir, output=str(tmp_path), edit='Male:+1')
  config.edit.judge = judge
  config.edit.method = 'guided'
  config.edit.latent_classifier = str(tmp_path / 'none.npz')
  with pytest.raises(errors.InputNotFoundError, match='--mode=directions'):
    gan_editing.edit_images(config, workdir, output=str(tmp_path), edit='Male:+1')
  for field, value, message in (('num_samples', 5, '>= 20'), ('strengths', (0.0, 2.0), 'positive'),
                                ('lr', 0.0, 'lr')):
    bad = _config(config.edit.judge)
    bad.edit.guided[field] = value
    with pytest.raises(errors.ConfigError, match=message):
      gan_editing.load_editable(bad, workdir)


def test_edit_cli_inverts_edits_inside_a_mask_and_reports(trained, tmp_path):
  config, workdir = trained
  if not os.path.exists(os.path.join(workdir, 'edits', 'directions.npz')):
    gan_editing.find_directions(config, workdir)
  face = np.zeros((40, 30, 3), np.uint8)
  face[10:30, 8:22] = (220, 180, 150)
  Image.fromarray(face).save(tmp_path / 'face.png')
  mask = np.zeros((64, 64), np.uint8)
  mask[:, 32:] = 255
  Image.fromarray(mask).save(tmp_path / 'mask.png')
  out = tmp_path / 'out'
  result = run_main('--config=configs/stylegan.py:smoke', f'--workdir={workdir}', '--mode=edit',
                    f'--input={tmp_path / "face.png"}', f'--mask={tmp_path / "mask.png"}',
                    '--edit=Male:+2,sefa0:-1', f'--output={out}',
                    f'--config.edit.judge={config.edit.judge}', '--config.edit.invert_steps=10',
                    '--config.edit.sweep_columns=3')
  assert result.returncode == 0, result.stderr[-3000:]
  with open(out / 'metrics.json') as f:
    metrics = json.load(f)
  assert metrics['max_change_outside_mask'] < 1e-5    # float noise of a 2B-row batch vs B
  assert np.isfinite(metrics['inversion_psnr'])
  assert set(metrics['judge_after']) >= {'Male', 'Young'}
  sweep = np.asarray(Image.open(out / 'face_sweep.png'))
  assert sweep.shape == (2 + 16 + 2, 2 + 4 * 18, 3)          # input + 3 strengths, 16 px tiles
  assert (out / 'face_edited.png').exists() and (out / 'face_original.png').exists()


def test_edit_errors_are_clear(trained, tmp_path):
  config, workdir = trained
  if not os.path.exists(os.path.join(workdir, 'edits', 'directions.npz')):
    gan_editing.find_directions(config, workdir)
  with pytest.raises(errors.ConfigError, match='no direction named'):
    gan_editing.edit_images(config, workdir, output=str(tmp_path), edit='Bald:+1')
  with pytest.raises(errors.ConfigError, match='NAME:STRENGTH'):
    gan_editing.edit_images(config, workdir, output=str(tmp_path), edit='Male')
  with pytest.raises(errors.ConfigError, match='--edit'):
    gan_editing.edit_images(config, workdir, output=str(tmp_path))
  metrics = gan_editing.edit_images(config, workdir, output=str(tmp_path), edit='Male:+1')
  assert len(metrics['judge_before']['Male']) == 2 and (tmp_path / 'seed0_1_sweep.png').exists()


def test_restore_fills_a_hole_from_the_generator(trained, tmp_path):
  config, workdir = trained
  config = _config(config.edit.judge)
  config.edit.update(invert_steps=300, invert_space='w', invert_lr=0.1)
  gen = gan_editing.load_editable(config, workdir)
  z = np.asarray(jax.random.normal(jax.random.key(5), (1, gen.latent_dim)))
  image = np.asarray(gen.renderer('w')(gen.edit_latents(z), gen.noise(config.edit.seed, 1)))
  hole = np.zeros((1, 16, 16, 1), np.float32)
  hole[:, 4:10, 5:12] = 1.0
  generated, restored, metrics = gan_editing.restore_arrays(gen, image, hole, config)
  inside = hole[..., 0] > 0
  np.testing.assert_array_equal(restored[~inside], image[~inside])       # known pixels kept
  fill_error = np.abs(restored - image)[inside].mean()
  assert fill_error < 1e-2 * np.abs(image)[inside].mean(), fill_error   # the hole is recovered
  assert metrics['hole_fraction'] == pytest.approx(42 / 256)
  assert metrics['psnr_known_pixels'][0] > 40
  # The CLI: files in, files out; the known pixels of the input file come back unchanged.
  Image.fromarray(base.float_to_uint8(np.clip(image[0], -1, 1))).save(tmp_path / 'img.png')
  Image.fromarray((hole[0, ..., 0] * 255).astype(np.uint8)).save(tmp_path / 'hole.png')
  config.edit.invert_steps = 5
  gan_editing.restore_images(config, workdir, input=str(tmp_path / 'img.png'),
                             output=str(tmp_path / 'out'), mask=str(tmp_path / 'hole.png'))
  written = np.asarray(Image.open(tmp_path / 'out' / 'img_restored.png'))
  np.testing.assert_array_equal(written[~inside[0]], np.asarray(Image.open(tmp_path / 'img.png'))[
      ~inside[0]])
  with open(tmp_path / 'out' / 'metrics.json') as f:
    assert json.load(f)['hole_fraction'] == pytest.approx(42 / 256)
  assert (tmp_path / 'out' / 'img_grid.png').exists()


def test_inversion_with_noise_returns_the_noise_it_optimised(trained):
  config, workdir = trained
  config = _config(config.edit.judge)
  gen = gan_editing.load_editable(config, workdir)
  images = np.asarray(jax.random.uniform(jax.random.key(6), (2, 16, 16, 3), minval=-1, maxval=1))
  noise = gen.noise(config.edit.seed, 2)
  fixed_latents, fixed_noise = gan_editing.invert_images(gen, images, config, noise)
  for before, after in zip(noise, fixed_noise, strict=True):   # invert_noise off: untouched
    np.testing.assert_array_equal(after, before)
  config.edit.invert_noise = True
  latents, optimised = gan_editing.invert_images(gen, images, config, noise)
  assert latents.shape == fixed_latents.shape == (2, gen.num_ws, 8)
  assert len(optimised) == len(noise)
  for before, after in zip(noise, optimised):      # changed, and renormalised as the projector does
    assert after.shape == before.shape and not np.allclose(after, before)
    np.testing.assert_allclose([float(np.mean(after)), float(np.std(after))], [0.0, 1.0],
                               atol=1e-3)
  # restore_arrays renders the inverted latents with the optimised maps, not the fixed ones.
  generated, _, _ = gan_editing.restore_arrays(gen, images, None, config)
  np.testing.assert_allclose(generated, gen.renderer('w+')(latents, optimised), atol=1e-5)


def test_pivotal_tuning_raises_the_reconstruction_psnr_and_leaves_the_loaded_g_alone(trained):
  config, workdir = trained
  config = _config(config.edit.judge)
  gen = gan_editing.load_editable(config, workdir)
  original = jax.tree.map(np.array, gen.variables)
  images = np.asarray(jax.random.uniform(jax.random.key(7), (2, 16, 16, 3), minval=-1, maxval=1))
  _, _, plain = gan_editing.restore_arrays(gen, images, None, config)
  config.edit.update(pti_steps=60, pti_lr=1e-2, pti_locality=0.1)
  _, _, tuned = gan_editing.restore_arrays(gen, images, None, config)
  assert all(t > p + 0.5 for t, p in zip(tuned['psnr_known_pixels'], plain['psnr_known_pixels'])), (
      plain, tuned)
  for a, b in zip(jax.tree.leaves(original), jax.tree.leaves(gen.variables), strict=True):
    np.testing.assert_array_equal(a, b)
  for field, value, message in (('pti_lr', 0.0, 'pti_lr'), ('pti_steps', -1, '>= 0'),
                                ('invert_space', 'z', "'w' or 'w\\+'")):
    bad = _config(config.edit.judge)
    bad.edit.update({'pti_steps': 5, field: value})
    with pytest.raises(errors.ConfigError, match=message):
      gan_editing.load_editable(bad, workdir)
