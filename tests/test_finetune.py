"""Fine-tuning a trained GAN (gan_jax.finetune through the 'gan' trainer): which weights train,
frozen ones stay bit-identical, LoRA starts as the pretrained G, loading, errors, resume."""

import functools
import json
import os
import shutil

import jax
import numpy as np
import pytest
from flax import traverse_util

from configs import dcgan as dcgan_config
from configs import stylegan as stylegan_config
from gan_jax import checkpoint
from gan_jax import errors
from gan_jax import finetune
from gan_jax.trainers import gan
from gan_jax.trainers import loop
from tests.trainers.test_gan import a_batch
from tests.trainers.test_loop import host_leaves, sigterm_at

CONFIGS = {'stylegan': stylegan_config, 'dcgan': dcgan_config}


def smoke_config(model, **finetune_settings):
  config = CONFIGS[model].get_config('smoke')
  config.update(tensorboard=False, sample_every=100)
  config.loss.r1_gamma = 0.0     # one step variant ('dg') to compile
  config.finetune.update(finetune_settings)
  return config


def names(mask, value=True):
  """'/'-joined paths of the leaves of a mask equal to value."""
  return {'/'.join(p) for p, t in traverse_util.flatten_dict(mask).items() if t == value}


def leaves_by_name(tree):
  return {'/'.join(p): np.asarray(v) for p, v in
          traverse_util.flatten_dict(jax.device_get(tree)).items()}


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
  """Per model: a 'pretrained' workdir (seed-1 networks whose G params differ from G's EMA, saved
  as step 2 without training), its exported generator .npz and the saved state."""
  runs = {}
  for model in CONFIGS:
    config = smoke_config(model)
    workdir = str(tmp_path_factory.mktemp(f'pretrained_{model}'))
    nets = gan.build_networks(config)
    g_tx, d_tx = gan.make_optimizers(config)
    init = gan.make_init_state(nets, g_tx, d_tx, config.data.image_size)
    state = jax.jit(init, compiler_options=loop.FAST_COMPILE)(jax.random.key(1))
    state = state.replace(step=state.step + 2,
                          g_params=jax.tree.map(lambda x: x + 1.0, state.g_params))
    manager = checkpoint.make_manager(workdir)
    checkpoint.save(manager, 2, state)
    manager.wait_until_finished()
    manager.close()
    with open(os.path.join(workdir, 'config.json'), 'w') as f:
      f.write(config.to_json_best_effort())
    npz = gan.export_generator(config, workdir, os.path.join(workdir, 'g.npz'))
    runs[model] = workdir, npz, jax.device_get(state)
  return runs


def init(config, workdir):
  """(networks, initial state, compiled 'dg' step) of a fine-tune config."""
  nets = gan.build_networks(config)
  g_tx, d_tx = gan.make_optimizers(config)
  init_state = gan.configured_init_state(config, nets, g_tx, d_tx, workdir)
  state = jax.jit(init_state, compiler_options=loop.FAST_COMPILE)(jax.random.key(0))
  steps, _ = gan.make_train_steps(nets, g_tx, d_tx, config)
  return nets, state, jax.jit(steps['dg'])


def test_masks_select_the_intended_leaves():
  config = smoke_config('stylegan', init_from='x', method='modulation', freeze_d_layers=1)
  gan.validate_config(config)
  nets = gan.build_networks(config)
  g, _, d, _ = jax.eval_shape(functools.partial(gan.init_networks, nets, 16), jax.random.key(0))
  g_fn, d_fn = finetune.mask_fns(config)
  convs = ('b4_conv', 'b8_conv0', 'b8_conv1', 'b16_conv0', 'b16_conv1')
  torgbs = ('b4_torgb', 'b8_torgb', 'b16_torgb')
  assert names(g_fn(g)) == (
      {f'synthesis/{c}/conv/affine/{p}' for c in convs for p in ('kernel', 'bias')} |
      {f'synthesis/{c}/noise_strength' for c in convs} |
      {f'synthesis/{t}/affine/{p}' for t in torgbs for p in ('kernel', 'bias')} |
      {f'synthesis/{t}_bias' for t in torgbs})
  # FreezeD 1: fromrgb and the 16 px block; the 8 px block and the 4x4 epilogue train.
  assert names(d_fn(d), False) == {'fromrgb/kernel', 'fromrgb/bias', 'b16_skip/kernel',
                                   'b16_conv0/kernel', 'b16_conv0/bias', 'b16_conv1/kernel',
                                   'b16_conv1/bias'}
  # LoRA: adapters A [k*k*Cin, r], B [r, Cout] on every conv kernel of G, nothing else trained.
  config.finetune.update(method='lora', lora_rank=3, freeze_d_layers=0)
  g_fn, d_fn = finetune.mask_fns(config)
  assert d_fn is None
  adapters = jax.eval_shape(lambda k: finetune.init_adapters(k, g, 3), jax.random.key(0))
  kernels = {f'synthesis/{c}/conv/kernel' for c in convs} | {f'synthesis/{t}/kernel'
                                                             for t in torgbs}
  adapter_names = names(jax.tree.map(lambda _: True, adapters))
  assert adapter_names == {f'{k}/{ab}' for k in kernels for ab in 'ab'}
  assert adapters['synthesis']['b4_conv']['conv']['kernel']['a'].shape == (3 * 3 * 8, 3)
  assert adapters['synthesis']['b16_torgb']['kernel']['b'].shape == (3, 3)
  assert names(g_fn({'base': g, 'lora': adapters})) == {f'lora/{n}' for n in adapter_names}
  # DCGAN: modulation = batch-norm scales and biases; FreezeD 2 of 2 blocks leaves the logit.
  config = smoke_config('dcgan', init_from='x', method='modulation', freeze_d_layers=2)
  gan.validate_config(config)
  g, _, d, _ = jax.eval_shape(functools.partial(gan.init_networks, gan.build_networks(config),
                                                16), jax.random.key(0))
  g_fn, d_fn = finetune.mask_fns(config)
  assert names(g_fn(g)) == {f'BatchNorm_{i}/{p}' for i in (0, 1) for p in ('scale', 'bias')}
  assert names(d_fn(d)) == {'logit/kernel'}
  assert finetune.mask_fns(smoke_config('dcgan', init_from='x')) == (None, None)


def test_trainable_fraction_by_hand():
  params = {'a': np.zeros((3, 4)), 'b': {'c': np.zeros(5)}, 'd': np.zeros(())}
  mask = {'a': True, 'b': {'c': False}, 'd': True}
  assert finetune.trainable_counts(params, mask) == (13, 18)
  assert finetune.trainable_fraction(params, mask) == pytest.approx(13 / 18)
  assert finetune.trainable_fraction(params) == 1.0


@pytest.mark.parametrize('model,method,freeze_d_layers', [
    ('stylegan', 'modulation', 1), ('stylegan', 'lora', 0), ('dcgan', 'freezed', 1)])
def test_frozen_weights_stay_bit_identical(pretrained, tmp_path, model, method,
                                           freeze_d_layers):
  workdir, _, saved = pretrained[model]
  config = smoke_config(model, init_from=workdir, method=method,
                        freeze_d_layers=freeze_d_layers)
  _, state, step = init(config, str(tmp_path))
  new = state
  for s in range(2):   # LoRA's A first moves on step 2 (B = 0 before)
    new, metrics = step(new, a_batch(), jax.random.key(s))
  assert all(np.isfinite(float(v)) for v in metrics.values())
  g_fn, d_fn = finetune.mask_fns(config)
  base = lambda params: params['base'] if method == 'lora' else params
  # G (and its EMA) start from the pretrained EMA generator, D from the pretrained D.
  for got, want in ((base(state.g_params), saved.g_ema), (base(state.g_ema), saved.g_ema),
                    (state.d_params, saved.d_params)):
    assert leaves_by_name(got).keys() == leaves_by_name(want).keys()
    for a, b in zip(jax.tree.leaves(jax.device_get(got)), jax.tree.leaves(want)):
      np.testing.assert_array_equal(a, b)
  num_frozen = 0
  for tree, fn in (('g_params', g_fn), ('g_ema', g_fn), ('d_params', d_fn)):
    before, after = leaves_by_name(getattr(state, tree)), leaves_by_name(getattr(new, tree))
    trained = names(fn(getattr(state, tree))) if fn else set(before)
    assert trained, tree
    for name in set(before) - trained:
      assert np.array_equal(after[name], before[name]), (tree, name)   # bit for bit
      num_frozen += 1
    for name in trained:
      assert not np.array_equal(after[name], before[name]), (tree, name)
  assert num_frozen
  record = finetune.summary(config, state.g_params, state.d_params)
  assert record['fraction'] == 1.0 if method == 'freezed' else 0 < record['fraction'] < 1
  assert record['d_fraction'] == 1.0 if not freeze_d_layers else 0 < record['d_fraction'] < 1


def test_lora_starts_as_the_pretrained_generator(pretrained, tmp_path):
  _, npz, _ = pretrained['stylegan']
  config = smoke_config('stylegan', init_from=npz, method='lora')
  nets, state, _ = init(config, str(tmp_path))
  z = gan.fixed_latents(config, 4)
  params, stats, _ = gan.load_generator(npz)
  plain = gan.build_networks(smoke_config('stylegan'))
  np.testing.assert_array_equal(gan.generate(nets, state.g_ema, state.g_stats, z),
                                gan.generate(plain, params, stats, z))


def test_init_from_a_workdir_or_an_exported_generator(pretrained, tmp_path):
  workdir, npz, saved = pretrained['dcgan']
  fresh = jax.jit(gan.make_task(smoke_config('dcgan'), str(tmp_path / 'fresh')).init_state,
                  compiler_options=loop.FAST_COMPILE)(jax.random.key(0))
  for source in (workdir, npz):
    out = str(tmp_path / os.path.basename(source))
    task = gan.make_task(smoke_config('dcgan', init_from=source), out)
    state = jax.device_get(jax.jit(task.init_state, compiler_options=loop.FAST_COMPILE)(
        jax.random.key(0)))
    for got, want in ((state.g_params, saved.g_ema), (state.g_ema, saved.g_ema),
                      (state.g_stats, saved.g_stats),
                      (state.d_params, saved.d_params if source == workdir else fresh.d_params)):
      for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_array_equal(a, b)
    with open(os.path.join(out, 'finetune.json')) as f:
      record = json.load(f)
    assert record['method'] == 'full' and record['fraction'] == 1.0
    assert record['trainable_params'] == record['total_params'] > 0


def test_bad_settings_and_sources_are_config_errors(pretrained, tmp_path):
  workdir, _, _ = pretrained['stylegan']
  for settings, message in [
      (dict(method='lora'), 'set config.finetune.init_from'),
      (dict(init_from='x', method='adapter'), 'choose one of'),
      (dict(init_from='x', method='freezed'), 'freeze_d_layers to 1..2'),
      (dict(init_from='x', freeze_d_layers=3), 'this D has 2 blocks'),
      (dict(init_from='x', method='lora', lora_rank=0), 'lora_rank')]:
    with pytest.raises(errors.ConfigError, match=message):
      gan.validate_config(smoke_config('stylegan', **settings))
  empty = tmp_path / 'empty'
  empty.mkdir()
  (tmp_path / 'notes.txt').write_text('not weights')
  wider = smoke_config('stylegan', init_from=workdir)
  wider.model.channel_max = 16
  for config, message in [
      (smoke_config('stylegan', init_from=str(tmp_path / 'missing')), 'does not exist'),
      (smoke_config('stylegan', init_from=str(empty)), 'holds no checkpoint'),
      (smoke_config('stylegan', init_from=str(tmp_path / 'notes.txt')), 'not a generator .npz'),
      (wider, r'g_params synthesis/\S+ has shape \(\d+,\) there but \(16,\) in this '
              r'config\. .*config\.json')]:
    with pytest.raises(errors.ConfigError, match=message):
      gan.make_task(config, str(tmp_path / 'ft'))


def test_interrupted_lora_finetune_resumes_bit_identically(pretrained, tmp_path):
  npz = str(tmp_path / 'g.npz')
  shutil.copy(pretrained['dcgan'][1], npz)
  config = smoke_config('dcgan', init_from=npz, method='lora', freeze_d_layers=1)
  config.update(num_steps=4, ckpt_every=100, sample_every=1)
  straight = loop.train(config, str(tmp_path / 'a'), gan.make_task(config, str(tmp_path / 'a')))
  workdir = str(tmp_path / 'b')
  stopped = loop.train(config, workdir, sigterm_at(gan.make_task(config, workdir), 2))
  assert int(stopped.step) == 2
  os.remove(npz)    # a resumed fine-tune reads its own checkpoint, not init_from
  resumed = loop.train(config, workdir, gan.make_task(config, workdir))
  assert int(resumed.step) == 4
  for a, b in zip(host_leaves(resumed), host_leaves(straight)):
    np.testing.assert_array_equal(a, b)
  base, _, _ = gan.load_generator(pretrained['dcgan'][1])
  for a, b in zip(host_leaves(resumed.g_params['base']), jax.tree.leaves(base)):
    np.testing.assert_array_equal(a, b)
  # The export merges the adapters: a plain generator rendering what the fine-tune renders.
  exported = gan.export_generator(config, workdir, str(tmp_path / 'ft.npz'))
  params, stats, step = gan.load_generator(exported)
  assert step == 4 and 'lora' not in params
  nets = gan.build_networks(config)
  z = gan.fixed_latents(config, 4)
  np.testing.assert_allclose(gan.generate(gan.build_networks(smoke_config('dcgan')), params,
                                          stats, z),
                             gan.generate(nets, resumed.g_ema, resumed.g_stats, z), atol=1e-6)
  with pytest.raises(errors.ConfigError, match='itself a LoRA fine-tune'):
    gan.make_task(smoke_config('dcgan', init_from=workdir), str(tmp_path / 'c'))
