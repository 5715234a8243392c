"""AdaIN: the maths of targets and blending, one training step, and the CLI end to end."""

import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from configs import adain as adain_config
from gan_jax import sharding
from gan_jax.models import adain as models
from gan_jax.style import adain as adain_lib
from gan_jax.style import losses
from gan_jax.trainers import adain as trainer
from tests.main_runner import run_main


def test_decoder_upsamples_by_the_encoders_factor():
  for factor, features in ((8, (1, 4, 5, 16)), (1, (2, 7, 6, 8))):
    decoder = models.Decoder(blocks=models.blocks_for_downsampling(factor), width=0.1)
    x = jnp.zeros(features)
    out = decoder.apply(decoder.init(jax.random.key(0), x), x)
    chex.assert_shape(out, (features[0], features[1] * factor, features[2] * factor, 3))


def test_blending_and_strength():
  rng = np.random.default_rng(0)
  fc = jnp.asarray(rng.normal(1.0, 2.0, (1, 4, 4, 6)), jnp.float32)
  s1 = jnp.asarray(rng.normal(-1.0, 0.5, (1, 3, 3, 6)), jnp.float32)
  s2 = jnp.asarray(rng.normal(3.0, 1.5, (1, 5, 5, 6)), jnp.float32)
  full = adain_lib.blended_target(fc, [s1, s2], jnp.array([1.0, 0.0]), 1.0)
  chex.assert_trees_all_close(full, losses.adain(fc, s1), atol=1e-6)
  chex.assert_trees_all_close(adain_lib.blended_target(fc, [s1, s2], jnp.array([.5, .5]), 0.0),
                              fc, atol=1e-6)
  half = adain_lib.blended_target(fc, [s1, s2], jnp.array([.3, .7]), 0.4)
  expected = 0.4 * (0.3 * losses.adain(fc, s1) + 0.7 * losses.adain(fc, s2)) + 0.6 * fc
  chex.assert_trees_all_close(half, expected, atol=1e-5)
  # With the content's own (whole-image) statistics, the tiled formula is the same function.
  c_mean, c_std = losses.channel_mean_std(fc)
  means, stds = [], []
  for s in (s1, s2):
    m, sd = losses.channel_mean_std(s)
    means.append(m[0])
    stds.append(sd[0])
  tiled = adain_lib.target_from_statistics(fc, c_mean[0], c_std[0], jnp.stack(means),
                                           jnp.stack(stds), jnp.array([.3, .7]), 0.4)
  chex.assert_trees_all_close(tiled, half, atol=1e-5)


def _write_folder(path, count, seed, size=24):
  os.makedirs(path, exist_ok=True)
  rng = np.random.default_rng(seed)
  for i in range(count):
    pixels = rng.integers(0, 255, (size, size + 4, 3), np.uint8)
    Image.fromarray(pixels).save(os.path.join(path, f'{i:03d}.png'))


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
  root = tmp_path_factory.mktemp('adain_data')
  _write_folder(str(root / 'content'), 6, 0)
  _write_folder(str(root / 'style'), 5, 1)
  return str(root / 'content'), str(root / 'style')


def _config(folders):
  config = adain_config.get_config('smoke')
  config.data.content_path, config.data.style_path = folders
  return config


def test_one_step_trains_only_the_decoder_and_matches_one_device(folders):
  config = _config(folders)
  task = trainer.make_task(config, '/nonexistent-unused')
  batch = task.loader.load(0)
  state = jax.jit(task.init_state)(jax.random.key(0))
  step = jax.jit(task.train_steps['train'])
  new_state, metrics = step(state, batch, jax.random.key(1))
  assert all(np.isfinite(float(v)) for v in metrics.values())
  chex.assert_trees_all_equal(new_state.encoder_params, state.encoder_params)
  changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), new_state.decoder_params,
                         state.decoder_params)
  assert all(jax.tree.leaves(changed))
  mesh = sharding.make_mesh()
  assert mesh.devices.size == 8
  sharded = jax.jit(task.train_steps['train'],
                    in_shardings=(sharding.replicated(mesh), sharding.batch_sharded(mesh), None))
  state8, metrics8 = sharded(state, batch, jax.random.key(1))
  chex.assert_trees_all_close(metrics8, metrics, rtol=1e-4)
  # Adam's first update is lr * g / |g| per element: where a gradient is ~0 the two summation
  # orders may give opposite signs (a 2 lr difference); everywhere else the updates agree.
  lr = config.optim.lr
  diff = np.concatenate([np.abs(np.asarray(a) - np.asarray(b)).ravel() for a, b in zip(
      jax.tree.leaves(state8.decoder_params), jax.tree.leaves(new_state.decoder_params))])
  assert diff.max() <= 2 * lr + 1e-6 and np.mean(diff > 1e-5) < 1e-3


def test_train_then_stylize_cli(folders, tmp_path):
  workdir, out = str(tmp_path / 'w'), str(tmp_path / 'out')
  overrides = [f'--config.data.content_path={folders[0]}', f'--config.data.style_path={folders[1]}']
  result = run_main('--config=configs/adain.py:smoke', f'--workdir={workdir}', *overrides)
  assert result.returncode == 0, result.stderr[-3000:]
  assert os.listdir(os.path.join(workdir, 'samples'))
  assert os.path.exists(os.path.join(workdir, 'eval', '2.json'))
  styles = ','.join(os.path.join(folders[1], f) for f in ('000.png', '001.png'))
  result = run_main('--config=configs/adain.py:smoke', f'--workdir={workdir}', *overrides,
                    '--mode=stylize', f'--content={folders[0]}', f'--style={styles}',
                    '--style_weights=0.3,0.7', f'--output={out}', '--config.stylize.alpha=0.5',
                    '--config.stylize.color=luminance')
  assert result.returncode == 0, result.stderr[-3000:]
  written = sorted(os.listdir(out))
  assert written == [f'{i:03d}_stylized.png' for i in range(6)]
  with Image.open(os.path.join(out, written[0])) as image:
    assert image.size == (32, 24)    # longer side 32 (config.stylize.size), multiples of 8
  bad = run_main('--config=configs/adain.py:smoke', f'--workdir={workdir}', *overrides,
                 '--mode=stylize', f'--content={folders[0]}', f'--style={styles}',
                 '--style_weights=1', f'--output={out}')
  assert bad.returncode != 0 and 'style weights' in bad.stderr


def test_tiled_stylization_equals_the_untiled_one():
  import types   # pylint: disable=g-import-not-at-top
  from gan_jax.style import feature_net   # pylint: disable=g-import-not-at-top
  from gan_jax.style import tiled_adain   # pylint: disable=g-import-not-at-top
  net = feature_net.adain_encoder_net('vgg19_random')
  decoder = models.Decoder(blocks=models.blocks_for_downsampling(8), width=0.05)
  decoder_params = decoder.init(jax.random.key(0), jnp.zeros((1, 4, 4, 512)))
  state = types.SimpleNamespace(encoder_params=net.params, decoder_params=decoder_params)
  rng = np.random.default_rng(0)
  content = rng.uniform(-1, 1, (96, 160, 3)).astype(np.float32)
  styles = [rng.uniform(-1, 1, (40, 40, 3)).astype(np.float32),
            rng.uniform(-0.5, 0.2, (48, 32, 3)).astype(np.float32)]
  weights = jnp.array([0.25, 0.75])
  untiled = np.asarray(adain_lib.stylize(
      net.features, net.params, lambda t: decoder.apply(decoder_params, t), net.adain_layer,
      jnp.asarray(content)[None], [jnp.asarray(s)[None] for s in styles], weights, 0.8))[0]
  # margin 64 > the encoder's receptive-field radius at relu4_1 (37 px from a feature pixel's
  # 8x8 cell, measured by its gradient): exact tiling.
  tiled = tiled_adain.stylize_tiled(net, decoder, state, content, styles, weights, 0.8,
                                    tile=64, overlap=16, margin=64)
  assert tiled.shape == untiled.shape
  scale = np.abs(untiled).max()
  np.testing.assert_allclose(tiled, untiled, atol=1e-4 * scale)
