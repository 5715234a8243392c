"""The unconditional GAN trainer (DCGAN): steps, stability options, sharding, resume."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import dcgan as dcgan_config
from configs import stylegan as stylegan_config
from gan_jax import errors
from gan_jax import losses
from gan_jax import sharding
from gan_jax import train_state
from gan_jax.trainers import gan
from gan_jax.trainers import loop
from tests.trainers.test_loop import host_leaves, sigterm_at


def build(config):
  nets = gan.build_networks(config)
  g_tx, d_tx = gan.make_optimizers(config)
  init = gan.make_init_state(nets, g_tx, d_tx, config.data.image_size)
  steps, schedule = gan.make_train_steps(nets, g_tx, d_tx, config)
  state = jax.jit(init, compiler_options=loop.FAST_COMPILE)(jax.random.key(0))
  return nets, state, {name: jax.jit(step) for name, step in steps.items()}, schedule


def a_batch(size=16, n=8):
  rng = np.random.default_rng(0)
  return {'image': rng.uniform(-1, 1, (n, size, size, 3)).astype(np.float32),
          'label': np.zeros((n, 5), np.float32)}


def trees_equal(a, b):
  return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.fixture(scope='module')
def smoke():
  config = dcgan_config.get_config('smoke')
  config.ema_decay = 0.5
  return (config,) + build(config)


def test_d_step_changes_only_the_discriminator(smoke):
  _, _, state, steps, _ = smoke
  new, metrics = steps['d'](state, a_batch(), jax.random.key(1))
  assert trees_equal(new.g_params, state.g_params) and trees_equal(new.g_ema, state.g_ema)
  assert trees_equal(new.g_opt_state, state.g_opt_state)
  assert not trees_equal(new.d_params, state.d_params)
  assert not trees_equal(new.d_stats, state.d_stats)     # batch-norm statistics moved
  assert float(metrics['g/weight']) == 0.0 and int(new.step) == 1


def test_dg_step_updates_g_and_its_moving_average(smoke):
  _, _, state, steps, _ = smoke
  new, metrics = steps['dg'](state, a_batch(), jax.random.key(1))
  assert not trees_equal(new.g_params, state.g_params)
  d_only, _ = steps['d'](state, a_batch(), jax.random.key(1))
  assert trees_equal(new.d_params, d_only.d_params)      # the D half is the D step
  # ema_decay 0.5: g_ema = (old ema + new params) / 2.
  chex.assert_trees_all_close(new.g_ema, jax.tree.map(lambda e, p: 0.5 * e + 0.5 * p,
                                                      state.g_ema, new.g_params), atol=1e-7)
  assert float(metrics['g/weight']) == 1.0
  assert all(np.isfinite(float(v)) for v in metrics.values())


def test_generator_gradient_equals_the_loss_written_out(smoke):
  config, nets, state, steps, _ = smoke
  batch, key = a_batch(), jax.random.key(3)
  new, _ = steps['dg'](state, batch, key)
  d_state, _ = steps['d'](state, batch, key)
  z = gan.sample_latents(jax.random.split(key)[0], 8, config.model.latent_dim)

  def g_loss(g_params):   # -log D(G(z)) against the updated D, everything recomputed
    fake, _ = nets.apply_g(g_params, state.g_stats, z)
    logits, _ = nets.apply_d(d_state.d_params, d_state.d_stats, fake)
    return losses.generator_loss('nonsaturating', logits)

  grads = jax.grad(g_loss)(state.g_params)
  tx, _ = gan.make_optimizers(config)
  updates, _ = tx.update(grads, state.g_opt_state, state.g_params)
  expected = jax.tree.map(jnp.add, state.g_params, updates)
  chex.assert_trees_all_close(new.g_params, expected, atol=1e-6)


@pytest.mark.parametrize('overrides', [   # hinge and lsgan: losses by hand in test_losses
    dict(adversarial='wgan', lambda_gp=10.0, d_norm='layer'),
    dict(r1_gamma=10.0, r1_every=2, d_norm='spectral', n_critic=2,
         diffaug='color,translation,cutout'),
])
def test_stability_options_train_with_finite_losses(overrides):
  config = dcgan_config.get_config('smoke')
  config.model.d_norm = overrides.pop('d_norm', 'batch')
  config.n_critic = overrides.pop('n_critic', 1)
  config.loss.update(overrides)
  gan.validate_config(config)
  _, state, steps, schedule = build(config)
  names = [schedule(s) for s in range(4)]
  if config.loss.r1_gamma:
    assert names == ['d_r1', 'dg', 'd_r1', 'dg']       # lazy R1 on even steps, G every 2nd
  else:
    assert names == ['dg'] * 4
  seen = []
  for s, name in enumerate(names):
    state, metrics = steps[name](state, a_batch(), jax.random.key(s))
    assert all(np.isfinite(float(v)) for v in metrics.values()), (name, metrics)
    seen.append(metrics)
  assert all(set(m) == set(seen[0]) for m in seen)    # the loop averages by name
  if config.loss.r1_gamma:
    assert float(seen[0]['r1/weight']) == 1 and float(seen[0]['r1/penalty']) > 0
    assert float(seen[1]['r1/weight']) == 0
  if config.model.d_norm == 'spectral':   # power-iteration vectors live in the state
    assert jax.tree.leaves(state.d_stats)


def test_invalid_configs_fail_before_anything_runs():
  config = dcgan_config.get_config('smoke')
  config.loss.lambda_gp = 10.0
  with pytest.raises(errors.ConfigError, match='batch norm in D'):
    gan.validate_config(config)
  for section, key, value, message in [('loss', 'adversarial', 'vanilla', 'choose one of'),
                                       ('model', 'name', 'biggan', 'choose one of'),
                                       ('model', 'd_norm', 'group', 'choose one of'),
                                       ('data', 'image_size', 24, 'power of two'),
                                       ('loss', 'diffaug', 'flip', 'DiffAugment policy')]:
    config = dcgan_config.get_config('smoke')
    config[section][key] = value
    with pytest.raises(errors.ConfigError, match=message):
      gan.validate_config(config)
  config = dcgan_config.get_config('smoke')
  config.ema_decay = 1.0
  with pytest.raises(errors.ConfigError, match='ema_decay'):
    gan.validate_config(config)
  config = dcgan_config.get_config('smoke')
  config.ema_rampup = -0.05
  with pytest.raises(errors.ConfigError, match='ema_rampup'):
    gan.validate_config(config)


def test_ema_rampup_shortens_the_half_life_early_in_training():
  decay = 0.5 ** (1 / 100)                   # a half-life of 100 steps
  assert train_state.ema_decay_at(10, decay, 0.0) == decay       # off: the configured decay
  assert train_state.ema_decay_at(10, 0.0, 0.05) == 0.0
  # ADA: half-life min(100, 0.05 * step) steps, so 0.5 ** (1 / (0.05 * step)) until step 2000.
  for step, half_life in ((20, 1.0), (200, 10.0), (1999, 99.95), (2000, 100.0), (10**6, 100.0)):
    np.testing.assert_allclose(float(train_state.ema_decay_at(step, decay, 0.05)),
                               0.5 ** (1 / half_life), rtol=1e-6)
  assert float(train_state.ema_decay_at(0, decay, 0.05)) == 0.0  # the EMA starts as G
  traced = jax.jit(lambda s: train_state.ema_decay_at(s, decay, 0.05))(jnp.asarray(200))
  np.testing.assert_allclose(float(traced), 0.5 ** 0.1, rtol=1e-6)


def test_dg_step_with_ema_rampup_uses_the_ramped_decay():
  config = dcgan_config.get_config('smoke')
  config.update(ema_decay=0.999, ema_rampup=0.05)
  _, state, steps, _ = build(config)
  state = state.replace(step=jnp.asarray(200, state.step.dtype))   # 200 steps done
  new, _ = steps['dg'](state, a_batch(), jax.random.key(1))
  beta = 0.5 ** (1 / (0.05 * 200))
  chex.assert_trees_all_close(new.g_ema, jax.tree.map(lambda e, p: beta * e + (1 - beta) * p,
                                                      state.g_ema, new.g_params), atol=1e-6)


def run_on_mesh(config, devices, num_steps):
  """num_steps steps on `devices`; returns the state and last metrics on the host."""
  mesh = sharding.make_mesh(devices)
  nets = gan.build_networks(config)
  g_tx, d_tx = gan.make_optimizers(config)
  init = gan.make_init_state(nets, g_tx, d_tx, config.data.image_size)
  steps, schedule = gan.make_train_steps(nets, g_tx, d_tx, config)
  task = loop.Task(init_state=init, train_steps=steps, step_schedule=schedule, loader=None)
  state = loop.init_state(task, 0, mesh)
  batch = sharding.global_batch(a_batch(), mesh)
  key = sharding.replicate(jax.random.key(0), mesh)
  for s in range(num_steps):
    compiled, _ = loop.compile_step(steps[schedule(s)], mesh, state, batch, key)
    state, metrics = compiled(state, batch, key)
  return jax.device_get(state), jax.device_get(metrics)


@pytest.mark.parametrize('config_module', [dcgan_config, stylegan_config])
def test_one_device_equals_eight_devices(config_module):
  # DCGAN: batch norm statistics over the global batch; StyleGAN: minibatch-stddev groups, R1.
  assert jax.device_count() == 8
  config = config_module.get_config('smoke')
  num_steps = 2 if config.model.name == 'dcgan' else 1   # StyleGAN's first step has R1
  one, one_metrics = run_on_mesh(config, jax.devices()[:1], num_steps)
  eight, eight_metrics = run_on_mesh(config, jax.devices(), num_steps)
  chex.assert_trees_all_close(one_metrics, eight_metrics, rtol=1e-5, atol=1e-6)
  chex.assert_trees_all_close(one, eight, rtol=1e-4, atol=1e-6)


def test_interrupted_run_resumes_bit_identically(tmp_path):
  config = dcgan_config.get_config('smoke')
  config.update(num_steps=4, ckpt_every=100, sample_every=1, tensorboard=False)
  straight = loop.train(config, str(tmp_path / 'a'), gan.make_task(config, str(tmp_path / 'a')))
  workdir = str(tmp_path / 'b')
  stopped = loop.train(config, workdir, sigterm_at(gan.make_task(config, workdir), 2))
  assert int(stopped.step) == 2
  resumed = loop.train(config, workdir, gan.make_task(config, workdir))
  assert int(resumed.step) == 4
  for a, b in zip(host_leaves(resumed), host_leaves(straight)):
    np.testing.assert_array_equal(a, b)


def test_main_trains_dcgan_and_evaluates_samples_with_a_classifier(smoke_judge, tmp_path):
  import json   # pylint: disable=g-import-not-at-top
  import os     # pylint: disable=g-import-not-at-top
  from tests.main_runner import run_main   # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path / 'dcgan')
  result = run_main('--config=configs/dcgan.py:smoke', f'--workdir={workdir}',
                    '--config.eval_every=4', f'--config.eval.judge={smoke_judge}',
                    f'--config.eval.cache_dir={tmp_path / "cache"}')
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(workdir, 'eval', '0000004.json')) as f:
    record = json.load(f)
  for key in ('fid', 'kid', 'precision', 'recall', 'density', 'coverage'):
    assert np.isfinite(record[key]), key
  assert record['num_images'] == 32 and record['extractor'].startswith('classifier ')
  assert os.path.exists(os.path.join(workdir, 'eval', 'report.html'))
  assert os.path.exists(os.path.join(workdir, 'samples', 'step_0000004.png'))
  again = run_main('--config=configs/dcgan.py:smoke', f'--workdir={workdir}', '--mode=eval',
                   f'--config.eval.judge={smoke_judge}',
                   f'--config.eval.cache_dir={tmp_path / "cache"}')
  assert again.returncode == 0, again.stderr[-3000:]
  with open(os.path.join(workdir, 'eval', '0000004.json')) as f:
    assert json.load(f)['fid'] == record['fid']      # same fixed latents, cached reference
  # Export G, then evaluate the exported file elsewhere: the same numbers.
  exported = str(tmp_path / 'g.npz')
  result = run_main('--config=configs/dcgan.py:smoke', f'--workdir={workdir}', '--mode=export',
                    f'--output={exported}')
  assert result.returncode == 0, result.stderr[-3000:]
  other = str(tmp_path / 'elsewhere')
  result = run_main('--config=configs/dcgan.py:smoke', f'--workdir={other}', '--mode=eval',
                    f'--input={exported}', f'--config.eval.judge={smoke_judge}',
                    f'--config.eval.cache_dir={tmp_path / "cache"}')
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(other, 'eval', '0000004.json')) as f:
    assert json.load(f)['fid'] == record['fid']


def test_stylegan_steps_use_lazy_r1_mixing_and_track_w_average():
  config = stylegan_config.get_config('smoke')
  gan.validate_config(config)
  nets, state, steps, schedule = build(config)
  assert nets.stochastic and nets.mixing_prob == 0.9
  assert [schedule(s) for s in range(4)] == ['dg_r1', 'dg', 'dg_r1', 'dg']
  new, metrics = steps['dg_r1'](state, a_batch(), jax.random.key(1))
  assert float(metrics['r1/weight']) == 1 and float(metrics['r1/penalty']) > 0
  assert not trees_equal(new.g_params, state.g_params)
  assert not trees_equal(new.g_stats, state.g_stats)          # w_avg moved
  # EMA with decay 0.9.
  chex.assert_trees_all_close(new.g_ema, jax.tree.map(lambda e, p: 0.9 * e + 0.1 * p,
                                                      state.g_ema, new.g_params), atol=1e-6)
  # Samples for grids and evals are deterministic (fixed noise seed, no mixing).
  z = gan.fixed_latents(config, 4)
  a = gan.generate(nets, new.g_ema, new.g_stats, z)
  np.testing.assert_array_equal(a, gan.generate(nets, new.g_ema, new.g_stats, z))
