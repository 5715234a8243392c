"""CycleGAN: the image pool's rule, the train step, sharding, exact resume, translate and eval."""

import json
import os
import shutil

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from PIL import Image

from configs import cyclegan as cyclegan_config
from gan_jax import checkpoint
from gan_jax import errors
from gan_jax import evaluation
from gan_jax import sharding
from gan_jax import train_state
from gan_jax.metrics import features
from gan_jax.trainers import cyclegan
from gan_jax.trainers import loop
from tests.main_runner import run_main

SIZE = 32


def trees_equal(a, b):
  return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


# ------------------------------------------------------------------------------------ image pool

def constant_images(values):
  """Images [N, 2, 2, 3] whose pixels all equal values[i]: identifiable after pooling."""
  return jnp.broadcast_to(jnp.asarray(values, jnp.float32)[:, None, None, None],
                          (len(values), 2, 2, 3))


def ids(images):
  return [float(v) for v in np.asarray(images)[:, 0, 0, 0]]


def test_pool_of_size_zero_returns_the_images_and_can_be_saved(tmp_path):
  pool = train_state.empty_pool(0, 2)
  images = constant_images([1.0, 2.0])
  new_pool, out = cyclegan.query_pool(pool, images, jax.random.key(0))
  assert out is images and new_pool is pool
  manager = checkpoint.make_manager(str(tmp_path), async_save=False)
  checkpoint.save(manager, 1, pool)
  restored = checkpoint.restore(manager, pool)
  manager.close()
  assert restored.images is None and int(restored.count) == 0


def test_pool_stores_and_returns_images_until_full():
  pool = train_state.empty_pool(3, 2)
  pool, out = cyclegan.query_pool(pool, constant_images([1.0, 2.0]), jax.random.key(0))
  assert ids(out) == [1.0, 2.0] and int(pool.count) == 2
  pool, out = cyclegan.query_pool(pool, constant_images([3.0]), jax.random.key(1))
  assert ids(out) == [3.0] and int(pool.count) == 3
  assert ids(pool.images) == [1.0, 2.0, 3.0]


def test_full_pool_swaps_half_the_time_and_keeps_every_image():
  """After filling: each image either passes (pool unchanged) or takes a uniformly chosen
  stored image's place, that stored image being returned. Images are conserved."""
  pool_size, batch = 5, 8
  pool = train_state.empty_pool(pool_size, 2)
  pool, _ = jax.jit(cyclegan.query_pool)(pool, constant_images(np.arange(pool_size) + 1.0),
                                         jax.random.key(0))
  query = jax.jit(cyclegan.query_pool)
  swaps, changed = 0, np.zeros(pool_size)
  for trial in range(200):
    new = 100.0 + trial * batch + np.arange(batch)
    before = ids(pool.images)
    pool, out = query(pool, constant_images(new), jax.random.key(trial + 1))
    after, out = ids(pool.images), ids(out)
    assert sorted(before + list(new)) == sorted(after + out)   # nothing lost or duplicated
    assert int(pool.count) == pool_size
    swaps += sum(o != n for o, n in zip(out, new))
    for i, value in enumerate(out):
      assert value == new[i] or value not in after   # a returned stored image left the pool
    changed += np.not_equal(before, after)
  rate = swaps / (200 * batch)
  assert 0.45 < rate < 0.55, rate   # 1600 draws: 4 standard deviations is +-0.05
  # The replaced slots are chosen uniformly.
  assert changed.min() > 0.7 * changed.mean()


def test_pool_is_the_same_for_a_sharded_batch():
  mesh = sharding.make_mesh()
  pool = train_state.empty_pool(4, 2)
  images = constant_images(np.arange(16) + 1.0)
  expected = jax.jit(cyclegan.query_pool)(pool, images, jax.random.key(3))
  sharded = jax.jit(cyclegan.query_pool, in_shardings=(
      sharding.replicated(mesh), sharding.batch_sharded(mesh), sharding.replicated(mesh)))
  got = sharded(sharding.replicate(pool, mesh), images, jax.random.key(3))
  chex.assert_trees_all_equal(jax.device_get(got), jax.device_get(expected))


# ------------------------------------------------------------------------------------ train step

@pytest.fixture(scope='module')
def steps():
  """The loop's compiled step, with plain SGD (a change is the gradient, scaled), on one device
  and on eight; the initial state and a batch. Widths 16: 4 channels leave instance-norm
  channels of near-zero variance that amplify float rounding."""
  config = cyclegan_config.get_config('smoke')
  config.model.update(ngf=16, ndf=16)
  generator, discriminator = cyclegan.build_models(config)
  sgd = optax.sgd(1e-2)
  init = cyclegan.make_init_state(generator, discriminator, sgd, sgd, SIZE, config.pool_size)
  step = cyclegan.make_train_step(generator, discriminator, sgd, sgd, cyclegan.LossWeights())
  initial = jax.device_get(jax.jit(init, compiler_options=loop.FAST_COMPILE)(jax.random.key(0)))
  rng = np.random.default_rng(0)
  batch = {d: rng.uniform(-1, 1, (8, SIZE, SIZE, 3)).astype(np.float32) for d in ('a', 'b')}
  runners = {}
  for count in (1, 8):
    mesh = sharding.make_mesh(jax.devices()[:count])
    global_batch = sharding.global_batch(batch, mesh)
    compiled, _ = loop.compile_step(step, mesh, sharding.replicate(initial, mesh), global_batch,
                                    sharding.replicate(jax.random.key(0), mesh))

    def run(state, seed, compiled=compiled, mesh=mesh, global_batch=global_batch):
      """(state after one step, metrics) on host; the step key is fold_in(key(seed), step)."""
      return jax.device_get(compiled(sharding.replicate(state, mesh), global_batch,
                                     sharding.replicate(jax.random.key(seed), mesh)))
    runners[count] = run
  return initial, runners


def changes(new, old):
  return jax.tree.map(lambda a, b: (a - b) / 1e-2, (new.g_params, new.d_params),
                      (old.g_params, old.d_params))


def test_step_updates_both_generators_and_discriminators(steps):
  initial, run = steps[0], steps[1][1]
  new, metrics = run(initial, 1)
  assert set(metrics) == set(cyclegan.METRICS)
  assert all(np.isfinite(float(v)) for v in metrics.values())
  for name in ('g_ab', 'g_ba'):
    assert not trees_equal(new.g_params[name], initial.g_params[name])
  for name in ('d_a', 'd_b'):
    assert not trees_equal(new.d_params[name], initial.d_params[name])
  assert int(new.step) == 1
  # The pools filled with fakes: 8 images offered to pools of 4.
  assert int(new.pool_a.count) == int(new.pool_b.count) == 4
  assert float(np.abs(new.pool_a.images).sum()) > 0
  terms = sum(float(metrics[k]) for k in cyclegan.METRICS if k.startswith('g/') and k != 'g/loss')
  np.testing.assert_allclose(float(metrics['g/loss']), terms, rtol=1e-5)
  # LSGAN values: D's loss is halved (a constant D of 0.5 would score 0.25).
  assert 0 < float(metrics['d/loss_a']) < 2 and 0 < float(metrics['g/cycle_a']) < 20


def test_step_is_deterministic_for_a_key(steps):
  initial, run = steps[0], steps[1][1]
  first, _ = run(initial, 5)
  a, b, c = run(first, 6)[0], run(first, 6)[0], run(first, 7)[0]
  assert trees_equal(a, b)
  # The key only draws the pool's choices (from a full pool): D sees other fakes.
  assert trees_equal(a.g_params, c.g_params)
  assert not trees_equal(a.d_params, c.d_params)


def test_one_device_equals_eight_devices(steps):
  """One step rather than two: D's instance norms over its last 3x3 and 4x4 maps at 32 px are
  ill-conditioned enough that a second step turns float-rounding differences into 1e-2 ones.
  The step already takes both branches of the pool (4 images fill it, 4 are drawn)."""
  assert jax.device_count() == 8
  initial, runners = steps
  (one, one_metrics), (eight, eight_metrics) = runners[1](initial, 3), runners[8](initial, 3)
  chex.assert_trees_all_close(one_metrics, eight_metrics, rtol=1e-5, atol=1e-6)
  chex.assert_trees_all_close((one.pool_a, one.pool_b), (eight.pool_a, eight.pool_b), rtol=1e-5,
                              atol=1e-5)
  one_changes, eight_changes = changes(one, initial), changes(eight, initial)
  # The conv biases just before an instance norm have a true gradient of 0 (the norm subtracts
  # them again; the official networks have them): there both runs hold float noise only.
  overall = max(float(np.abs(leaf).max()) for leaf in jax.tree.leaves(one_changes))
  for a, b in zip(jax.tree.leaves(one_changes), jax.tree.leaves(eight_changes)):
    scale = max(float(np.abs(a).max()), 1e-3 * overall)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-3 * scale)


@pytest.mark.parametrize('field,value,message', [
    ('data.crop_size', 30, 'multiple of 4'),
    ('data.load_size', 28, 'crop_size=32 must be in'),
    ('model.n_layers_d', 4, 'too small for the PatchGAN'),
    ('pool_size', -1, 'pool_size'),
    ('optim.decay_steps', 10, 'decay_steps'),
])
def test_invalid_configs_fail_before_anything_runs(field, value, message):
  config = cyclegan_config.get_config('smoke')
  section, _, key = field.rpartition('.')
  (config[section] if section else config)[key] = value
  with pytest.raises(errors.UserError, match=message):
    cyclegan.make_task(config, '/tmp/unused')


def test_direction_is_checked():
  assert cyclegan.check_direction(None) == 'AtoB'
  assert cyclegan.check_direction('BtoA') == 'BtoA'
  with pytest.raises(errors.ConfigError, match='AtoB .* or BtoA'):
    cyclegan.check_direction('AB')


# ----------------------------------------------------------------------- loop, resume, CLI, eval

def smoke_config():
  config = cyclegan_config.get_config('smoke')
  config.tensorboard = False
  return config


def host_leaves(state):
  return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(state))]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """:smoke trained 4 steps straight on 8 devices, checkpoints at 2 and 4."""
  workdir = str(tmp_path_factory.mktemp('cyclegan_smoke'))
  config = smoke_config()
  state = loop.train(config, workdir, cyclegan.make_task(config, workdir))
  return workdir, host_leaves(state)


def test_resumed_run_is_bit_identical(trained, tmp_path):
  workdir, expected = trained
  resumed_dir = str(tmp_path / 'resumed')
  shutil.copytree(workdir, resumed_dir)
  shutil.rmtree(os.path.join(resumed_dir, 'checkpoints', '4'))   # as if stopped after step 2
  config = smoke_config()
  state = loop.train(config, resumed_dir, cyclegan.make_task(config, resumed_dir))
  assert int(state.step) == 4
  got = host_leaves(state)
  assert len(got) == len(expected)
  for a, b in zip(got, expected):
    np.testing.assert_array_equal(a, b)


def test_run_writes_metrics_and_cycle_grids(trained):
  workdir, _ = trained
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    records = [json.loads(line) for line in f]
  assert [r['step'] for r in records] == [2, 4]
  for name in cyclegan.METRICS:
    assert all(np.isfinite(r[name]) for r in records), name
  grid = np.asarray(Image.open(os.path.join(workdir, 'samples', 'step_0000004.png')))
  # 2 test images per domain: 4 rows of real | fake | reconstruction.
  assert grid.shape == (2 + 4 * (SIZE + 2), 2 + 3 * (SIZE + 2), 3)


def test_translate_cli_writes_images_and_rejects_bad_input(trained, tmp_path):
  workdir, _ = trained
  inputs, output = tmp_path / 'in', tmp_path / 'out'
  inputs.mkdir()
  rng = np.random.default_rng(0)
  Image.fromarray(rng.integers(0, 255, (50, 40, 4), np.uint8), 'RGBA').save(inputs / 'a.png')
  Image.fromarray(rng.integers(0, 255, (30, 30), np.uint8), 'L').save(inputs / 'b.jpg')
  common = ('--config=configs/cyclegan.py:smoke', f'--workdir={workdir}', '--mode=translate',
            f'--input={inputs}', f'--output={output}')
  result = run_main(*common, '--direction=BtoA')
  assert result.returncode == 0, result.stderr[-3000:]
  # The shorter side becomes crop_size (32), the other keeps the aspect (rounded to 4 px).
  assert np.asarray(Image.open(output / 'a_fake.png')).shape == (40, 32, 3)
  assert np.asarray(Image.open(output / 'b_fake.png')).shape == (32, 32, 3)
  bad = run_main(*common, '--direction=sideways')
  assert bad.returncode == 2 and 'AtoB' in bad.stderr and 'Traceback' not in bad.stderr
  empty = run_main('--config=configs/cyclegan.py:smoke', f'--workdir={tmp_path / "none"}',
                   '--mode=translate', f'--input={inputs}', f'--output={output}')
  assert empty.returncode == 2 and 'train first' in empty.stderr


def mean_colour_extractor():
  """A tiny stand-in feature network: per-image channel means and standard deviations."""
  apply = lambda x: {'features': jnp.concatenate([x.mean(axis=(1, 2)), x.std(axis=(1, 2))], -1)}
  return features.Extractor(name='mean_colour', description='mean colour (test)', input_size=SIZE,
                            feature_dim=6, comparable_to_papers=False, apply=apply)


def test_eval_writes_cycle_errors_and_fids(trained, tmp_path, monkeypatch):
  workdir, _ = trained
  config = smoke_config()
  config.eval.cache_dir = str(tmp_path / 'cache')
  result = cyclegan.evaluate(config, workdir)     # no Inception weights here: cycle error only
  assert result['extractor'] == 'none' and 'fid_AtoB' not in result
  assert result['num_images_A'] == result['num_images_B'] == 8
  assert 0 < result['cycle_l1_A'] < 2 and 0 < result['cycle_l1_B'] < 2
  monkeypatch.setattr(evaluation, 'configured_extractor', lambda e: mean_colour_extractor())
  result = cyclegan.evaluate(config, workdir)
  for key in ('fid_AtoB', 'fid_BtoA', 'kid_AtoB', 'fid_untranslated', 'cycle_ssim_A'):
    assert np.isfinite(result[key]), key
  with open(os.path.join(workdir, 'eval', '0000004.json')) as f:
    assert json.load(f)['fid_AtoB'] == result['fid_AtoB']
  assert os.path.exists(os.path.join(workdir, 'eval', 'report.html'))


def test_tiled_full_resolution_translation_equals_the_whole_image():
  from gan_jax import tiling   # pylint: disable=g-import-not-at-top
  config = cyclegan_config.get_config('smoke')
  generator, _ = cyclegan.build_models(config)
  params = generator.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  radius = tiling.receptive_field_radius(generator.apply, params, 96)
  image = np.random.default_rng(0).uniform(-1, 1, (70, 90, 3)).astype(np.float32)  # not % 4
  whole = cyclegan.translate_one(generator, params, image,
                                 tiling.TranslateOptions(full_resolution=True))
  margin = -(-radius // 4) * 4
  tiled = cyclegan.translate_one(generator, params, image, tiling.TranslateOptions(
      full_resolution=True, tile=32, tile_overlap=8, tile_margin=margin))
  assert whole.shape == tiled.shape == image.shape
  np.testing.assert_allclose(tiled, whole, atol=1e-4)
  with pytest.raises(errors.ConfigError, match='tile_overlap'):
    config.translate.tile, config.translate.tile_overlap = 32, 40
    tiling.translate_options(config, 4)
