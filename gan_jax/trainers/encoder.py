"""An e4e-style encoder into a frozen StyleGAN's w+ space, on the shared loop (trainer 'encoder').

  python main.py --config=configs/encoder.py:synthetic --workdir=w/enc \\
      --config.encoder.generator=w/sg
  python main.py --config=configs/encoder.py:synthetic --workdir=w/enc --mode=eval \\
      --config.encoder.generator=w/sg

The generator (config.encoder.generator) is a StyleGAN run of trainer 'gan': its workdir (the
EMA weights of the latest checkpoint) or a generator .npz written by --mode=export with the run's
config.json beside it (where export writes it by default). The architecture is rebuilt from that
config.json. G's weights, and the feature judge's, are copied into the encoder's state when
training starts, so its checkpoints pin the networks it was trained against: resuming,
evaluating and `encode` read only the GAN run's config.json, never its (moving) checkpoints.

Each step encodes a batch x into ws = w_avg + base + deltas (models.encoder) and minimises

  pixel_l2 * mean (G(ws) - x)^2 + pixel_l1 * mean |G(ws) - x|
  + feature_weight * mean (f(G(ws)) - f(x))^2   f: penultimate features of the classifier in
                                                config.encoder.feature_judge (no LPIPS offline)
  + lambda_delta * sum_i ||deltas_i||_2          e4e's delta regulariser, mean over images
  + lambda_latent * mean (ws - w)^2              on the last latent_fraction of the batch's rows,
                                                replaced by G's own samples z -> w -> G(w)

G is frozen (only E's params are trained) and renders WITHOUT its per-layer noise inputs
(noise=None) everywhere: training, samples, evaluation and `encode`, so an image's latent and
its reconstruction are deterministic.

Samples (workdir/samples/): held-out inputs beside their reconstructions G(E(x)). Evaluation
(eval_every and --mode=eval, workdir/eval/<step>.json): PSNR/SSIM of the reconstructions of
held-out test images, the latent error and PSNR on G's own samples (whose w is known), and the
seconds per image of one encoder forward pass. Library: `encode(config, workdir, images) -> ws`;
`gan_editing.invert_images` starts from E(x) when config.edit.encoder names an encoder workdir.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gan_jax import checkpoint
from gan_jax import errors
from gan_jax import evaluation
from gan_jax import image_io
from gan_jax import losses
from gan_jax import sharding
from gan_jax import train_state
from gan_jax import data as data_lib
from gan_jax.data import loader as loader_lib
from gan_jax.metrics import image_pairs
from gan_jax.models import encoder as models
from gan_jax.trainers import gan
from gan_jax.trainers import loop


@dataclasses.dataclass(frozen=True)
class Networks:
  """E, the frozen G (a models.stylegan.Generator) and, with a feature loss, the frozen judge."""
  encoder: models.Encoder
  generator: Any
  judge: Any = None


def validate_config(config: ml_collections.ConfigDict) -> None:
  """ConfigError for settings that cannot work (before reading any weights)."""
  l = config.loss
  if not config.encoder.generator:
    raise errors.ConfigError('config.encoder.generator is empty: set it to a trained StyleGAN '
                             'workdir (configs/stylegan.py) or a generator .npz from its '
                             '--mode=export')
  weights = {k: l[k] for k in ('pixel_l2', 'pixel_l1', 'feature_weight', 'lambda_delta',
                               'lambda_latent')}
  if min(weights.values()) < 0:
    raise errors.ConfigError(f'config.loss weights must be >= 0: {weights}')
  if not 0.0 <= l.latent_fraction < 1.0:
    raise errors.ConfigError(f'config.loss.latent_fraction={l.latent_fraction} must be in [0, 1)')
  if l.feature_weight > 0 and not config.encoder.feature_judge:
    raise errors.ConfigError('config.loss.feature_weight > 0 needs config.encoder.feature_judge: '
                             'a classifier workdir (configs/classifier.py) on the same data')
  models.check_image_size(config.data.image_size, config.model.widths)


def _read_config_json(folder: str, what: str) -> ml_collections.ConfigDict:
  path = os.path.join(folder, 'config.json')
  if not os.path.isfile(path):
    raise errors.ConfigError(f'{what}: no config.json in {folder!r} to rebuild the network from '
                             '(every training run writes one into its workdir)')
  with open(path, encoding='utf-8') as f:
    return ml_collections.ConfigDict(json.load(f))


def generator_config(path: str, image_size: int) -> ml_collections.ConfigDict:
  """The GAN run's config of config.encoder.generator (a workdir, or an .npz with config.json
  beside it); ConfigError unless it exists, is a StyleGAN and makes image_size px images."""
  what = f'config.encoder.generator={path}'
  if not os.path.exists(path):
    raise errors.ConfigError(f'{what} does not exist: pass a trained StyleGAN workdir or a '
                             'generator .npz written by --mode=export')
  folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
  gan_config = _read_config_json(folder, what)
  name = gan_config.get('model', {}).get('name')
  if gan_config.get('trainer') != 'gan' or name != 'stylegan':
    raise errors.ConfigError(f'{what} is not a StyleGAN run (trainer={gan_config.get("trainer")!r}'
                             f', model.name={name!r}): the encoder predicts StyleGAN w+ latents')
  if gan_config.data.image_size != image_size:
    raise errors.ConfigError(f'{what} makes {gan_config.data.image_size} px images but '
                             f'config.data.image_size={image_size}: train the encoder at the '
                             "generator's size")
  gan.validate_config(gan_config)
  return gan_config


def _judge_model(path: str, image_size: int):
  from gan_jax.trainers import classifier  # pylint: disable=g-import-not-at-top
  what = f'config.encoder.feature_judge={path}'
  if not os.path.isdir(path):
    raise errors.ConfigError(f'{what} is not a folder: pass a classifier workdir '
                             '(configs/classifier.py) trained on the same data')
  judge_config = _read_config_json(path, what)
  if judge_config.get('trainer') != 'classifier':
    raise errors.ConfigError(f'{what} is not a classifier run (trainer='
                             f'{judge_config.get("trainer")!r})')
  if judge_config.data.image_size != image_size:
    raise errors.ConfigError(f'{what} sees {judge_config.data.image_size} px images but the '
                             f'encoder {image_size} px: train the classifier at the same size')
  return classifier.build_model(judge_config)


def build_networks(config: ml_collections.ConfigDict) -> Networks:
  """E sized for the generator that config.encoder.generator's config.json describes."""
  validate_config(config)
  size = config.data.image_size
  generator = gan.build_networks(generator_config(config.encoder.generator, size)).generator
  encoder = models.Encoder(num_ws=generator.num_ws, w_dim=generator.w_dim,
                           widths=tuple(config.model.widths), hidden_dim=config.model.hidden_dim)
  judge = (_judge_model(config.encoder.feature_judge, size) if config.loss.feature_weight > 0
           else None)
  return Networks(encoder, generator, judge)


def frozen_shapes(nets: Networks, image_size: int) -> dict:
  """ShapeDtypeStructs of the frozen variables: {'generator': {'params', 'stats'}[, 'judge']}."""
  key = jax.random.key(0)
  shapes = {'generator': jax.eval_shape(
      lambda k: nets.generator.init(k, jnp.zeros((1, nets.generator.z_dim)), train=False), key)}
  if nets.judge is not None:
    shapes['judge'] = jax.eval_shape(
        lambda k: nets.judge.init(k, jnp.zeros((1, image_size, image_size, 3))), key)
  return shapes


def _check_shapes(expected, found, what: str) -> None:
  shape_tree = lambda tree: jax.tree.map(lambda x: tuple(x.shape), tree)
  if shape_tree(expected) != shape_tree(found):
    raise errors.ConfigError(f'{what}: its weights do not fit the architecture its config.json '
                             'describes (was config.json overwritten by another run?)')


def load_frozen(config: ml_collections.ConfigDict, nets: Networks) -> dict:
  """The frozen weights as host arrays, shaped as frozen_shapes: G = the EMA weights of the
  generator workdir's latest checkpoint (LoRA adapters merged) or of its exported .npz."""
  path = config.encoder.generator
  what = f'config.encoder.generator={path}'
  if os.path.isdir(path):
    try:
      gan_nets, state, step = gan.restore(generator_config(path, config.data.image_size), path)
    except checkpoint.NoCheckpointError as e:
      raise errors.ConfigError(f'{what}: {e}') from None
    params, stats = gan_nets.generator_params(state.g_ema), state.g_stats
  else:
    try:
      params, stats, step = gan.load_generator(path)
    except (OSError, ValueError, KeyError) as e:
      raise errors.ConfigError(f'{what} is not a generator .npz written by --mode=export ({e})'
                               ) from None
  frozen = {'generator': jax.device_get({'params': params, **stats})}
  if nets.judge is not None:
    from gan_jax.trainers import classifier  # pylint: disable=g-import-not-at-top
    try:
      frozen['judge'] = jax.device_get(classifier.restore(config.encoder.feature_judge).params)
    except checkpoint.NoCheckpointError as e:
      raise errors.ConfigError(f'config.encoder.feature_judge: {e}') from None
  expected = frozen_shapes(nets, config.data.image_size)
  for name in expected:
    _check_shapes(expected[name], frozen[name], what if name == 'generator' else
                  f'config.encoder.feature_judge={config.encoder.feature_judge}')
  logging.info('Encoder trains against the generator of %s (step %d).', path, step)
  return frozen


def make_optimizer(config) -> optax.GradientTransformation:
  o = config.optim
  return optax.adam(o.lr, b1=o.b1, b2=o.b2)


def make_init_state(nets: Networks, tx, image_size: int, frozen: dict):
  """key -> EncoderState with a fresh E; `frozen` holds arrays (copied into the state) or
  ShapeDtypeStructs (zeros of that shape: a template for restoring a checkpoint)."""
  def init_state(key: jax.Array) -> train_state.EncoderState:
    params = nets.encoder.init(key, jnp.zeros((1, image_size, image_size, 3), jnp.float32))
    as_array = lambda x: (jnp.zeros(x.shape, x.dtype) if isinstance(x, jax.ShapeDtypeStruct)
                          else jnp.asarray(x))
    return train_state.EncoderState(step=jnp.zeros((), jnp.int32), params=params,
                                    opt_state=tx.init(params),
                                    frozen=jax.tree.map(as_array, frozen))
  return init_state


def encode_ws(encoder: models.Encoder, params, g_variables, images: jax.Array):
  """images [B, S, S, 3] -> (ws [B, num_ws, W], deltas [B, num_ws, W]) around G's w_avg."""
  base, deltas = encoder.apply(params, images)
  return models.compose_ws(g_variables['stats']['w_avg'], base, deltas), deltas


def synthesize(generator, g_variables, ws: jax.Array) -> jax.Array:
  """G(ws) without noise inputs: ws [B, num_ws, W] -> images [B, S, S, 3] in about [-1, 1]."""
  return generator.apply(g_variables, ws, None, method=generator.synthesize)


def sample_ws(generator, g_variables, key: jax.Array, num: int) -> jax.Array:
  """True w+ of G's own samples: z ~ N(0, I) through the mapping network (no truncation, no
  mixing), [num, num_ws, W]."""
  z = jax.random.normal(key, (num, generator.z_dim), jnp.float32)
  return generator.apply(g_variables, z, method=generator.mapping_ws)


def num_generated(batch_size: int, loss_config) -> int:
  """Rows of each batch replaced by G's samples (0 without a latent loss)."""
  if loss_config.lambda_latent <= 0:
    return 0
  return min(int(round(loss_config.latent_fraction * batch_size)), batch_size - 1)


def make_loss_fn(nets: Networks, loss_config):
  """(params, frozen, images [B,S,S,3], w_true [n, num_ws, W] of the last n rows or None) ->
  (loss, metrics): the weighted sum of the module docstring."""
  l = {k: float(loss_config[k]) for k in ('pixel_l2', 'pixel_l1', 'feature_weight',
                                          'lambda_delta', 'lambda_latent')}

  def loss_fn(params, frozen, images, w_true):
    ws, deltas = encode_ws(nets.encoder, params, frozen['generator'], images)
    reconstruction = synthesize(nets.generator, frozen['generator'], ws)
    pixel_l2 = jnp.mean(jnp.square(reconstruction - images))
    pixel_l1 = losses.l1_reconstruction(reconstruction, images)
    delta_reg = losses.delta_regularization(deltas[:, 1:])
    loss = l['pixel_l2'] * pixel_l2 + l['pixel_l1'] * pixel_l1 + l['lambda_delta'] * delta_reg
    metrics = {'pixel_l2': pixel_l2, 'pixel_l1': pixel_l1, 'delta_reg': delta_reg}
    if nets.judge is not None:
      features = lambda x: nets.judge.apply(frozen['judge'], x)[1]
      feature = jnp.mean(jnp.square(features(reconstruction) -
                                    jax.lax.stop_gradient(features(images))))
      loss += l['feature_weight'] * feature
      metrics['feature'] = feature
    if w_true is not None:
      latent = losses.latent_mse(ws[images.shape[0] - w_true.shape[0]:], w_true)
      loss += l['lambda_latent'] * latent
      metrics['latent_mse'] = latent
    metrics['loss'] = loss
    return loss, metrics
  return loss_fn


def make_train_step(nets: Networks, tx, loss_config):
  """(state, {'image': [B,S,S,3] in [-1,1]}, key) -> (state, metrics); only E's params change.
  With a latent loss, the last num_generated(B) rows are replaced by G's samples from `key`."""
  loss_fn = make_loss_fn(nets, loss_config)

  def train_step(state: train_state.EncoderState, batch, key):
    images, w_true = batch['image'], None
    num_fake = num_generated(images.shape[0], loss_config)
    if num_fake:
      g_variables = state.frozen['generator']
      w_true = sample_ws(nets.generator, g_variables, key, num_fake)
      fakes = synthesize(nets.generator, g_variables, w_true)
      images = jnp.concatenate([images[:images.shape[0] - num_fake], fakes], axis=0)
    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.params, state.frozen, images, w_true)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    return state.replace(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                         opt_state=opt_state), metrics
  return train_step


@functools.partial(jax.jit, static_argnums=(0, 1))
def _reconstruction_metrics(encoder, generator, params, g_variables, images):
  """(ws, reconstructions, {'psnr', 'ssim', 'pixel_mse'} per image [B]) of images [B,S,S,3]."""
  ws, _ = encode_ws(encoder, params, g_variables, images)
  reconstruction = synthesize(generator, g_variables, ws)
  return ws, reconstruction, {
      'psnr': image_pairs.psnr_per_image(reconstruction, images),
      'ssim': image_pairs.ssim_per_image(reconstruction, images),
      'pixel_mse': jnp.mean(jnp.square(reconstruction - images), axis=(1, 2, 3))}


@functools.partial(jax.jit, static_argnums=0)
def _encode(encoder, params, g_variables, images):
  return encode_ws(encoder, params, g_variables, images)[0]


@functools.partial(jax.jit, static_argnums=(0, 3))
def _generated(generator, g_variables, key, num: int):
  w_true = sample_ws(generator, g_variables, key, num)
  return w_true, synthesize(generator, g_variables, w_true)


@dataclasses.dataclass(frozen=True)
class TrainedEncoder:
  """A restored encoder with the G it was trained against (noise-free rendering)."""
  encoder: models.Encoder
  generator: Any
  params: Any
  g_variables: dict
  step: int

  def encode(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """images [N, S, S, 3] in [-1, 1] -> ws [N, num_ws, W] (one forward pass per batch)."""
    return np.concatenate([np.asarray(_encode(self.encoder, self.params, self.g_variables,
                                              jnp.asarray(chunk, jnp.float32)))
                           for chunk in evaluation.batched(np.asarray(images), batch_size)])


def make_task(config: ml_collections.ConfigDict, workdir: str) -> loop.Task:
  """Everything the loop needs; every config, generator and data error is raised here."""
  sharding.check_batch_size(config.batch_size, sharding.make_mesh())
  nets = build_networks(config)
  size = config.data.image_size
  train_source = data_lib.make_source(config.data, 'train')
  test_source = data_lib.make_source(config.data, 'test')
  tx = make_optimizer(config)
  # The frozen weights are read only for a fresh run; a resumed one restores them from its state.
  frozen = (load_frozen(config, nets) if checkpoint.latest_step(workdir) is None
            else frozen_shapes(nets, size))
  loader = loader_lib.BatchLoader(train_source, config.batch_size, config.seed,
                                  rows=sharding.process_batch_slice(config.batch_size),
                                  num_threads=config.get('data_threads', 4))
  sample_images = next(loader_lib.ordered_batches(test_source, config.num_sample_images))['image']

  def write_samples(state, step):
    if jax.process_index() != 0:
      return
    # The eval's program (metrics unused): one compile when num_sample_images = eval.batch_size.
    _, reconstruction, _ = _reconstruction_metrics(nets.encoder, nets.generator, state.params,
                                                   state.frozen['generator'],
                                                   jnp.asarray(sample_images))
    grid = image_io.make_grid([sample_images, np.asarray(reconstruction)])
    image_io.save_image(os.path.join(workdir, 'samples', f'step_{step:07d}.png'), grid)

  return loop.Task(
      init_state=make_init_state(nets, tx, size, frozen),
      train_steps={'train': make_train_step(nets, tx, config.loss)},
      loader=loader, write_samples=write_samples,
      evaluate=(functools.partial(evaluate_state, config, nets, workdir, test_source)
                if config.eval_every else None))


def _seconds_per_image(encoder, params, g_variables, images: jax.Array, repeats: int = 3) -> float:
  """Wall time of one (compiled) encoder forward pass over `images`, per image; best of repeats."""
  jax.block_until_ready(_encode(encoder, params, g_variables, images))
  best = float('inf')
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(_encode(encoder, params, g_variables, images))
    best = min(best, time.perf_counter() - start)
  return best / images.shape[0]


def evaluate_state(config, nets: Networks, workdir: str, source, state, step: int) -> dict:
  """Reconstruction PSNR/SSIM/MSE of the first config.eval.num_images test images, latent MSE
  and PSNR on eval.batch_size of G's samples (fixed z from config.seed), and the encoding time
  per image; written to workdir/eval/<step>.json."""
  e = config.eval
  g_variables = state.frozen['generator']
  num_images = min(e.num_images, len(source))
  sums = {'psnr': 0.0, 'ssim': 0.0, 'pixel_mse': 0.0}
  seconds = None
  for batch in loader_lib.ordered_batches(source, e.batch_size, num_images):
    images = jnp.asarray(batch['image'])
    _, _, per_image = _reconstruction_metrics(nets.encoder, nets.generator, state.params,
                                              g_variables, images)
    sums = {k: v + float(jnp.sum(per_image[k])) for k, v in sums.items()}
    if seconds is None:
      seconds = _seconds_per_image(nets.encoder, state.params, g_variables, images)
  result = {f'eval/{k}': v / num_images for k, v in sums.items()}
  key = jax.random.fold_in(jax.random.key(config.seed), 0x5A3)
  w_true, generated = _generated(nets.generator, g_variables, key, e.batch_size)
  ws, _, per_image = _reconstruction_metrics(nets.encoder, nets.generator, state.params,
                                             g_variables, generated)
  result['eval/latent_mse_generated'] = float(jnp.mean(jnp.square(ws - w_true)))
  result['eval/psnr_generated'] = float(jnp.mean(per_image['psnr']))
  result['eval/encode_seconds_per_image'] = seconds
  if jax.process_index() == 0:
    evaluation.write_eval(workdir, step, {
        'step': step, 'num_images': num_images, 'method': 'encoder',
        'generator': config.encoder.generator, 'device': jax.devices()[0].device_kind, **result})
  logging.info('Eval of step %d: %s', step, {k: round(v, 5) for k, v in result.items()})
  return result


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, **unused) -> Any:
  """--mode=train: trains (or resumes) the encoder in workdir."""
  return loop.train(config, workdir, make_task(config, workdir))


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config an encoder workdir was trained with (its config.json)."""
  if not os.path.isfile(os.path.join(workdir, 'config.json')):
    raise checkpoint.NoCheckpointError(
        f'{workdir!r} has no config.json: train an encoder there first with '
        f'python main.py --config=configs/encoder.py --workdir={workdir} '
        '--config.encoder.generator=STYLEGAN_WORKDIR')
  return _read_config_json(workdir, workdir)


def restore_state(workdir: str, config: ml_collections.ConfigDict | None = None):
  """(networks, state, step) of the latest checkpoint; config defaults to workdir's
  config.json. Reads only the generator's config.json: its weights come from the checkpoint."""
  config = load_config(workdir) if config is None else config
  nets = build_networks(config)
  size = config.data.image_size
  init_state = make_init_state(nets, make_optimizer(config), size, frozen_shapes(nets, size))
  state, step = checkpoint.restore_latest_replicated(workdir, init_state)
  return nets, state, step


def restore(workdir: str, config: ml_collections.ConfigDict | None = None) -> TrainedEncoder:
  """The trained encoder of workdir and the G it was trained against, on the host."""
  nets, state, step = restore_state(workdir, config)
  return TrainedEncoder(nets.encoder, nets.generator, jax.device_get(state.params),
                        jax.device_get(state.frozen['generator']), int(step))


def encode(config: ml_collections.ConfigDict | None, workdir: str,
           images: np.ndarray) -> np.ndarray:
  """E(x): images [N, S, S, 3] in [-1, 1] -> ws [N, num_ws, W] in the w+ space of the G the
  encoder in workdir was trained against (config None: the workdir's own config.json)."""
  return restore(workdir, config).encode(images)


def encode_for_editing(gen, workdir: str, images: np.ndarray) -> np.ndarray:
  """E(x) as a start for gan_editing.invert_images: ConfigError unless the encoder's latents fit
  gen (a StyleGAN of the same size, num_ws and w_dim); a warning when gen's weights are not the
  ones the encoder was trained against (E(x) is then only an approximate start)."""
  where = f'config.edit.encoder={workdir}'
  if gen.kind != 'stylegan':
    raise errors.ConfigError(f'{where}: the encoder predicts StyleGAN w+, but this G is a '
                             f'{gen.kind}')
  trained = restore(workdir)
  w_dim = trained.g_variables['stats']['w_avg'].shape[-1]
  if (trained.generator.image_size, trained.generator.num_ws, w_dim) != (
      gen.image_size, gen.num_ws, gen.variables['stats']['w_avg'].shape[-1]):
    raise errors.ConfigError(f'{where} was trained for a G of {trained.generator.image_size} px '
                             f'and w+ [{trained.generator.num_ws}, {w_dim}], not this one')
  mine, theirs = trained.g_variables, gen.variables
  same = jax.tree.structure(mine) == jax.tree.structure(theirs) and all(
      np.array_equal(a, b) for a, b in zip(jax.tree.leaves(mine), jax.tree.leaves(theirs)))
  if not same:
    logging.warning('%s was trained against other generator weights than the ones being '
                    'edited: E(x) is only an approximate start.', where)
  return trained.encode(images)


def evaluate_workdir(config: ml_collections.ConfigDict, workdir: str, **unused) -> dict:
  """--mode=eval: evaluate_state on the latest checkpoint of workdir."""
  nets, state, step = restore_state(workdir, config)
  return evaluate_state(config, nets, workdir, data_lib.make_source(config.data, 'test'), state,
                        int(step))


MODES = {'train': train_and_evaluate, 'eval': evaluate_workdir}
