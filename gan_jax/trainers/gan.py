"""Unconditional GANs on the shared loop: DCGAN or StyleGAN2-style (config.model.name).

Stability options every GAN config can use: DiffAugment before D (config.loss.diffaug, e.g.
'color,translation,cutout' for small datasets), the adversarial objective (config.loss.adversarial:
nonsaturating | hinge | lsgan | wgan), a WGAN-GP gradient penalty (lambda_gp), lazy R1 on real
images (r1_gamma every r1_every steps, weighted by r1_every as in StyleGAN2), spectral norm in D
(config.model.d_norm='spectral'), G's exponential moving average (ema_decay), separate G/D
learning rates and n_critic D updates per G update.

Fine-tuning a trained G (and D) on new data, fully or with most weights frozen (FreezeD, style
modulation only, LoRA adapters): config.finetune, see gan_jax.finetune.

Each step updates D once and, on steps with (step + 1) % n_critic == 0, then G once against the
updated D, reusing the fakes D just saw (and their VJP) as the PyTorch DCGAN example does.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from typing import Any, Callable

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import traverse_util

from gan_jax import augment
from gan_jax import checkpoint
from gan_jax import errors
from gan_jax import evaluation
from gan_jax import finetune
from gan_jax import image_io
from gan_jax import losses
from gan_jax import report
from gan_jax import sharding
from gan_jax import train_state
from gan_jax import data as data_lib
from gan_jax.data import loader as loader_lib
from gan_jax.models import dcgan
from gan_jax.models import layers
from gan_jax.models import stylegan
from gan_jax.trainers import loop

G_METRICS = ('g/loss',)
MODELS = ('dcgan', 'stylegan')


@dataclasses.dataclass(frozen=True)
class Networks:
  """G and D with their latent size; `apply_*` take (params, stats, input) -> (output, stats).

  A stochastic G (StyleGAN: noise inputs and style mixing) also takes a key; `mixing_prob` is
  its style-mixing probability in training. `g_params_fn` maps the G params a state holds to
  the generator's own (fine-tuning with LoRA: adapters merged into the frozen kernels).
  """
  generator: Any
  discriminator: Any
  latent_dim: int
  stochastic: bool = False
  mixing_prob: float = 0.0
  g_params_fn: Callable[[Any], Any] | None = None

  def generator_params(self, params):
    return params if self.g_params_fn is None else self.g_params_fn(params)

  def apply_g(self, params, stats, z, key=None, train: bool = True):
    kwargs = {}
    if self.stochastic:
      kwargs = dict(key=key, mixing_prob=self.mixing_prob if train else 0.0)
    return _apply(self.generator, self.generator_params(params), stats, z, train, **kwargs)

  def apply_d(self, params, stats, x, train: bool = True):
    return _apply(self.discriminator, params, stats, x, train)


def _apply(module, params, stats, x, train: bool, **kwargs):
  """module.apply with its non-trained collections updated in train mode; (output, stats)."""
  variables = {'params': params, **stats}
  if train and stats:
    out, new_stats = module.apply(variables, x, train=True, mutable=list(stats), **kwargs)
    return out, dict(new_stats)
  return module.apply(variables, x, train=train, **kwargs), stats


def validate_config(config: ml_collections.ConfigDict) -> None:
  """ConfigError for settings that cannot work, before any data is read or code compiled."""
  m, l = config.model, config.loss
  if m.name not in MODELS:
    raise errors.ConfigError(f'config.model.name={m.name!r}: choose one of {MODELS}')
  if m.name == 'stylegan':
    stylegan.resolutions(config.data.image_size)
  else:
    dcgan.num_up_blocks(config.data.image_size)
  d_norm = m.get('d_norm', 'none')
  if d_norm not in dcgan.D_NORMS:
    raise errors.ConfigError(f'config.model.d_norm={d_norm!r}: choose one of {dcgan.D_NORMS}')
  if l.adversarial not in losses.ADVERSARIAL_LOSSES:
    raise errors.ConfigError(f'config.loss.adversarial={l.adversarial!r}: choose one of '
                             f'{losses.ADVERSARIAL_LOSSES}')
  if (l.lambda_gp > 0 or l.r1_gamma > 0) and d_norm == 'batch':
    raise errors.ConfigError(
        'a gradient penalty (config.loss.lambda_gp or r1_gamma > 0) needs per-example gradients, '
        "which batch norm in D mixes across the batch: set config.model.d_norm to 'none', "
        "'layer' or 'spectral'.")
  if config.n_critic < 1 or l.r1_every < 1:
    raise errors.ConfigError(f'config.n_critic={config.n_critic} and config.loss.r1_every='
                             f'{l.r1_every} must be >= 1')
  try:
    augment.parse_policy(l.get('diffaug', ''))
  except ValueError as e:
    raise errors.ConfigError(f'config.loss.diffaug: {e}') from None
  if not 0.0 <= config.ema_decay < 1.0:
    raise errors.ConfigError(f'config.ema_decay={config.ema_decay} must be in [0, 1)')
  if config.get('ema_rampup', 0.0) < 0:
    raise errors.ConfigError(f'config.ema_rampup={config.ema_rampup} must be >= 0 (0 = off; '
                             'StyleGAN2-ADA uses 0.05)')
  finetune.validate(config)


def build_networks(config) -> Networks:
  m = config.model
  size = config.data.image_size
  if m.name == 'stylegan':
    generator = stylegan.Generator(
        image_size=size, z_dim=m.latent_dim, w_dim=m.w_dim, mapping_depth=m.mapping_depth,
        channel_base=m.channel_base, channel_max=m.channel_max)
    discriminator = stylegan.Discriminator(image_size=size, channel_base=m.channel_base,
                                           channel_max=m.channel_max)
    return Networks(generator, discriminator, m.latent_dim, stochastic=True,
                    mixing_prob=m.style_mixing,
                    g_params_fn=finetune.generator_params_fn(config.finetune))
  uses_penalty = config.loss.lambda_gp > 0 or config.loss.r1_gamma > 0
  generator = dcgan.Generator(
      image_size=size, base_dim=m.g_dim,
      conv_impl=layers.resolve_conv_impl(m.g_conv_impl, on_cpu='hybrid'))
  discriminator = dcgan.Discriminator(
      image_size=size, base_dim=m.d_dim, norm=m.d_norm,
      conv_impl=layers.resolve_conv_impl(
          m.d_conv_impl, on_cpu='im2col' if uses_penalty else 'hybrid'))
  return Networks(generator, discriminator, m.latent_dim,
                  g_params_fn=finetune.generator_params_fn(config.finetune))


def make_optimizers(config) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
  """Adam for G and D; with config.finetune, frozen params get exactly zero updates."""
  o = config.optim
  g_mask, d_mask = finetune.mask_fns(config)
  return (finetune.freeze(optax.adam(o.g_lr, b1=o.b1, b2=o.b2), g_mask),
          finetune.freeze(optax.adam(o.d_lr, b1=o.b1, b2=o.b2), d_mask))


def _split_variables(variables) -> tuple[Any, dict]:
  variables = dict(variables)
  return variables.pop('params'), variables


def init_networks(nets: Networks, image_size: int, key: jax.Array):
  """(g_params, g_stats, d_params, d_stats) of fresh networks."""
  g_key, d_key = jax.random.split(key)
  z = jnp.zeros((2, nets.latent_dim), jnp.float32)
  image = jnp.zeros((2, image_size, image_size, 3), jnp.float32)
  g_params, g_stats = _split_variables(nets.generator.init(g_key, z, train=False))
  if not g_stats and nets.stochastic:
    raise AssertionError('a stochastic G keeps its w average in a collection')
  d_params, d_stats = _split_variables(nets.discriminator.init(d_key, image, train=False))
  return g_params, g_stats, d_params, d_stats


def make_init_state(nets: Networks, g_tx, d_tx, image_size: int, start=None):
  """key -> UnconditionalGANState with fresh networks (g_ema starts equal to g_params); `start`
  (finetune.make_start) swaps in pretrained weights and LoRA adapters first."""
  def init_state(key: jax.Array) -> train_state.UnconditionalGANState:
    g_params, g_stats, d_params, d_stats = init_networks(nets, image_size, key)
    if start is not None:
      g_params, g_stats, d_params, d_stats = start(key, g_params, g_stats, d_params, d_stats)
    return train_state.UnconditionalGANState(
        step=jnp.zeros((), jnp.int32), g_params=g_params, d_params=d_params,
        g_opt_state=g_tx.init(g_params), d_opt_state=d_tx.init(d_params),
        g_stats=g_stats, d_stats=d_stats, g_ema=g_params)
  return init_state


def load_pretrained(config, nets: Networks) -> dict:
  """The weights of config.finetune.init_from, checked against this config's networks:
  {'g_params', 'g_stats'} from a generator .npz (--mode=export), plus 'd_params', 'd_stats'
  from a workdir's latest checkpoint (G = its EMA weights, as an export holds)."""
  source = config.finetune.init_from
  if os.path.isdir(source):
    try:
      saved, _ = checkpoint.restore_latest(source)
    except checkpoint.NoCheckpointError:
      raise errors.ConfigError(
          f'config.finetune.init_from={source} holds no checkpoint: point it at a trained GAN '
          'workdir (with checkpoints/) or a generator .npz written by --mode=export.') from None
    pretrained = {'g_params': saved['g_ema'], 'g_stats': saved.get('g_stats', {}),
                  'd_params': saved['d_params'], 'd_stats': saved.get('d_stats', {})}
  elif os.path.isfile(source):
    try:
      params, stats, _ = load_generator(source)
    except (OSError, ValueError, KeyError) as e:
      raise errors.ConfigError(f'config.finetune.init_from={source} is not a generator .npz '
                               f'written by --mode=export ({e})') from None
    pretrained = {'g_params': params, 'g_stats': stats}
  else:
    raise errors.ConfigError(
        f'config.finetune.init_from={source} does not exist: pass a trained GAN workdir or a '
        'generator .npz written by --mode=export.')
  fresh = jax.eval_shape(functools.partial(init_networks, nets, config.data.image_size),
                         jax.random.key(0))
  for name, expected in zip(('g_params', 'g_stats', 'd_params', 'd_stats'), fresh):
    if name in pretrained:
      finetune.check_compatible(expected, pretrained[name], name, source)
  return pretrained


def configured_init_state(config, nets: Networks, g_tx, d_tx, workdir: str | None = None):
  """make_init_state for config, with config.finetune's weights (those of init_from, read only
  when `workdir` has no checkpoint yet: resuming or restoring needs just the structure)."""
  pretrained = None
  if config.finetune.init_from and workdir and checkpoint.latest_step(workdir) is None:
    pretrained = load_pretrained(config, nets)
  return make_init_state(nets, g_tx, d_tx, config.data.image_size,
                         finetune.make_start(config.finetune, pretrained))


def report_finetune(config, init_state, workdir: str) -> dict:
  """Logs how many parameters fine-tuning trains and writes it to workdir/finetune.json."""
  shapes = jax.eval_shape(init_state, jax.random.key(0))
  record = finetune.summary(config, shapes.g_params, shapes.d_params)
  logging.info('Fine-tuning (%s) from %s: G trains %d of %d parameters (%.2f%%), D %d of %d.',
               record['method'], record['init_from'], record['trainable_params'],
               record['total_params'], 100 * record['fraction'], record['d_trainable_params'],
               record['d_total_params'])
  if jax.process_index() == 0:
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, 'finetune.json'), 'w', encoding='utf-8') as f:
      json.dump(record, f, indent=2)
  return record


def sample_latents(key: jax.Array, num: int, latent_dim: int) -> jax.Array:
  """z ~ N(0, I): [num, latent_dim]."""
  return jax.random.normal(key, (num, latent_dim), jnp.float32)


def make_train_step(nets: Networks, g_tx, d_tx, loss_config, ema_decay: float, update_g: bool,
                    apply_r1: bool, g_trainable: finetune.MaskFn | None = None,
                    ema_rampup: float = 0.0):
  """(state, {'image': [B,S,S,3] in [-1,1]}, key) -> (state, metrics): one D update, then (if
  update_g) one G update against the new D; R1 on this step if apply_r1. g_trainable: G params
  -> which are trained (the EMA keeps the others as they are); None = all. ema_rampup > 0:
  the EMA's half-life ramps up with the step (train_state.ema_decay_at)."""
  kind = loss_config.adversarial
  lambda_gp, r1_weight = loss_config.lambda_gp, 0.5 * loss_config.r1_gamma * loss_config.r1_every
  policy = augment.parse_policy(loss_config.get('diffaug', ''))
  # DiffAugment: D only ever sees T(x), in D's and G's updates (penalties on T(x) too).
  augmented = lambda x, key, i: (augment.diff_augment(x, jax.random.fold_in(key, i), policy)
                                 if policy else x)

  def d_loss_fn(d_params, d_stats, real, fake, key):
    real, fake = augmented(real, key, 1), augmented(fake, key, 2)
    real_logits, d_stats = nets.apply_d(d_params, d_stats, real)
    fake_logits, d_stats = nets.apply_d(d_params, d_stats, fake)
    loss = adversarial = losses.discriminator_loss(kind, real_logits, fake_logits)
    metrics = {'d/loss_adv': adversarial,
               'd/real_score': jnp.mean(real_logits), 'd/fake_score': jnp.mean(fake_logits)}
    critic = lambda x: nets.apply_d(d_params, d_stats, x)[0]
    if lambda_gp > 0:
      gp = losses.gradient_penalty(critic, losses.interpolate(real, fake, key))
      loss += lambda_gp * gp
      metrics['d/gp'] = gp
    if apply_r1:
      r1 = losses.r1_penalty(critic, real)
      loss += r1_weight * r1
    if loss_config.r1_gamma > 0:   # every variant reports the same names; weight 0 = not run
      metrics['r1/penalty'] = r1 if apply_r1 else jnp.zeros((), jnp.float32)
      metrics['r1/weight'] = jnp.asarray(1.0 if apply_r1 else 0.0, jnp.float32)
    metrics['d/loss'] = loss
    return loss, (metrics, d_stats)

  def g_loss_fn(fake, d_params, d_stats, key):
    logits, d_stats = nets.apply_d(d_params, d_stats, augmented(fake, key, 3))
    loss = losses.generator_loss(kind, logits)
    return loss, ({'g/loss': loss}, d_stats)

  def train_step(state: train_state.UnconditionalGANState, batch, key):
    real = batch['image']
    z_key, gp_key = jax.random.split(key)
    z = sample_latents(z_key, real.shape[0], nets.latent_dim)
    g_key = jax.random.fold_in(z_key, 1)    # noise and style mixing of a stochastic G
    generate = lambda g_params: nets.apply_g(g_params, state.g_stats, z, g_key)
    if update_g:
      fake, fake_vjp, g_stats = jax.vjp(generate, state.g_params, has_aux=True)
    else:
      fake, g_stats = generate(state.g_params)

    d_grads, (metrics, d_stats) = jax.grad(d_loss_fn, has_aux=True)(
        state.d_params, state.d_stats, real, jax.lax.stop_gradient(fake), gp_key)
    d_updates, d_opt_state = d_tx.update(d_grads, state.d_opt_state, state.d_params)
    d_params = optax.apply_updates(state.d_params, d_updates)
    state = state.replace(step=state.step + 1, d_params=d_params, d_opt_state=d_opt_state,
                          d_stats=d_stats, g_stats=g_stats)
    if not update_g:
      zeros = {k: jnp.zeros((), jnp.float32) for k in G_METRICS}
      return state, {**metrics, **zeros, 'g/weight': jnp.zeros((), jnp.float32)}

    fake_grads, (g_metrics, d_stats) = jax.grad(g_loss_fn, has_aux=True)(
        fake, d_params, d_stats, gp_key)
    (g_grads,) = fake_vjp(fake_grads)
    g_updates, g_opt_state = g_tx.update(g_grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, g_updates)
    decay = train_state.ema_decay_at(state.step - 1, ema_decay, ema_rampup)  # steps before this
    g_ema = train_state.update_ema(state.g_ema, g_params, decay,
                                   g_trainable(g_params) if g_trainable else None)
    state = state.replace(g_params=g_params, g_opt_state=g_opt_state, g_ema=g_ema,
                          d_stats=d_stats)
    return state, {**metrics, **g_metrics, 'g/weight': jnp.ones((), jnp.float32)}

  return train_step


def make_train_steps(nets: Networks, g_tx, d_tx, config):
  """The compiled variants ('d', 'dg', plus '_r1' versions with lazy R1) and the schedule."""
  l = config.loss
  with_r1 = l.r1_gamma > 0
  g_trainable, _ = finetune.mask_fns(config)
  steps = {}
  for update_g in (False, True):
    for apply_r1 in ((False, True) if with_r1 else (False,)):
      name = ('dg' if update_g else 'd') + ('_r1' if apply_r1 else '')
      steps[name] = make_train_step(nets, g_tx, d_tx, l, config.ema_decay, update_g, apply_r1,
                                    g_trainable, config.get('ema_rampup', 0.0))

  def schedule(step: int) -> str:
    name = 'dg' if (step + 1) % config.n_critic == 0 else 'd'
    return name + ('_r1' if with_r1 and step % l.r1_every == 0 else '')
  return steps, schedule


@functools.partial(jax.jit, static_argnums=0)
def _generate(nets, params, stats, z, key):
  return nets.apply_g(params, stats, z, key, train=False)[0]


def generate(nets: Networks, params, stats, z: np.ndarray, batch_size: int = 256,
             seed: int = 0) -> np.ndarray:
  """G in inference mode (batch-norm running averages; for StyleGAN noise drawn from `seed`, no
  mixing, no truncation): z [N, Z] -> float32 [N, S, S, 3]. Deterministic."""
  out = []
  for i, chunk in enumerate(evaluation.batched(np.asarray(z), batch_size)):
    key = jax.random.fold_in(jax.random.key(seed), i)
    out.append(np.asarray(_generate(nets, params, stats, jnp.asarray(chunk), key)))
  return np.concatenate(out)


def fixed_latents(config, num: int) -> np.ndarray:
  """The same z for every sample grid and eval of a run (from config.seed)."""
  key = jax.random.fold_in(jax.random.key(config.seed), 0x5A3)
  return np.asarray(sample_latents(key, num, config.model.latent_dim))


def sample_grid(images: np.ndarray, columns: int = 8) -> np.ndarray:
  """[N, S, S, 3] in [-1, 1] -> uint8 grid of ceil(N / columns) rows."""
  rows = -(-len(images) // columns)
  padded = np.concatenate([images, np.ones((rows * columns - len(images),) + images.shape[1:],
                                           images.dtype)])
  return image_io.make_grid([padded[c::columns] for c in range(columns)])


def make_evaluator(config, nets: Networks, workdir: str) -> Callable[[Any, int], dict] | None:
  """(state, step) -> FID/KID/precision-recall/density-coverage of G_ema's samples against the
  test split, with the extractor of config.eval; writes workdir/eval/<step>.json and report.html.
  None when no extractor is available (a warning says why)."""
  e = config.eval
  extractor = evaluation.configured_extractor(e, e.judge)
  if extractor is None:
    return None
  source = data_lib.make_source(config.data, 'test')
  num_images = min(e.num_images, len(source))
  z = fixed_latents(config, num_images)
  mesh = sharding.make_mesh()

  def evaluate(state, step: int) -> dict:
    real_feats, key, cached = evaluation.reference_features_of_split(
        extractor, config.data, source, 'test', num_images, e.batch_size, e.cache_dir or None,
        mesh)
    fakes = generate(nets, state.g_ema, state.g_stats, z, e.batch_size)
    fake_feats, fake_logits = evaluation.extract_features(
        extractor, evaluation.batched(fakes, e.batch_size), num_images, f'eval step {step}',
        mesh)
    result = evaluation.distribution_metrics(
        real_feats, fake_feats, fake_logits if extractor.name == 'inception_v3' else None,
        kid_subset_size=min(e.kid_subset_size, num_images))
    scalars = {f'eval/{k}': float(v) for k, v in result.items()}
    if jax.process_index() == 0:
      record = {'step': step, 'num_images': num_images, 'method': config.model.name,
                **result, 'extractor': extractor.description,
                'comparable_to_papers': extractor.comparable_to_papers,
                'reference': f'{key.dataset} test, {num_images} images'
                             f'{" (cached)" if cached else ""}'}
      evaluation.write_eval(workdir, step, record)
      notes = [f'{num_images} samples of G (EMA weights if ema_decay > 0) vs {num_images} '
               f'held-out images. Features: {extractor.description}. ' +
               ('Comparable to published FIDs.' if extractor.comparable_to_papers else
                'NOT comparable to published FIDs (not the standard Inception weights).')]
      html = report.render(f'{config.model.name} eval: {workdir}', record,
                           evaluation.read_eval_history(workdir),
                           {'Samples (fixed latents)': sample_grid(fakes[:64])}, None, notes)
      with open(os.path.join(workdir, 'eval', 'report.html'), 'w', encoding='utf-8') as f:
        f.write(html)
    logging.info('Eval of step %d: %s', step, {k: round(v, 4) for k, v in scalars.items()})
    return scalars

  return evaluate


def make_task(config: ml_collections.ConfigDict, workdir: str) -> loop.Task:
  """Everything the loop needs; every config and data error is raised here, before compiling."""
  validate_config(config)
  sharding.check_batch_size(config.batch_size, sharding.make_mesh())
  train_source = data_lib.make_source(config.data, 'train')
  nets = build_networks(config)
  g_tx, d_tx = make_optimizers(config)
  init_state = configured_init_state(config, nets, g_tx, d_tx, workdir)
  if finetune.active(config.finetune):
    report_finetune(config, init_state, workdir)
  loader = loader_lib.BatchLoader(train_source, config.batch_size, config.seed,
                                  rows=sharding.process_batch_slice(config.batch_size),
                                  num_threads=config.get('data_threads', 4))
  train_steps, schedule = make_train_steps(nets, g_tx, d_tx, config)
  z = fixed_latents(config, config.num_sample_images)

  def write_samples(state, step):
    if jax.process_index() == 0:
      images = generate(nets, state.g_ema, state.g_stats, z)
      image_io.save_image(os.path.join(workdir, 'samples', f'step_{step:07d}.png'),
                          sample_grid(images))

  return loop.Task(init_state=init_state, train_steps=train_steps, step_schedule=schedule,
                   loader=loader, write_samples=write_samples,
                   evaluate=make_evaluator(config, nets, workdir) if config.eval_every else None)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, **unused) -> Any:
  """--mode=train: trains (or resumes) the GAN in workdir."""
  return loop.train(config, workdir, make_task(config, workdir))


def restore(config, workdir: str):
  """(networks, state, step) from the latest checkpoint of workdir."""
  validate_config(config)
  nets = build_networks(config)
  g_tx, d_tx = make_optimizers(config)
  state, step = checkpoint.restore_latest_replicated(
      workdir, configured_init_state(config, nets, g_tx, d_tx))
  return nets, state, step


def export_generator(config: ml_collections.ConfigDict, workdir: str, output: str | None = None,
                     **unused) -> str:
  """--mode=export: G's weights (EMA) and collections of the latest checkpoint as one .npz
  (keys 'params/<module path>', 'stats/<collection>/<path>', 'step'); --output names the file
  (default workdir/generator_<step>.npz). Reads back with load_generator; no optimiser state.
  A LoRA fine-tune exports its adapters merged into the kernels (a plain generator)."""
  nets, state, step = restore(config, workdir)
  arrays = {'step': np.asarray(step)}
  for prefix, tree in (('params', nets.generator_params(state.g_ema)), ('stats', state.g_stats)):
    for path, value in traverse_util.flatten_dict(jax.device_get(tree)).items():
      arrays[prefix + '/' + '/'.join(path)] = np.asarray(value)
  path = output or os.path.join(workdir, f'generator_{step:07d}.npz')
  with open(path + '.tmp', 'wb') as f:
    np.savez(f, **arrays)
  os.replace(path + '.tmp', path)
  logging.info('Generator of step %d written to %s (%d arrays).', step, path, len(arrays) - 1)
  return path


def load_generator(path: str) -> tuple[Any, dict, int]:
  """(params, stats, step) from an export_generator .npz."""
  trees = {'params': {}, 'stats': {}}
  with np.load(path) as data:
    step = int(data['step'])
    for key in data.files:
      if key != 'step':
        prefix, rest = key.split('/', 1)
        trees[prefix][tuple(rest.split('/'))] = data[key]
  return (traverse_util.unflatten_dict(trees['params']),
          traverse_util.unflatten_dict(trees['stats']), step)


def evaluate_workdir(config: ml_collections.ConfigDict, workdir: str, input: str | None = None,
                     **unused) -> dict:
  """--mode=eval: the metrics of make_evaluator on the latest checkpoint, or on the generator
  exported to --input=G.npz (results then go to workdir/eval/)."""
  validate_config(config)
  nets = build_networks(config)
  if input:
    if not os.path.exists(input):
      raise errors.ConfigError(f'--input={input} does not exist: pass a file written by '
                               '--mode=export')
    params, stats, step = load_generator(input)
    nets = dataclasses.replace(nets, g_params_fn=None)   # an export holds the merged weights
    state = train_state.UnconditionalGANState(
        step=step, g_params=params, d_params=None, g_opt_state=None, d_opt_state=None,
        g_stats=stats, d_stats=None, g_ema=params)
    os.makedirs(workdir, exist_ok=True)
  else:
    nets, state, step = restore(config, workdir)
  evaluate = make_evaluator(config, nets, workdir)
  if evaluate is None:
    raise errors.ConfigError('no feature extractor for --mode=eval: set config.eval.judge to a '
                             'classifier workdir or config.eval.inception_weights.')
  return evaluate(state, step)


def _editing_mode(name: str) -> Callable:
  """--mode=directions / edit live in trainers.gan_editing (which imports this module)."""
  def run(config, workdir, **options):
    from gan_jax.trainers import gan_editing  # pylint: disable=g-import-not-at-top
    return getattr(gan_editing, name)(config, workdir, **options)
  return run


MODES = {'train': train_and_evaluate, 'eval': evaluate_workdir, 'export': export_generator,
         'directions': _editing_mode('find_directions'), 'edit': _editing_mode('edit_images'),
         'restore': _editing_mode('restore_images')}
