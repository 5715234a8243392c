"""StarGAN (Choi et al. 2018): multi-domain attribute translation with one generator.

D is a WGAN-GP critic with an attribute-classification head; G translates an image to target
attributes and is trained with the adversarial, classification and cycle-reconstruction losses.
D is updated every step and G every `n_critic` steps (two compiled step variants).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gan_jax import attributes
from gan_jax import augment
from gan_jax import checkpoint
from gan_jax import errors
from gan_jax import evaluation
from gan_jax import image_io
from gan_jax import losses
from gan_jax import report
from gan_jax import sharding
from gan_jax import tiling
from gan_jax import train_state
from gan_jax import data as data_lib
from gan_jax.data import loader as loader_lib
from gan_jax.metrics import image_pairs
from gan_jax.models import layers
from gan_jax.models import stargan as models
from gan_jax.trainers import loop

G_METRICS = ('g/loss', 'g/loss_fake', 'g/loss_rec', 'g/loss_cls', 'g/loss_idt')


@dataclasses.dataclass(frozen=True)
class LossWeights:
  lambda_cls: float = 1.0
  lambda_rec: float = 10.0
  lambda_gp: float = 10.0
  diffaug: str = ''          # DiffAugment policy applied before D (gan_jax.augment); '' = none
  lambda_idt: float = 0.0    # identity term |G(x, c_org) - x| (CycleGAN's; 0 = the paper)


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError for settings that cannot work, before any data is read or code compiled."""
  size = config.data.image_size
  if size % 4:
    raise errors.ConfigError(f'config.data.image_size={size} must be a multiple of 4 (G down-samples twice)')
  models.final_feature_size(size, config.model.d_repeat)
  if config.n_critic < 1:
    raise errors.ConfigError(f'config.n_critic={config.n_critic} must be >= 1')
  try:
    augment.parse_policy(config.loss.get('diffaug', ''))
  except ValueError as e:
    raise errors.ConfigError(f'config.loss.diffaug: {e}') from None
  ema_decay = config.get('ema_decay', 0.0)
  if not 0.0 <= ema_decay < 1.0:
    raise errors.ConfigError(f'config.ema_decay={ema_decay} must be in [0, 1) (0 = no moving '
                             f'average: samples and translations use the trained G)')
  if not 0 <= config.optim.decay_steps <= config.num_steps:
    raise errors.ConfigError(f'config.optim.decay_steps={config.optim.decay_steps} must be in '
                     f'[0, num_steps={config.num_steps}]')


resolve_conv_impl = layers.resolve_conv_impl


def build_models(config) -> tuple[models.Generator, models.Discriminator]:
  """G and D of the config. The conv lowering changes speed only: parameters are the same."""
  m = config.model
  # On CPU, D's gradient penalty needs fast second-order kernel gradients (im2col) and G fast
  # first-order ones (hybrid); benchmarks/RESULTS.md has the measurements.
  generator = models.Generator(
      conv_dim=m.g_conv_dim, repeat_num=m.g_repeat, residual=m.get('g_residual', False),
      conv_impl=resolve_conv_impl(m.get('g_conv_impl', 'auto'), on_cpu='hybrid'))
  discriminator = models.Discriminator(
      image_size=config.data.image_size, num_attrs=len(config.data.attrs), conv_dim=m.d_conv_dim,
      repeat_num=m.d_repeat,
      conv_impl=resolve_conv_impl(m.get('d_conv_impl', 'auto'), on_cpu='im2col'))
  return generator, discriminator


def linear_decay_schedule(base_lr: float, num_steps: int, decay_steps: int) -> optax.Schedule:
  """Constant base_lr, then linear to 0 over the last `decay_steps` of `num_steps` steps."""
  def schedule(step):
    remaining = jnp.asarray(num_steps - step, jnp.float32)
    return base_lr * jnp.clip(remaining / max(decay_steps, 1), 0.0, 1.0)
  return schedule if decay_steps else optax.constant_schedule(base_lr)


def make_optimizers(config) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
  """Adam for G and D. D steps every step; G every n_critic steps, so G's own update count is
  mapped back to the global step for its learning-rate schedule."""
  o = config.optim
  d_schedule = linear_decay_schedule(o.d_lr, config.num_steps, o.decay_steps)
  g_global = linear_decay_schedule(o.g_lr, config.num_steps, o.decay_steps)
  g_schedule = lambda count: g_global((count + 1) * config.n_critic - 1)
  g_tx = optax.adam(g_schedule, b1=o.b1, b2=o.b2)
  d_tx = optax.adam(d_schedule, b1=o.b1, b2=o.b2)
  return g_tx, d_tx


def make_init_state(generator, discriminator, g_tx, d_tx, image_size: int, num_attrs: int):
  """key -> GANState with freshly initialised networks (g_ema starts equal to g_params)."""
  def init_state(key: jax.Array) -> train_state.GANState:
    g_key, d_key = jax.random.split(key)
    image = jnp.zeros((1, image_size, image_size, 3), jnp.float32)
    label = jnp.zeros((1, num_attrs), jnp.float32)
    g_params = generator.init(g_key, image, label)
    d_params = discriminator.init(d_key, image)
    return train_state.GANState(step=jnp.zeros((), jnp.int32), g_params=g_params,
                                d_params=d_params, g_opt_state=g_tx.init(g_params),
                                d_opt_state=d_tx.init(d_params), g_ema=g_params)
  return init_state


def make_train_step(generator, discriminator, g_tx, d_tx, weights: LossWeights, update_g: bool,
                    ema_decay: float = 0.0):
  """(state, {'image': [B,S,S,3], 'label': [B,A]}, key) -> (state, metrics).

  One D update (WGAN-GP + attribute classification on real images) and, if update_g, then one G
  update against the new D (adversarial + classification + cycle reconstruction), after which
  g_ema = ema_decay * g_ema + (1 - ema_decay) * g_params (= g_params for ema_decay 0). Target
  labels are the batch's own labels in a random order, as in yunjey/stargan. The fake images G
  makes for the D update are reused, with their VJP, for the G update rather than generated
  twice.
  """

  policy = augment.parse_policy(weights.diffaug)
  # D sees T(x) for a random differentiable augmentation T (the identity without a policy); its
  # keys are folded from the step key so that configs without a policy draw the same numbers.
  augmented = lambda x, key, i: (augment.diff_augment(x, jax.random.fold_in(key, i), policy)
                                 if policy else x)

  def d_loss_fn(d_params, real, fake, c_org, key):
    real, fake = augmented(real, key, 1), augmented(fake, key, 2)
    real_src, real_cls = discriminator.apply(d_params, real)
    fake_src, _ = discriminator.apply(d_params, fake)
    x_hat = losses.interpolate(real, fake, key)
    gp = losses.gradient_penalty(lambda x: discriminator.apply(d_params, x)[0], x_hat)
    loss_real, loss_fake = -jnp.mean(real_src), jnp.mean(fake_src)
    loss_cls = losses.attribute_bce(real_cls, c_org)
    loss = loss_real + loss_fake + weights.lambda_cls * loss_cls + weights.lambda_gp * gp
    accuracy = jnp.mean((real_cls > 0) == (c_org > 0.5))
    return loss, {'d/loss': loss, 'd/loss_real': loss_real, 'd/loss_fake': loss_fake,
                  'd/loss_cls': loss_cls, 'd/loss_gp': gp, 'd/acc_real': accuracy}

  def g_loss_fn(g_params, fake, d_params, real, c_org, c_trg, key):
    """G's loss given fake = G(real, c_trg); differentiated w.r.t. g_params and fake."""
    fake_src, fake_cls = discriminator.apply(d_params, augmented(fake, key, 3))
    reconstructed = generator.apply(g_params, fake, c_org)
    loss_fake = losses.wgan_generator_loss(fake_src)
    loss_rec = losses.l1_reconstruction(real, reconstructed)
    loss_cls = losses.attribute_bce(fake_cls, c_trg)
    loss = loss_fake + weights.lambda_rec * loss_rec + weights.lambda_cls * loss_cls
    loss_idt = jnp.zeros((), jnp.float32)
    if weights.lambda_idt:
      loss_idt = losses.l1_reconstruction(real, generator.apply(g_params, real, c_org))
      loss += weights.lambda_idt * loss_idt
    return loss, {'g/loss': loss, 'g/loss_fake': loss_fake, 'g/loss_rec': loss_rec,
                  'g/loss_cls': loss_cls, 'g/loss_idt': loss_idt}

  def train_step(state: train_state.GANState, batch, key):
    real, c_org = batch['image'], batch['label']
    perm_key, gp_key = jax.random.split(key)
    c_trg = c_org[jax.random.permutation(perm_key, real.shape[0])]
    translate_fn = lambda g_params: generator.apply(g_params, real, c_trg)
    if update_g:
      fake, fake_vjp = jax.vjp(translate_fn, state.g_params)
    else:
      fake = translate_fn(state.g_params)

    d_grads, metrics = jax.grad(d_loss_fn, has_aux=True)(
        state.d_params, real, jax.lax.stop_gradient(fake), c_org, gp_key)
    d_updates, d_opt_state = d_tx.update(d_grads, state.d_opt_state, state.d_params)
    d_params = optax.apply_updates(state.d_params, d_updates)
    state = state.replace(step=state.step + 1, d_params=d_params, d_opt_state=d_opt_state)
    if not update_g:
      zeros = {k: jnp.zeros((), jnp.float32) for k in G_METRICS}
      return state, {**metrics, **zeros, 'g/weight': jnp.zeros((), jnp.float32)}

    # dL/dg = (partial through the reconstruction) + (through fake = G(real, c_trg)).
    (g_grads, fake_grads), g_metrics = jax.grad(g_loss_fn, argnums=(0, 1), has_aux=True)(
        state.g_params, fake, d_params, real, c_org, c_trg, gp_key)
    g_grads = jax.tree.map(jnp.add, g_grads, fake_vjp(fake_grads)[0])
    g_updates, g_opt_state = g_tx.update(g_grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, g_updates)
    state = state.replace(g_params=g_params, g_opt_state=g_opt_state,
                          g_ema=train_state.update_ema(state.g_ema, g_params, ema_decay))
    return state, {**metrics, **g_metrics, 'g/weight': jnp.ones((), jnp.float32)}

  return train_step


def make_train_steps(generator, discriminator, g_tx, d_tx, weights: LossWeights, n_critic: int,
                     ema_decay: float = 0.0):
  """The two compiled variants and which one runs at each step: G is updated after D on steps
  with (step + 1) % n_critic == 0 (yunjey/stargan). Two programs rather than one `lax.cond`:
  convolutions inside a conditional ran ~17x slower on XLA:CPU (benchmarks/RESULTS.md)."""
  steps = {name: make_train_step(generator, discriminator, g_tx, d_tx, weights, update_g,
                                 ema_decay)
           for name, update_g in (('d', False), ('dg', True))}
  return steps, lambda step: 'dg' if (step + 1) % n_critic == 0 else 'd'


@functools.partial(jax.jit, static_argnums=0)
def _translate(generator, g_params, images, labels):
  return generator.apply(g_params, images, labels)


@functools.partial(jax.jit, static_argnums=0)
def _attribute_logits(discriminator, d_params, images):
  return discriminator.apply(d_params, images)[1]


def translate(generator, g_params, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """G(images [B,S,S,3], labels [B,A]) -> float32 numpy [B,S,S,3] in [-1, 1]."""
  return np.asarray(_translate(generator, g_params, jnp.asarray(images), jnp.asarray(labels)))


def predict_attributes(discriminator, d_params, images: np.ndarray,
                       attr_names) -> np.ndarray:
  """D's attribute prediction for images [B,S,S,3]: labels [B,A] in {0,1}, groups exclusive."""
  logits = np.asarray(_attribute_logits(discriminator, d_params, jnp.asarray(images)))
  return attributes.make_exclusive((logits > 0).astype(np.float32), logits, attr_names)


def attribute_grid(generator, g_params, images, c_org, attr_names) -> np.ndarray:
  """uint8 grid: one row per image; columns = input, then one single-attribute change each."""
  targets = attributes.single_attribute_targets(c_org, attr_names)
  columns = [images] + [translate(generator, g_params, images, t) for t in targets]
  return image_io.make_grid(columns)


def make_task(config: ml_collections.ConfigDict, workdir: str) -> loop.Task:
  """Everything the loop needs; every config and data error is raised here, before compiling."""
  validate_config(config)
  mesh = sharding.make_mesh()
  sharding.check_batch_size(config.batch_size, mesh)
  train_source = data_lib.make_source(config.data, 'train')
  sample_source = data_lib.make_source(config.data, 'test')
  generator, discriminator = build_models(config)
  g_tx, d_tx = make_optimizers(config)
  weights = LossWeights(**config.loss.to_dict())
  loader = loader_lib.BatchLoader(train_source, config.batch_size, config.seed,
                                  rows=sharding.process_batch_slice(config.batch_size),
                                  num_threads=config.get('data_threads', 4))
  sample_batch = next(loader_lib.ordered_batches(sample_source, config.num_sample_images))
  attr_names = tuple(config.data.attrs)
  train_steps, step_schedule = make_train_steps(generator, discriminator, g_tx, d_tx, weights,
                                                config.n_critic, config.get('ema_decay', 0.0))

  def write_samples(state, step):
    if jax.process_index() != 0:
      return
    grid = attribute_grid(generator, state.g_ema, sample_batch['image'],
                          sample_batch['label'], attr_names)
    image_io.save_image(os.path.join(workdir, 'samples', f'step_{step:07d}.png'), grid)

  return loop.Task(
      init_state=make_init_state(generator, discriminator, g_tx, d_tx, config.data.image_size,
                                 len(attr_names)),
      train_steps=train_steps, step_schedule=step_schedule, loader=loader,
      write_samples=write_samples)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, **unused) -> Any:
  """--mode=train: trains (or resumes) StarGAN in workdir."""
  task = make_task(config, workdir)
  return loop.train(config, workdir, task)


def restore_networks(config, workdir: str):
  """(generator, discriminator, state, step) from the latest checkpoint of workdir."""
  validate_config(config)
  check_matches_workdir(config, workdir)
  generator, discriminator = build_models(config)
  g_tx, d_tx = make_optimizers(config)
  init = make_init_state(generator, discriminator, g_tx, d_tx, config.data.image_size,
                         len(config.data.attrs))
  try:
    state, step = checkpoint.restore_latest_replicated(workdir, init)
  except ValueError as structure_error:   # Orbax: the saved tree differs from the template
    state, step = _restore_without_ema(
        workdir, checkpoint.replicated_template(init, sharding.make_mesh()), structure_error)
  return generator, discriminator, state, step


def _restore_without_ema(workdir: str, template: train_state.GANState, error: ValueError):
  """(state, step) of a checkpoint saved before GANState had g_ema: g_ema = g_params. Re-raises
  `error` when the checkpoint differs from the template in some other way."""
  fields = {f.name: getattr(template, f.name) for f in dataclasses.fields(template)
            if f.name != 'g_ema'}
  try:
    saved, step = checkpoint.restore_latest(workdir, fields)
  except ValueError:
    raise error from None
  return train_state.GANState(**saved, g_ema=saved['g_params']), step


ARCHITECTURE_FIELDS = ('model.g_conv_dim', 'model.d_conv_dim', 'model.g_repeat',
                       'model.d_repeat', 'model.g_residual', 'data.attrs', 'data.image_size')
# Values of fields added after runs were made: a config.json without the field had this value.
FIELD_DEFAULTS = {'model.g_residual': False}


def check_matches_workdir(config, workdir: str) -> None:
  """ConfigError if workdir/config.json was trained with another architecture or attributes."""
  loop.check_matches_workdir(config, workdir, ARCHITECTURE_FIELDS, FIELD_DEFAULTS)


G_DOWNSAMPLING = 4   # G's two stride-2 convs: its input sides must be multiples of this


def translate_options(config: ml_collections.ConfigDict) -> tiling.TranslateOptions:
  """The validated config.translate (defaults where the config has no such block)."""
  return tiling.translate_options(config, G_DOWNSAMPLING)


def translate_one(generator, g_params, image: np.ndarray, label: np.ndarray,
                  options: tiling.TranslateOptions) -> np.ndarray:
  """G(image [H, W, 3] in [-1, 1], label [A]) -> float32 [H, W, 3] in [-1, 1], any H and W.

  The image is padded to a multiple of 4 for G and the result cropped back; with options.tile,
  G runs on tiles with whole-image instance-norm statistics (gan_jax.tiling).
  """
  labels = jnp.asarray(label[None])
  return tiling.translate_image(
      generator.apply, g_params, image, labels, options=options, multiple=G_DOWNSAMPLING,
      untiled=lambda x: translate(generator, g_params, x, np.asarray(labels)))


def translate_images(config: ml_collections.ConfigDict, workdir: str, input: str | None = None,
                     output: str | None = None, target: str = '', batch_size: int = 16,
                     **unused) -> list[str]:
  """--mode=translate: writes <name>_translated.png, <name>_grid.png and translations.json.

  Attributes not in `target` keep what D's classifier predicts for each input (at the trained
  size). The translation is at the trained size, or with config.translate.full_resolution at the
  input's own size (tiled when config.translate.tile > 0); grids are at the trained size.
  """
  if not input or not output:
    raise errors.ConfigError('--mode=translate needs --input=IMAGE_OR_FOLDER and --output=FOLDER')
  attr_names = tuple(config.data.attrs)
  wanted = attributes.parse_target(target or '', attr_names)
  options = translate_options(config)
  paths = image_io.list_images(input)
  generator, discriminator, state, step = restore_networks(config, workdir)
  logging.info('Restored step %d from %s; translating %d image(s).', step, workdir, len(paths))
  crop = data_lib.crop_fraction(config.data)
  written, records = [], []
  for start in range(0, len(paths), batch_size):
    chunk = paths[start:start + batch_size]
    images = np.stack([image_io.load_for_model(p, crop, config.data.image_size) for p in chunk])
    c_org = predict_attributes(discriminator, state.d_params, images, attr_names)
    c_trg = attributes.apply_target(c_org, wanted, attr_names)
    translated = None
    if wanted and options.whole_image:
      translated = translate(generator, state.g_ema, images, c_trg)
    elif wanted:
      translated = [translate_one(generator, state.g_ema,
                                  image_io.load_full_resolution(p) if options.full_resolution else images[i],
                                  c_trg[i], options) for i, p in enumerate(chunk)]
    grid_rows = [attribute_grid(generator, state.g_ema, images[i:i + 1], c_org[i:i + 1],
                                attr_names) for i in range(len(chunk))]
    for i, path in enumerate(chunk):
      stem = os.path.splitext(os.path.basename(path))[0]
      grid_path = os.path.join(output, f'{stem}_grid.png')
      image_io.save_image(grid_path, grid_rows[i])
      written.append(grid_path)
      record = {'input': path, 'predicted': dict(zip(attr_names, c_org[i].tolist())),
                'grid': grid_path}
      if translated is not None:
        out_path = os.path.join(output, f'{stem}_translated.png')
        image_io.save_image(out_path, translated[i])
        written.append(out_path)
        record.update(target=dict(zip(attr_names, c_trg[i].tolist())), translated=out_path)
      records.append(record)
  with open(os.path.join(output, 'translations.json'), 'w', encoding='utf-8') as f:
    json.dump({'workdir': workdir, 'step': step, 'images': records}, f, indent=2)
  logging.info('Wrote %d file(s) to %s.', len(written), output)
  return written


def evaluate(config: ml_collections.ConfigDict, workdir: str, **unused) -> dict:
  """--mode=eval: translates held-out images to every single-attribute change and measures
  attribute transfer/preservation (config.eval.judge), FID/KID/precision-recall/density-coverage
  of the translations against the real held-out images, and the cycle reconstruction error
  (L1, PSNR, SSIM). Writes workdir/eval/<step>.json and workdir/eval/report.html."""
  from gan_jax.metrics import attributes as attribute_metrics  # pylint: disable=g-import-not-at-top
  from gan_jax.trainers import classifier   # pylint: disable=g-import-not-at-top
  e = config.eval
  attr_names = tuple(config.data.attrs)
  generator, _, state, step = restore_networks(config, workdir)
  judge = classifier.restore(e.judge) if e.judge else None
  columns = [judge.attr_names.index(a) for a in attr_names] if judge else None
  if judge and (set(attr_names) - set(judge.attr_names) or judge.image_size != config.data.image_size):
    raise errors.ConfigError(f'config.eval.judge {e.judge} ({judge.image_size} px, '
                             f'{judge.attr_names}) must see {config.data.image_size} px images and '
                             f'know {attr_names}')
  extractor = evaluation.configured_extractor(e, e.judge)
  mesh = sharding.make_mesh()
  source = data_lib.make_source(config.data, 'test')
  num_images = min(e.num_images, len(source))
  counts = {a: attribute_metrics.TransferCounts() for a in attr_names}
  fake_feats, fake_logits, cycle = [], [], {'l1': [], 'psnr': [], 'ssim': []}
  grid = None
  progress = evaluation.Progress(num_images, f'eval step {step}')
  for batch in loader_lib.ordered_batches(source, e.batch_size, num_images):
    images, c_org = batch['image'], batch['label']
    targets = attributes.single_attribute_targets(c_org, attr_names)
    judged_in = judge.predict(images)[:, columns] if judge else None
    if grid is None:
      grid = attribute_grid(generator, state.g_ema, images[:8], c_org[:8], attr_names)
    for name, c_trg in zip(attr_names, targets):
      fake = translate(generator, state.g_ema, images, c_trg)
      reconstructed = translate(generator, state.g_ema, fake, c_org)
      cycle['l1'].append(np.abs(reconstructed - images).mean(axis=(1, 2, 3)))
      cycle['psnr'].append(np.asarray(image_pairs.psnr_per_image(reconstructed, images)))
      cycle['ssim'].append(np.asarray(image_pairs.ssim_per_image(reconstructed, images)))
      if judge:
        counts[name].add(attribute_metrics.count_single_transfer(
            name, c_org, c_trg, judged_in, judge.predict(fake)[:, columns], attr_names))
      if extractor:
        out = extractor(fake, mesh=mesh)
        fake_feats.append(out['features'])
        fake_logits.append(out['logits'])
    progress.update(len(images))

  result = {'step': step, 'num_images': num_images, 'method': 'stargan',
            'cycle_l1': float(np.mean(np.concatenate(cycle['l1']))),
            'cycle_psnr': float(np.mean(np.concatenate(cycle['psnr']))),
            'cycle_ssim': float(np.mean(np.concatenate(cycle['ssim'])))}
  notes = [f'{num_images} held-out images x {len(attr_names)} single-attribute changes; '
           'cycle = G(G(x, c_trg), c_org) vs x.']
  per_attribute = None
  if judge:
    result.update(attribute_metrics.summarize(counts))
    result['judge'] = f'{e.judge} (step {judge.step})'
    per_attribute = {'transfer': {a: result[f'transfer_accuracy/{a}'] for a in attr_names},
                     'preservation': {a: result[f'preservation/{a}'] for a in attr_names}}
  if extractor:
    real_feats, key, cached = evaluation.reference_features_of_split(
        extractor, config.data, source, 'test', num_images, e.batch_size, e.cache_dir or None,
        mesh)
    use_logits = extractor.name == 'inception_v3'
    result.update(evaluation.distribution_metrics(
        real_feats, np.concatenate(fake_feats),
        np.concatenate(fake_logits) if use_logits else None,
        kid_subset_size=e.kid_subset_size))
    result.update(extractor=extractor.description, resize=extractor.resize,
                  comparable_to_papers=extractor.comparable_to_papers,
                  reference=f'{key.dataset} test, {num_images} images'
                            f'{" (cached)" if cached else ""}')
    notes.append(f'Features: {extractor.description}. ' + (
        'Comparable to published FIDs.' if extractor.comparable_to_papers else
        'NOT comparable to published FIDs (not the standard Inception weights).'))
    notes.append('Resizing: clean-fid style (antialiased bicubic in float) unless stated.')
  path = evaluation.write_eval(workdir, step, result)
  history = evaluation.read_eval_history(workdir)
  html_text = report.render(f'StarGAN eval: {workdir}', result, history,
                            {'Held-out inputs, then one column per single-attribute change': grid},
                            per_attribute, notes)
  with open(os.path.join(workdir, 'eval', 'report.html'), 'w', encoding='utf-8') as f:
    f.write(html_text)
  logging.info('Eval of step %d written to %s and report.html: %s', step, path,
               {k: round(v, 4) for k, v in result.items() if isinstance(v, float) and '/' not in k})
  return result


MODES = {'train': train_and_evaluate, 'translate': translate_images, 'eval': evaluate}


def evaluate_attribute_transfer(config: ml_collections.ConfigDict, workdir: str, judge,
                                num_images: int = 1000, batch_size: int = 64) -> dict[str, float]:
  """Translates held-out images to every single-attribute change and has an independent
  classifier (`judge`, trainers.classifier.TrainedClassifier) judge them.

  Returns transfer accuracy (the changed attribute has its target value) and preservation (the
  other attributes keep the judge's reading of the input), per attribute and pooled, plus the
  judge's own accuracy on the real test images.
  """
  from gan_jax.metrics import attributes as attribute_metrics  # pylint: disable=g-import-not-at-top
  attr_names = tuple(config.data.attrs)
  missing = [a for a in attr_names if a not in judge.attr_names]
  if missing or judge.image_size != config.data.image_size:
    raise errors.ConfigError(
        f'the judge classifier ({judge.image_size} px, {judge.attr_names}) must see '
        f'{config.data.image_size} px images and know {attr_names}; missing {missing}')
  columns = [judge.attr_names.index(a) for a in attr_names]
  generator, _, state, step = restore_networks(config, workdir)
  source = data_lib.make_source(config.data, 'test')
  counts = {a: attribute_metrics.TransferCounts() for a in attr_names}
  judge_correct, seen = 0.0, 0
  for batch in loader_lib.ordered_batches(source, batch_size, num_images):
    images, c_org = batch['image'], batch['label']
    judged_in = judge.predict(images)[:, columns]
    judge_correct = judge_correct + (judged_in == c_org).sum(axis=0)
    seen += len(images)
    targets = attributes.single_attribute_targets(c_org, attr_names)
    for name, c_trg in zip(attr_names, targets):
      judged_out = judge.predict(translate(generator, state.g_ema, images, c_trg))[:, columns]
      counts[name].add(attribute_metrics.count_single_transfer(
          name, c_org, c_trg, judged_in, judged_out, attr_names))
  result = attribute_metrics.summarize(counts)
  for name, correct in zip(attr_names, judge_correct / max(seen, 1)):
    result[f'judge_accuracy_on_real/{name}'] = float(correct)
  result.update(step=float(step), num_images=float(seen))
  return result
