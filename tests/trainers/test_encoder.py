"""The e4e-style encoder (trainer 'encoder') against a smoke StyleGAN trained once per module."""

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import encoder as encoder_config
from configs import stylegan as stylegan_config
from gan_jax import errors
from gan_jax import losses
from gan_jax import sharding
from gan_jax import data as data_lib
from gan_jax.data import loader as loader_lib
from gan_jax.models import encoder as models
from gan_jax.trainers import encoder
from gan_jax.trainers import gan
from gan_jax.trainers import gan_editing
from gan_jax.trainers import loop
from tests.main_runner import run_main


@pytest.fixture(scope='module')
def generator_workdir(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('stylegan'))
  config = stylegan_config.get_config('smoke')
  config.num_steps = 1
  config.loss.r1_gamma = 0.0           # G's quality is irrelevant here: compile the step faster
  gan.train_and_evaluate(config, workdir)
  return workdir


def _config(generator_workdir, **loss):
  config = encoder_config.get_config('smoke')
  config.encoder.generator = generator_workdir
  config.loss.update(**loss)
  return config


@pytest.fixture(scope='module')
def encoder_run(generator_workdir, tmp_path_factory):
  """main.py --config=configs/encoder.py:smoke: 4 steps, checkpoints, samples and an eval."""
  workdir = str(tmp_path_factory.mktemp('encoder'))
  result = run_main('--config=configs/encoder.py:smoke', f'--workdir={workdir}',
                    f'--config.encoder.generator={generator_workdir}')
  return workdir, result


@pytest.fixture(scope='module')
def fresh(generator_workdir):
  """(config, networks, optimizer, initial state) of a smoke encoder on that generator."""
  config = _config(generator_workdir)
  nets = encoder.build_networks(config)
  tx = encoder.make_optimizer(config)
  init = encoder.make_init_state(nets, tx, 16, encoder.load_frozen(config, nets))
  return config, nets, tx, jax.jit(init, compiler_options=loop.FAST_COMPILE)(jax.random.key(0))


def _batch(config, size=8):
  return next(loader_lib.ordered_batches(data_lib.make_source(config.data, 'train'), size))


def test_encoder_shapes_and_near_w_avg_start():
  model = models.Encoder(num_ws=8, w_dim=6, widths=(4, 8), hidden_dim=16)
  params = jax.jit(model.init)(jax.random.key(0), jnp.zeros((3, 16, 16, 3)))
  base, deltas = jax.jit(model.apply)(params, jax.random.uniform(jax.random.key(1),
                                                                 (3, 16, 16, 3)))
  chex.assert_shape(base, (3, 6))
  chex.assert_shape(deltas, (3, 8, 6))
  np.testing.assert_array_equal(deltas[:, 0], 0.0)      # layer 0 is the shared w itself
  w_avg = jnp.arange(6.0)
  ws = models.compose_ws(w_avg, base, deltas)
  chex.assert_shape(ws, (3, 8, 6))
  np.testing.assert_allclose(ws[:, 0], w_avg + base, rtol=1e-6)
  assert float(jnp.max(jnp.abs(ws - w_avg))) < 0.5        # small heads: E starts about at w_avg
  with pytest.raises(errors.ConfigError, match='widths'):
    models.check_image_size(16, (4, 8, 8, 8, 8))


def test_losses_by_hand():
  deltas = jnp.asarray([[[3.0, 4.0], [0.0, 0.0]],      # norms 5, 0
                        [[6.0, 8.0], [1.0, 0.0]]])     # norms 10, 1
  np.testing.assert_allclose(losses.delta_regularization(deltas), (5 + 0 + 10 + 1) / 2, rtol=1e-5)
  grad = jax.grad(losses.delta_regularization)(deltas)
  assert np.all(np.isfinite(grad)) and float(jnp.abs(grad[0, 1]).max()) == 0.0
  np.testing.assert_allclose(grad[0, 0], [0.3, 0.4], rtol=1e-5)        # d||v||/dv / batch 2
  predicted, target = jnp.ones((2, 3, 4)), jnp.zeros((2, 3, 4)).at[0, 0, 0].set(3.0)
  np.testing.assert_allclose(losses.latent_mse(predicted, target), (4.0 + 23) / 24, rtol=1e-6)


@pytest.fixture(scope='module')
def sharded_step(fresh):
  """One step of the loop's compiled program on the 8-device mesh: (before, after, metrics)."""
  config, nets, tx, state = fresh
  mesh = sharding.make_mesh()
  assert mesh.devices.size == 8
  batch = sharding.global_batch(_batch(config), mesh)
  before = jax.device_get(state)
  replicated = sharding.replicate(before, mesh)     # from host copies: donating it frees no
  step, _ = loop.compile_step(encoder.make_train_step(nets, tx, config.loss), mesh,  # fixture
                              replicated, batch, jax.random.key(1))
  after, metrics = step(replicated, batch, jax.random.key(1))
  return before, jax.device_get(after), jax.device_get(metrics)


def test_one_sharded_step_trains_only_the_encoder(sharded_step):
  before, after, metrics = sharded_step
  assert set(metrics) == {'loss', 'pixel_l2', 'pixel_l1', 'delta_reg', 'latent_mse'}
  assert all(np.isfinite(float(v)) for v in metrics.values())
  assert int(after.step) == 1
  jax.tree.map(np.testing.assert_array_equal, after.frozen, before.frozen)   # G bit-identical
  changed = jax.tree.leaves(jax.tree.map(lambda a, b: not np.array_equal(a, b), after.params,
                                         before.params))
  assert all(changed), 'every parameter of E gets a gradient'


def test_loss_weights_by_hand_on_a_tiny_case(fresh, generator_workdir):
  _, nets, _, state = fresh
  config = _config(generator_workdir, pixel_l2=0.0, pixel_l1=0.0, lambda_delta=2.0,
                   lambda_latent=3.0)
  images = jnp.asarray(_batch(config, 4)['image'])
  ws, deltas = jax.jit(encoder.encode_ws, static_argnums=0)(
      nets.encoder, state.params, state.frozen['generator'], images)
  w_true = jnp.zeros((1,) + ws.shape[1:])
  loss, metrics = jax.jit(encoder.make_loss_fn(nets, config.loss))(state.params, state.frozen,
                                                                   images, w_true)
  norms = np.sqrt(np.sum(np.square(np.asarray(deltas[:, 1:], np.float64)), -1))
  np.testing.assert_allclose(metrics['delta_reg'], norms.sum(1).mean(), rtol=1e-4)
  np.testing.assert_allclose(metrics['latent_mse'], np.mean(np.square(ws[3:])), rtol=1e-5)
  np.testing.assert_allclose(loss, 2 * metrics['delta_reg'] + 3 * metrics['latent_mse'],
                             rtol=1e-5)
  assert encoder.num_generated(8, config.loss) == 2
  assert encoder.num_generated(8, _config(generator_workdir, lambda_latent=0.0).loss) == 0


def test_steps_on_a_fixed_batch_lower_the_loss_and_match_8_devices(fresh, sharded_step):
  config, nets, tx, state = fresh
  step = jax.jit(encoder.make_train_step(nets, tx, config.loss))    # one device
  batch = {'image': jnp.asarray(_batch(config)['image'])}
  history = []
  for _ in range(40):     # one key: G's samples (2 of the 8 rows) are the same at every step
    state, metrics = step(state, batch, jax.random.fold_in(jax.random.key(1), 0))
    history.append(jax.device_get(metrics))
  for name, value in sharded_step[2].items():
    np.testing.assert_allclose(history[0][name], value, rtol=1e-5, err_msg=name)
  pixel = [float(m['pixel_l2']) for m in history]
  latent = [float(m['latent_mse']) for m in history]
  assert pixel[-1] < 0.8 * pixel[0], pixel[::5]
  assert latent[-1] < 0.8 * latent[0], latent[::5]


def test_feature_loss_uses_the_judges_penultimate_features(fresh, generator_workdir,
                                                          smoke_judge):
  config = _config(generator_workdir, feature_weight=1.0, lambda_latent=0.0)
  config.encoder.feature_judge = smoke_judge
  nets = encoder.build_networks(config)
  frozen = encoder.load_frozen(config, nets)
  assert set(frozen) == {'generator', 'judge'}
  state = fresh[3].replace(frozen=frozen)
  images = jnp.asarray(_batch(config, 4)['image'])
  loss, metrics = jax.jit(encoder.make_loss_fn(nets, config.loss))(state.params, state.frozen,
                                                                   images, None)

  @jax.jit
  def by_hand(params, frozen, images):
    ws, _ = encoder.encode_ws(nets.encoder, params, frozen['generator'], images)
    reconstruction = encoder.synthesize(nets.generator, frozen['generator'], ws)
    features = lambda x: nets.judge.apply(frozen['judge'], x)[1]    # [B, widths[-1]]
    return jnp.mean(jnp.square(features(reconstruction) - features(images)))

  np.testing.assert_allclose(metrics['feature'], by_hand(state.params, frozen, images),
                             rtol=1e-5)
  assert float(metrics['feature']) > 0
  np.testing.assert_allclose(loss, metrics['pixel_l2'] + metrics['feature'] +
                             2e-4 * metrics['delta_reg'], rtol=1e-5)


def test_generator_errors_are_clear_and_early(generator_workdir, tmp_path):
  with pytest.raises(errors.ConfigError, match='config.encoder.generator is empty'):
    encoder.make_task(_config(''), str(tmp_path / 'a'))
  with pytest.raises(errors.ConfigError, match='does not exist'):
    encoder.make_task(_config(str(tmp_path / 'missing')), str(tmp_path / 'b'))
  (tmp_path / 'empty').mkdir()
  with pytest.raises(errors.ConfigError, match='no config.json'):
    encoder.make_task(_config(str(tmp_path / 'empty')), str(tmp_path / 'c'))
  dcgan_dir = tmp_path / 'dcgan'
  dcgan_dir.mkdir()
  (dcgan_dir / 'config.json').write_text(json.dumps({'trainer': 'gan',
                                                     'model': {'name': 'dcgan'}}))
  with pytest.raises(errors.ConfigError, match='not a StyleGAN'):
    encoder.make_task(_config(str(dcgan_dir)), str(tmp_path / 'd'))
  config = _config(generator_workdir)
  config.data.image_size = 32
  with pytest.raises(errors.ConfigError, match='makes 16 px images'):
    encoder.make_task(config, str(tmp_path / 'e'))
  untrained = tmp_path / 'untrained'
  untrained.mkdir()
  with open(os.path.join(generator_workdir, 'config.json')) as f:
    (untrained / 'config.json').write_text(f.read())
  with pytest.raises(errors.ConfigError, match='checkpoints'):
    encoder.make_task(_config(str(untrained)), str(tmp_path / 'f'))
  with pytest.raises(errors.ConfigError, match='feature_judge'):
    encoder.make_task(_config(generator_workdir, feature_weight=1.0), str(tmp_path / 'g'))


def test_main_trains_checkpoints_and_evaluates(encoder_run):
  workdir, result = encoder_run
  assert result.returncode == 0, result.stderr[-3000:]
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['2', '4']
  with open(os.path.join(workdir, 'eval', '0000004.json')) as f:
    record = json.load(f)
  for key in ('eval/psnr', 'eval/ssim', 'eval/latent_mse_generated', 'eval/psnr_generated'):
    assert np.isfinite(record[key]), key
  assert record['eval/encode_seconds_per_image'] > 0 and record['num_images'] == 16
  assert os.path.exists(os.path.join(workdir, 'samples', 'step_0000004.png'))


def test_invert_images_with_the_encoder_and_no_steps_is_e_of_x(encoder_run, generator_workdir):
  workdir, result = encoder_run
  assert result.returncode == 0, result.stderr[-3000:]
  config = stylegan_config.get_config('smoke')
  config.edit.update(encoder=workdir, invert_steps=0)
  gen = gan_editing.load_editable(config, generator_workdir)
  images = _batch(config, 3)['image']
  ws = encoder.encode(None, workdir, images)
  chex.assert_shape(ws, (3, gen.num_ws, 8))
  inverted, _ = gan_editing.invert_images(gen, images, config, gen.noise(0, 3))
  np.testing.assert_array_equal(inverted, ws)
  config.edit.invert_steps = 2       # E(x) is the start of the w+ optimisation
  assert gan_editing.invert_images(gen, images, config, gen.noise(0, 3))[0].shape == ws.shape
