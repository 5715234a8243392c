import json
import chex
import jax.numpy as jnp
import jax
import numpy as np
import optax
import pytest

from configs import stargan as stargan_config
from gan_jax import errors
from gan_jax import losses
from gan_jax import sharding
from gan_jax.trainers import loop
from gan_jax.trainers import stargan


@pytest.fixture(scope='module')
def setup():
  config = stargan_config.get_config('smoke')
  generator, discriminator = stargan.build_models(config)
  g_tx, d_tx = stargan.make_optimizers(config)
  init = stargan.make_init_state(generator, discriminator, g_tx, d_tx, 16, 5)
  steps, schedule = stargan.make_train_steps(generator, discriminator, g_tx, d_tx,
                                             stargan.LossWeights(), config.n_critic)
  rng = np.random.default_rng(0)
  batch = {'image': rng.uniform(-1, 1, (8, 16, 16, 3)).astype(np.float32),
           'label': (rng.random((8, 5)) > 0.5).astype(np.float32)}
  state = jax.jit(init, compiler_options=loop.FAST_COMPILE)(jax.random.key(0))
  jitted = {name: jax.jit(step) for name, step in steps.items()}
  return config, state, batch, jitted, schedule


def trees_equal(a, b):
  return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_d_step_changes_only_the_discriminator(setup):
  _, state, batch, steps, _ = setup
  new, metrics = steps['d'](state, batch, jax.random.key(1))
  assert trees_equal(new.g_params, state.g_params)
  assert trees_equal(new.g_opt_state, state.g_opt_state)
  assert not trees_equal(new.d_params, state.d_params)
  assert int(new.step) == int(state.step) + 1
  assert float(metrics['g/weight']) == 0.0
  assert all(np.isfinite(float(v)) for v in metrics.values())


def test_dg_step_changes_both_networks_with_finite_losses(setup):
  _, state, batch, steps, _ = setup
  new, metrics = steps['dg'](state, batch, jax.random.key(1))
  assert not trees_equal(new.g_params, state.g_params)
  assert not trees_equal(new.d_params, state.d_params)
  assert float(metrics['g/weight']) == 1.0
  assert float(metrics['g/loss_rec']) > 0
  assert all(np.isfinite(float(v)) for v in metrics.values())
  # The D half of a D+G step is the D step itself.
  d_only, _ = steps['d'](state, batch, jax.random.key(1))
  assert trees_equal(new.d_params, d_only.d_params)
  assert trees_equal(d_only.g_ema, state.g_ema)
  # Without a moving average (the paper), g_ema is the trained G itself.
  assert trees_equal(new.g_ema, new.g_params)


SGD_LR = 1e-2


def sgd_initial_state(generator, discriminator):
  """(plain SGD, the initial state with it). With SGD a parameter change is the gradient scaled
  by -SGD_LR; Adam's first update is lr * sign(g), which turns float noise in a near-zero
  gradient into a +-lr jump, so comparisons of two programs' updates use SGD."""
  sgd = optax.sgd(SGD_LR)
  init = stargan.make_init_state(generator, discriminator, sgd, sgd, 16, 5)
  return sgd, jax.jit(init, compiler_options=loop.FAST_COMPILE)(jax.random.key(0))


def test_g_ema_is_the_moving_average_of_the_trained_generator(setup):
  config, _, batch, _, _ = setup
  generator, discriminator = stargan.build_models(config)
  sgd, state = sgd_initial_state(generator, discriminator)
  decay = 0.9
  step = jax.jit(stargan.make_train_step(generator, discriminator, sgd, sgd,
                                         stargan.LossWeights(), update_g=True, ema_decay=decay))
  plain = jax.jit(stargan.make_train_step(generator, discriminator, sgd, sgd,
                                          stargan.LossWeights(), update_g=True))
  shifted = state.replace(g_ema=jax.tree.map(lambda x: x + 1.0, state.g_params))
  new, _ = step(shifted, batch, jax.random.key(1))
  without, _ = plain(shifted, batch, jax.random.key(1))
  # The average does not feed back into training: the same G and D updates as without it (two
  # programs, so equal up to float rounding; a G or D fed the shifted average moves elsewhere).
  for params in ('g_params', 'd_params'):
    for a, b, old in zip(*(jax.tree.leaves(getattr(s, params)) for s in (new, without, shifted))):
      change = np.asarray(b) - np.asarray(old)
      assert np.abs(change).max() > 0
      np.testing.assert_allclose(np.asarray(a) - np.asarray(old), change, rtol=0,
                                 atol=1e-4 * np.abs(change).max())
  expected = jax.tree.map(lambda e, p: decay * e + (1 - decay) * p, shifted.g_ema, new.g_params)
  chex.assert_trees_all_close(new.g_ema, expected, rtol=1e-6, atol=1e-6)
  assert not trees_equal(new.g_ema, new.g_params)


def test_step_is_deterministic_for_a_key(setup):
  _, state, batch, steps, _ = setup
  a, _ = steps['dg'](state, batch, jax.random.key(5))
  b, _ = steps['dg'](state, batch, jax.random.key(5))
  c, _ = steps['dg'](state, batch, jax.random.key(6))
  assert trees_equal(a, b)
  assert not trees_equal(a.d_params, c.d_params)


def test_generator_updates_every_n_critic_steps(setup):
  config, *_, schedule = setup
  names = [schedule(s) for s in range(3 * config.n_critic)]
  assert names.count('dg') == 3
  assert all(names[s] == 'dg' for s in range(config.n_critic - 1, len(names), config.n_critic))


def run_on_mesh(setup, devices):
  """One D+G loop step (the D update with its gradient penalty, then G's) with plain SGD
  (sgd_initial_state) on a mesh over `devices`; returns the parameter changes (gradients) and
  metrics on the host."""
  config, _, batch, _, _ = setup
  config = config.copy_and_resolve_references()
  # conv_dim 4 leaves instance-norm channels of near-zero variance whose gradients amplify float
  # rounding by ~1e2; 16 channels keep the comparison about sharding, not conditioning.
  config.model.update(g_conv_dim=16, d_conv_dim=16)
  generator, discriminator = stargan.build_models(config)
  sgd, state = sgd_initial_state(generator, discriminator)
  steps, _ = stargan.make_train_steps(generator, discriminator, sgd, sgd,
                                      stargan.LossWeights(), config.n_critic)
  mesh = sharding.make_mesh(devices)
  initial = jax.device_get(state)
  state = sharding.replicate(initial, mesh)   # a copy: the step donates it
  global_batch = sharding.global_batch(batch, mesh)
  key = sharding.replicate(jax.random.key(3), mesh)
  compiled, _ = loop.compile_step(steps['dg'], mesh, state, global_batch, key)
  state, metrics = compiled(state, global_batch, key)
  state = jax.device_get(state)
  changes = jax.tree.map(lambda new, old: (new - old) / SGD_LR, (state.g_params, state.d_params),
                         (initial.g_params, initial.d_params))
  return changes, metrics


def test_one_device_equals_eight_devices(setup):
  assert jax.device_count() == 8
  one_changes, one_metrics = run_on_mesh(setup, jax.devices()[:1])
  eight_changes, eight_metrics = run_on_mesh(setup, jax.devices())
  chex.assert_trees_all_close(jax.device_get(one_metrics), jax.device_get(eight_metrics),
                              rtol=1e-5, atol=1e-6)
  for one, eight in zip(jax.tree.leaves(one_changes), jax.tree.leaves(eight_changes)):
    scale = float(np.abs(one).max())
    assert scale > 0
    np.testing.assert_allclose(eight, one, rtol=0, atol=1e-3 * scale)


def test_linear_decay_schedule():
  schedule = stargan.linear_decay_schedule(1e-4, num_steps=200_000, decay_steps=100_000)
  np.testing.assert_allclose([schedule(0), schedule(100_000), schedule(150_000), schedule(200_000)],
                             [1e-4, 1e-4, 5e-5, 0.0], rtol=1e-6, atol=1e-12)


def test_invalid_configs_fail_before_anything_runs():
  config = stargan_config.get_config('smoke')
  config.data.image_size = 18
  with pytest.raises(errors.ConfigError, match='multiple of 4'):
    stargan.validate_config(config)
  config = stargan_config.get_config('smoke')
  config.model.d_repeat = 6
  with pytest.raises(errors.ConfigError, match='d_repeat'):
    stargan.validate_config(config)
  config = stargan_config.get_config('smoke')
  config.loss.diffaug = 'translation,mixup'
  with pytest.raises(errors.ConfigError, match='unknown DiffAugment policy'):
    stargan.validate_config(config)
  config = stargan_config.get_config('smoke')
  config.ema_decay = 1.0
  with pytest.raises(errors.ConfigError, match='ema_decay=1.0 must be in'):
    stargan.validate_config(config)
  config = stargan_config.get_config('smoke')
  config.batch_size = 6
  with pytest.raises(errors.ConfigError, match='divisible by the number of devices'):
    stargan.make_task(config, '/tmp/unused')


def test_diffaug_step_trains_both_networks_and_changes_what_d_sees(setup):
  config, state, batch, steps, _ = setup
  generator, discriminator = stargan.build_models(config)
  g_tx, d_tx = stargan.make_optimizers(config)
  augmented = jax.jit(stargan.make_train_step(generator, discriminator, g_tx, d_tx,
                                              stargan.LossWeights(diffaug='translation'),
                                              update_g=True))
  new, metrics = augmented(state, batch, jax.random.key(1))
  plain, plain_metrics = steps['dg'](state, batch, jax.random.key(1))
  assert all(np.isfinite(float(v)) for v in metrics.values())
  assert not trees_equal(new.g_params, state.g_params)
  assert float(metrics['d/loss_cls']) != float(plain_metrics['d/loss_cls'])


def test_translating_with_another_architecture_is_a_config_error(tmp_path):
  config = stargan_config.get_config('smoke')
  loop.write_config(config, str(tmp_path))
  stargan.check_matches_workdir(config, str(tmp_path))   # same config: fine
  config.model.d_conv_impl = 'xla'                        # lowering only: fine
  stargan.check_matches_workdir(config, str(tmp_path))
  config.model.g_residual = True
  with pytest.raises(errors.ConfigError, match='g_residual differs'):
    stargan.check_matches_workdir(config, str(tmp_path))
  # A workdir written before g_residual existed was trained with the paper's G.
  with open(tmp_path / 'config.json') as f:
    old = json.load(f)
  del old['model']['g_residual']
  with open(tmp_path / 'config.json', 'w') as f:
    json.dump(old, f)
  with pytest.raises(errors.ConfigError, match='trained with False, now True'):
    stargan.check_matches_workdir(config, str(tmp_path))
  config.model.g_residual = False
  stargan.check_matches_workdir(config, str(tmp_path))
  config.model.g_conv_dim = 8
  with pytest.raises(errors.ConfigError, match='g_conv_dim differs'):
    stargan.check_matches_workdir(config, str(tmp_path))
  with pytest.raises(errors.ConfigError, match='conv impl'):
    stargan.resolve_conv_impl('cudnn', on_cpu='im2col')


@pytest.mark.parametrize('lambda_idt', [0.0, 5.0])
def test_generator_gradient_equals_the_loss_written_out(setup, lambda_idt):
  """The step reuses G's first pass through its VJP; its G gradient must equal the gradient of
  the StarGAN generator loss written directly (yunjey/stargan's G update), plus the optional
  identity term lambda_idt * |G(x, c_org) - x|."""
  config, state, batch, _, _ = setup
  generator, discriminator = stargan.build_models(config)
  sgd = optax.sgd(1.0)
  step = jax.jit(stargan.make_train_step(generator, discriminator, sgd, optax.sgd(0.0),
                                         stargan.LossWeights(lambda_idt=lambda_idt),
                                         update_g=True))
  key = jax.random.key(7)
  new, metrics = step(state, batch, key)
  got = jax.tree.map(lambda old, updated: old - updated, state.g_params, new.g_params)

  perm_key, _ = jax.random.split(key)
  real, c_org = jnp.asarray(batch['image']), jnp.asarray(batch['label'])
  c_trg = c_org[jax.random.permutation(perm_key, real.shape[0])]

  def identity_term(g_params):
    return jnp.mean(jnp.abs(real - generator.apply(g_params, real, c_org)))

  def g_loss(g_params):
    fake = generator.apply(g_params, real, c_trg)
    src, cls = discriminator.apply(state.d_params, fake)   # D unchanged (lr 0)
    rec = generator.apply(g_params, fake, c_org)
    return (-jnp.mean(src) + 10.0 * jnp.mean(jnp.abs(real - rec))
            + losses.attribute_bce(cls, c_trg) + lambda_idt * identity_term(g_params))
  expected = jax.jit(jax.grad(g_loss))(state.g_params)
  chex.assert_trees_all_close(got, expected, rtol=1e-4, atol=1e-6)
  want_idt = float(identity_term(state.g_params)) if lambda_idt else 0.0
  np.testing.assert_allclose(float(metrics['g/loss_idt']), want_idt, rtol=1e-5)


def test_checkpoint_without_g_ema_restores_with_g_ema_equal_to_g_params(setup, tmp_path):
  """Workdirs trained before G's moving average existed still translate and evaluate."""
  from gan_jax import checkpoint  # pylint: disable=g-import-not-at-top
  config, state, _, _, _ = setup
  loop.write_config(config, str(tmp_path))
  shifted = state.replace(g_params=jax.tree.map(lambda x: x + 0.5, state.g_params))
  old_fields = {'step': shifted.step, 'g_params': shifted.g_params, 'd_params': shifted.d_params,
                'g_opt_state': shifted.g_opt_state, 'd_opt_state': shifted.d_opt_state}
  manager = checkpoint.make_manager(str(tmp_path), async_save=False)
  checkpoint.save(manager, 7, old_fields)
  manager.close()
  _, _, restored, step = stargan.restore_networks(config, str(tmp_path))
  assert step == 7
  assert trees_equal(restored.g_params, shifted.g_params)
  assert trees_equal(restored.g_ema, shifted.g_params)
  assert trees_equal(restored.d_params, shifted.d_params)
