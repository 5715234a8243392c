"""CycleGAN (Zhu et al. 2017): unpaired translation between two image domains A and B.

G_AB: A -> B and G_BA: B -> A are ResNet generators; D_A and D_B are 70x70 PatchGANs judging
images of domain A and B. Each step, as in junyanz/pytorch-CycleGAN-and-pix2pix: one update of
both generators (LSGAN + lambda_cyc * cycle L1 + lambda_cyc * lambda_id * identity L1), then one
update of both discriminators (LSGAN, halved) on fakes drawn through an image pool of past fakes.
The pools live in the train state, so a resumed run continues exactly.

Metric names say which domain's images a term concerns: g/gan_b is G_AB's adversarial loss
against D_B, g/cycle_a = lambda_cyc * |G_BA(G_AB(a)) - a|, g/idt_a = lambda_cyc * lambda_id *
|G_BA(a) - a|, d/loss_a is D_A's loss (real A vs pooled fake A). The loss terms are reported
weighted, as the official code logs them.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from PIL import Image

from gan_jax import checkpoint
from gan_jax import errors
from gan_jax import evaluation
from gan_jax import image_io
from gan_jax import losses
from gan_jax import report
from gan_jax import sharding
from gan_jax import tiling
from gan_jax import train_state
from gan_jax.data import base as data_base
from gan_jax.data import loader as loader_lib
from gan_jax.data import unpaired
from gan_jax.metrics import image_pairs
from gan_jax.models import cyclegan as models
from gan_jax.models import layers
from gan_jax.trainers import loop
from gan_jax.trainers.stargan import linear_decay_schedule

METRICS = ('g/loss', 'g/gan_a', 'g/gan_b', 'g/cycle_a', 'g/cycle_b', 'g/idt_a', 'g/idt_b',
           'd/loss_a', 'd/loss_b')
DIRECTIONS = ('AtoB', 'BtoA')
# The generator translating in each direction, and the one translating back.
_GENERATORS = {'AtoB': ('g_ab', 'g_ba'), 'BtoA': ('g_ba', 'g_ab')}


@dataclasses.dataclass(frozen=True)
class LossWeights:
  lambda_cyc: float = 10.0   # the official lambda_A = lambda_B
  lambda_id: float = 0.5     # identity loss, relative to lambda_cyc (0 = none)


def validate_config(config: ml_collections.ConfigDict) -> None:
  """ConfigError / DataConfigError for settings that cannot work, before any data is read."""
  data = config.data
  unpaired.check_sizes(data)
  if data.crop_size % 4:
    raise errors.ConfigError(f'config.data.crop_size={data.crop_size} must be a multiple of 4 '
                             f'(G down-samples twice)')
  models.check_discriminator_fits(data.crop_size, config.model.n_layers_d)
  if config.pool_size < 0:
    raise errors.ConfigError(f'config.pool_size={config.pool_size} must be >= 0 (0 = no pool)')
  if config.loss.lambda_cyc < 0 or config.loss.lambda_id < 0:
    raise errors.ConfigError(f'config.loss.lambda_cyc and lambda_id must be >= 0, got '
                             f'{config.loss.lambda_cyc} and {config.loss.lambda_id}')
  if not 0 <= config.optim.decay_steps <= config.num_steps:
    raise errors.ConfigError(f'config.optim.decay_steps={config.optim.decay_steps} must be in '
                             f'[0, num_steps={config.num_steps}]')


def build_models(config) -> tuple[models.ResnetGenerator, models.NLayerDiscriminator]:
  """The generator and discriminator modules (each used for both domains, with two parameter
  sets). The conv lowering changes speed only; the parameters are the same."""
  m = config.model
  generator = models.ResnetGenerator(
      ngf=m.ngf, n_blocks=m.n_blocks,
      conv_impl=layers.resolve_conv_impl(m.get('g_conv_impl', 'auto'), on_cpu='xla'))
  discriminator = models.NLayerDiscriminator(
      ndf=m.ndf, n_layers=m.n_layers_d,
      conv_impl=layers.resolve_conv_impl(m.get('d_conv_impl', 'auto'), on_cpu='xla'))
  return generator, discriminator


def make_optimizers(config) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
  """One Adam for both generators and one for both discriminators (the official code chains
  each pair's parameters into one optimiser); constant lr, then linear to 0 over the last
  optim.decay_steps steps."""
  o = config.optim
  schedule = linear_decay_schedule(o.lr, config.num_steps, o.decay_steps)
  return (optax.adam(schedule, b1=o.b1, b2=o.b2), optax.adam(schedule, b1=o.b1, b2=o.b2))


def make_init_state(generator, discriminator, g_tx, d_tx, image_size: int, pool_size: int):
  """key -> CycleGANState with fresh networks and empty pools."""
  def init_state(key: jax.Array) -> train_state.CycleGANState:
    keys = dict(zip(('g_ab', 'g_ba', 'd_a', 'd_b'), jax.random.split(key, 4)))
    image = jnp.zeros((1, image_size, image_size, 3), jnp.float32)
    g_params = {name: generator.init(keys[name], image) for name in ('g_ab', 'g_ba')}
    d_params = {name: discriminator.init(keys[name], image) for name in ('d_a', 'd_b')}
    return train_state.CycleGANState(
        step=jnp.zeros((), jnp.int32), g_params=g_params, d_params=d_params,
        g_opt_state=g_tx.init(g_params), d_opt_state=d_tx.init(d_params),
        pool_a=train_state.empty_pool(pool_size, image_size),
        pool_b=train_state.empty_pool(pool_size, image_size))
  return init_state


def query_pool(pool: train_state.ImagePool, images: jax.Array,
               key: jax.Array) -> tuple[train_state.ImagePool, jax.Array]:
  """The official ImagePool.query as a pure function: (pool, images [B, H, W, 3], key) ->
  (new pool, images for D [B, H, W, 3]).

  Image by image, in batch order: while the pool has fewer than pool_size images, the image is
  stored and returned; afterwards, with probability 1/2 a uniformly chosen stored image is
  returned and replaced by the new one, else the new image is returned and the pool unchanged.
  A disabled pool (pool_size 0, images None) returns `images` as they are. The draws of image i
  come from fold_in(key, i).
  """
  if pool.images is None:
    return pool, images
  pool_size = pool.images.shape[0]

  def one(pool: train_state.ImagePool, inputs):
    image, i = inputs
    use_key, index_key = jax.random.split(jax.random.fold_in(key, i))
    filling = pool.count < pool_size
    swap = ~filling & (jax.random.uniform(use_key) < 0.5)
    index = jnp.where(filling, pool.count, jax.random.randint(index_key, (), 0, pool_size))
    stored = pool.images[index]
    kept = jnp.where(filling | swap, image, stored)    # what slot `index` holds afterwards
    new_pool = train_state.ImagePool(images=pool.images.at[index].set(kept),
                                     count=pool.count + filling.astype(pool.count.dtype))
    return new_pool, jnp.where(swap, stored, image)

  return jax.lax.scan(one, pool, (images, jnp.arange(images.shape[0])))


def make_train_step(generator, discriminator, g_tx, d_tx, weights: LossWeights):
  """(state, {'a': [B,S,S,3], 'b': [B,S,S,3]} in [-1, 1], key) -> (state, metrics).

  The official order: the generators' update (discriminators fixed), then the discriminators'
  update on the same fakes (made before G's update), passed through the pools.
  """
  lambda_idt = weights.lambda_cyc * weights.lambda_id

  def g_loss_fn(g_params, d_params, real_a, real_b):
    g_ab = lambda x: generator.apply(g_params['g_ab'], x)
    g_ba = lambda x: generator.apply(g_params['g_ba'], x)
    fake_b, fake_a = g_ab(real_a), g_ba(real_b)
    rec_a, rec_b = g_ba(fake_b), g_ab(fake_a)
    metrics = {
        'g/gan_a': losses.generator_loss('lsgan', discriminator.apply(d_params['d_a'], fake_a)),
        'g/gan_b': losses.generator_loss('lsgan', discriminator.apply(d_params['d_b'], fake_b)),
        'g/cycle_a': weights.lambda_cyc * losses.l1_reconstruction(rec_a, real_a),
        'g/cycle_b': weights.lambda_cyc * losses.l1_reconstruction(rec_b, real_b)}
    if lambda_idt > 0:
      metrics['g/idt_a'] = lambda_idt * losses.l1_reconstruction(g_ba(real_a), real_a)
      metrics['g/idt_b'] = lambda_idt * losses.l1_reconstruction(g_ab(real_b), real_b)
    else:
      metrics['g/idt_a'] = metrics['g/idt_b'] = jnp.zeros((), jnp.float32)
    loss = sum(metrics.values())
    return loss, ({'g/loss': loss, **metrics}, fake_a, fake_b)

  def d_loss_fn(d_params, real_a, real_b, fake_a, fake_b):
    d_a = lambda x: discriminator.apply(d_params['d_a'], x)
    d_b = lambda x: discriminator.apply(d_params['d_b'], x)
    # losses.discriminator_loss('lsgan') is (MSE(D(x), 1) + MSE(D(G(z)), 0)) / 2, the official.
    loss_a = losses.discriminator_loss('lsgan', d_a(real_a), d_a(fake_a))
    loss_b = losses.discriminator_loss('lsgan', d_b(real_b), d_b(fake_b))
    return loss_a + loss_b, {'d/loss_a': loss_a, 'd/loss_b': loss_b}

  def train_step(state: train_state.CycleGANState, batch, key):
    real_a, real_b = batch['a'], batch['b']
    g_grads, (g_metrics, fake_a, fake_b) = jax.grad(g_loss_fn, has_aux=True)(
        state.g_params, state.d_params, real_a, real_b)
    g_updates, g_opt_state = g_tx.update(g_grads, state.g_opt_state, state.g_params)
    key_a, key_b = jax.random.split(key)
    pool_a, fake_a = query_pool(state.pool_a, jax.lax.stop_gradient(fake_a), key_a)
    pool_b, fake_b = query_pool(state.pool_b, jax.lax.stop_gradient(fake_b), key_b)
    d_grads, d_metrics = jax.grad(d_loss_fn, has_aux=True)(
        state.d_params, real_a, real_b, fake_a, fake_b)
    d_updates, d_opt_state = d_tx.update(d_grads, state.d_opt_state, state.d_params)
    state = state.replace(
        step=state.step + 1, g_params=optax.apply_updates(state.g_params, g_updates),
        g_opt_state=g_opt_state, d_params=optax.apply_updates(state.d_params, d_updates),
        d_opt_state=d_opt_state, pool_a=pool_a, pool_b=pool_b)
    return state, {**g_metrics, **d_metrics}

  return train_step


@functools.partial(jax.jit, static_argnums=0)
def _apply_generator(generator, params, images):
  return generator.apply(params, images)


def translate_array(generator, params, images: np.ndarray) -> np.ndarray:
  """One generator on images [B, H, W, 3] in [-1, 1] (H, W multiples of 4) -> float32 numpy
  [B, H, W, 3] in [-1, 1]. Every translation of this module goes through here."""
  return np.asarray(_apply_generator(generator, params, jnp.asarray(images, jnp.float32)))


def cycle_grid(generator, g_params, real_a: np.ndarray, real_b: np.ndarray) -> np.ndarray:
  """uint8 grid: rows real_a | G_AB(a) | G_BA(G_AB(a)), then real_b | G_BA(b) | G_AB(G_BA(b))."""
  fake_b = translate_array(generator, g_params['g_ab'], real_a)
  fake_a = translate_array(generator, g_params['g_ba'], real_b)
  rec_a = translate_array(generator, g_params['g_ba'], fake_b)
  rec_b = translate_array(generator, g_params['g_ab'], fake_a)
  columns = [np.concatenate(pair) for pair in ((real_a, real_b), (fake_b, fake_a), (rec_a, rec_b))]
  return image_io.make_grid(columns)


def make_task(config: ml_collections.ConfigDict, workdir: str) -> loop.Task:
  """Everything the loop needs; every config and data error is raised here, before compiling."""
  validate_config(config)
  mesh = sharding.make_mesh()
  sharding.check_batch_size(config.batch_size, mesh)
  train_a, train_b = unpaired.make_domain_sources(config.data, 'train')
  test_a, test_b = unpaired.make_domain_sources(config.data, 'test')
  generator, discriminator = build_models(config)
  g_tx, d_tx = make_optimizers(config)
  loader = unpaired.UnpairedLoader(train_a, train_b, config.batch_size, config.seed,
                                   config.data.crop_size,
                                   rows=sharding.process_batch_slice(config.batch_size),
                                   num_threads=config.get('data_threads', 4))
  sample_a = unpaired.first_images(test_a, config.num_sample_images)
  sample_b = unpaired.first_images(test_b, config.num_sample_images)

  def write_samples(state, step):
    if jax.process_index() != 0:
      return
    grid = cycle_grid(generator, state.g_params, sample_a, sample_b)
    image_io.save_image(os.path.join(workdir, 'samples', f'step_{step:07d}.png'), grid)

  train_step = make_train_step(generator, discriminator, g_tx, d_tx,
                               LossWeights(**config.loss.to_dict()))
  return loop.Task(
      init_state=make_init_state(generator, discriminator, g_tx, d_tx, config.data.crop_size,
                                 config.pool_size),
      train_steps={'train': train_step}, loader=loader, write_samples=write_samples)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, **unused) -> Any:
  """--mode=train: trains (or resumes) CycleGAN in workdir."""
  return loop.train(config, workdir, make_task(config, workdir))


# Fields that change the shapes of the saved state: a restore needs the values it was trained with.
ARCHITECTURE_FIELDS = ('model.ngf', 'model.ndf', 'model.n_blocks', 'model.n_layers_d',
                       'data.crop_size', 'pool_size')


def check_matches_workdir(config, workdir: str) -> None:
  """ConfigError if workdir/config.json was trained with other network or pool shapes."""
  loop.check_matches_workdir(config, workdir, ARCHITECTURE_FIELDS)


def restore_networks(config, workdir: str):
  """(generator, discriminator, state, step) from the latest checkpoint of workdir."""
  validate_config(config)
  check_matches_workdir(config, workdir)
  generator, discriminator = build_models(config)
  g_tx, d_tx = make_optimizers(config)
  init = make_init_state(generator, discriminator, g_tx, d_tx, config.data.crop_size,
                         config.pool_size)
  state, step = checkpoint.restore_latest_replicated(workdir, init)
  return generator, discriminator, state, step


def check_direction(direction: str | None) -> str:
  """'AtoB' (also for None) or 'BtoA'; ConfigError for anything else."""
  direction = direction or 'AtoB'
  if direction not in DIRECTIONS:
    raise errors.ConfigError(f'--direction={direction!r}: use AtoB (domain A to B, the default) '
                             f'or BtoA')
  return direction


G_DOWNSAMPLING = 4   # G's two stride-2 convs: its input sides must be multiples of this


def _multiple_of_4(x: float) -> int:
  return max(4, int(round(x / 4)) * 4)


def load_for_translation(path: str, size: int) -> np.ndarray:
  """Any image file -> float32 [H, W, 3] in [-1, 1], the shorter side resized to `size` (aspect
  kept, sides rounded to multiples of 4), as the model was trained."""
  image = data_base.load_rgb(path)
  w, h = image.size
  scale = size / min(w, h)
  target = (_multiple_of_4(w * scale), _multiple_of_4(h * scale))
  if target != (w, h):
    image = image.resize(target, Image.BICUBIC)
  return data_base.uint8_to_float(np.asarray(image, np.uint8))


def translate_one(generator, params, image: np.ndarray, options: tiling.TranslateOptions
                  ) -> np.ndarray:
  """One generator on one image [H, W, 3] in [-1, 1] of any size -> float32 [H, W, 3]: padded to
  a multiple of 4 and cropped back; on tiles with whole-image instance-norm statistics when
  options.tile > 0 (gan_jax.tiling; margin >= 82 px, G's receptive-field radius, for exact)."""
  return tiling.translate_image(generator.apply, params, image, options=options,
                                multiple=G_DOWNSAMPLING,
                                untiled=lambda x: translate_array(generator, params, x))


def translate_images(config: ml_collections.ConfigDict, workdir: str, input: str | None = None,
                     output: str | None = None, direction: str | None = None,
                     **unused) -> list[str]:
  """--mode=translate --input=IMAGE_OR_FOLDER --output=FOLDER [--direction=AtoB|BtoA]: writes
  <name>_fake.png for every input, translated by G_AB (AtoB) or G_BA (BtoA): at the trained
  size, or with config.translate.full_resolution at the input's own size (tiled when
  config.translate.tile > 0)."""
  if not input or not output:
    raise errors.ConfigError('--mode=translate needs --input=IMAGE_OR_FOLDER and --output=FOLDER')
  direction = check_direction(direction)
  options = tiling.translate_options(config, G_DOWNSAMPLING)
  paths = image_io.list_images(input)
  generator, _, state, step = restore_networks(config, workdir)
  params = state.g_params[_GENERATORS[direction][0]]
  logging.info('Restored step %d from %s; translating %d image(s) %s.', step, workdir,
               len(paths), direction)
  written = []
  for path in paths:
    try:
      image = (image_io.load_full_resolution(path) if options.full_resolution
               else load_for_translation(path, config.data.crop_size))
    except data_base.UnreadableImageError as e:
      logging.warning('Skipped unreadable input %s', e)
      continue
    fake = translate_one(generator, params, image, options)
    out_path = os.path.join(output, f'{os.path.splitext(os.path.basename(path))[0]}_fake.png')
    image_io.save_image(out_path, fake)
    written.append(out_path)
  if not written:
    raise errors.InputNotFoundError(f'no readable image in {input!r}')
  logging.info('Wrote %d image(s) to %s.', len(written), output)
  return written


def _translate_test_set(generator, g_params, source, direction, e, extractor, mesh):
  """Cycle errors [N] (L1, PSNR, SSIM) and the features of the translations of one test set."""
  forward, backward = (g_params[name] for name in _GENERATORS[direction])
  cycle = {'l1': [], 'psnr': [], 'ssim': []}
  feats = []
  num_images = min(e.num_images, len(source))
  progress = evaluation.Progress(num_images, f'eval {direction}')
  for batch in loader_lib.ordered_batches(source, e.batch_size, num_images):
    real = batch['image']
    fake = translate_array(generator, forward, real)
    rec = translate_array(generator, backward, fake)
    cycle['l1'].append(np.abs(rec - real).mean(axis=(1, 2, 3)))
    cycle['psnr'].append(np.asarray(image_pairs.psnr_per_image(rec, real)))
    cycle['ssim'].append(np.asarray(image_pairs.ssim_per_image(rec, real)))
    if extractor:
      feats.append(extractor(fake, mesh=mesh)['features'])
    progress.update(len(real))
  cycle = {k: np.concatenate(v) for k, v in cycle.items()}
  return cycle, (np.concatenate(feats) if feats else None)


def _real_features(extractor, config, source, domain: str, e, mesh):
  """Features of a test set (from the reference-statistics cache when computed before)."""
  num_images = min(e.num_images, len(source))
  key = evaluation.ReferenceKey(unpaired.describe(config.data, 'test', domain), 'test',
                                config.data.crop_size, extractor.name, extractor.weights_hash,
                                extractor.resize, num_images)
  compute = lambda: evaluation.extract_features(
      extractor, (b['image'] for b in loader_lib.ordered_batches(source, e.batch_size,
                                                                   num_images)),
      num_images, f'test {domain.upper()} features', mesh)[0]
  feats, cached = evaluation.reference_features(key, compute, e.cache_dir or None)
  return feats, cached


def evaluate(config: ml_collections.ConfigDict, workdir: str, **unused) -> dict:
  """--mode=eval: on the test sets, the cycle error of each domain (L1 |G_BA(G_AB(a)) - a| and
  the reverse, with PSNR and SSIM) and, when a feature extractor is available
  (config.eval.extractor), FID/KID/precision/recall of G_AB(test A) against test B and of
  G_BA(test B) against test A, next to the FID between the untranslated test sets. Writes
  workdir/eval/<step>.json and workdir/eval/report.html."""
  e = config.eval
  generator, _, state, step = restore_networks(config, workdir)
  extractor = evaluation.configured_extractor(e)
  mesh = sharding.make_mesh()
  sources = dict(zip(('a', 'b'), unpaired.make_domain_sources(config.data, 'test')))
  result = {'step': step, 'method': 'cyclegan'}
  notes = ['cycle_l1_A = |G_BA(G_AB(a)) - a| on test A (images in [-1, 1]); cycle_l1_B likewise.']
  fakes = {}
  for direction, domain in (('AtoB', 'a'), ('BtoA', 'b')):
    cycle, fakes[direction] = _translate_test_set(generator, state.g_params, sources[domain],
                                                  direction, e, extractor, mesh)
    for name, values in cycle.items():
      result[f'cycle_{name}_{domain.upper()}'] = float(values.mean())
    result[f'num_images_{domain.upper()}'] = len(cycle['l1'])
  result['cycle_l1'] = (result['cycle_l1_A'] + result['cycle_l1_B']) / 2
  if extractor:
    real = {d: _real_features(extractor, config, sources[d], d, e, mesh)[0] for d in ('a', 'b')}
    for direction, target in (('AtoB', 'b'), ('BtoA', 'a')):
      metrics = evaluation.distribution_metrics(real[target], fakes[direction], None,
                                                kid_subset_size=e.kid_subset_size)
      result.update({f'{k}_{direction}': v for k, v in metrics.items()})
    result['fid_untranslated'] = evaluation.distribution_metrics(
        real['b'], real['a'], None, kid_subset_size=e.kid_subset_size)['fid']
    result.update(extractor=extractor.description, resize=extractor.resize,
                  comparable_to_papers=extractor.comparable_to_papers)
    notes.append(f'fid_AtoB = FID(G_AB(test A), test B), fid_BtoA likewise; fid_untranslated = '
                 f'FID(test A, test B), what no translation scores. Features: '
                 f'{extractor.description}. ' + (
                     'Comparable to published FIDs.' if extractor.comparable_to_papers else
                     'NOT comparable to published FIDs (not the standard Inception weights).'))
  else:
    result['extractor'] = 'none'
    notes.append('No feature extractor available (config.eval.extractor, or the Inception '
                 'weights): cycle error only, no FID/KID.')
  path = evaluation.write_eval(workdir, step, result)
  count = min(4, result['num_images_A'], result['num_images_B'])
  grid = cycle_grid(generator, state.g_params, unpaired.first_images(sources['a'], count),
                    unpaired.first_images(sources['b'], count))
  html_text = report.render(f'CycleGAN eval: {workdir}', result,
                            evaluation.read_eval_history(workdir),
                            {'Rows: real A | G_AB(A) | G_BA(G_AB(A)), then real B | G_BA(B) | '
                             'G_AB(G_BA(B))': grid}, None, notes)
  with open(os.path.join(workdir, 'eval', 'report.html'), 'w', encoding='utf-8') as f:
    f.write(html_text)
  logging.info('Eval of step %d written to %s: %s', step, path,
               {k: round(v, 4) for k, v in result.items() if isinstance(v, float)})
  return result


MODES = {'train': train_and_evaluate, 'translate': translate_images, 'eval': evaluate}
