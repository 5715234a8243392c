"""AdaIN fast arbitrary style transfer (Huang & Belongie 2017) on the shared loop.

--mode=train   trains the decoder (the encoder is the frozen feature network) on a folder of
               content images and a folder of style images.
--mode=stylize stylises --content (an image or a folder) with --style=IMG[,IMG2...] blended by
               --style_weights, strength config.stylize.alpha, optional colour preservation and
               tiled high-resolution inference (config.stylize.tile).
--mode=eval    content and style losses on held-out content/style pairs.
"""

from __future__ import annotations

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

from gan_jax import checkpoint
from gan_jax import errors
from gan_jax import image_io
from gan_jax import sharding
from gan_jax import train_state
from gan_jax.data import base
from gan_jax.data import loader as loader_lib
from gan_jax.data import unpaired
from gan_jax.models import adain as models
from gan_jax.style import adain as adain_lib
from gan_jax.style import color
from gan_jax.style import feature_net
from gan_jax.style import gatys
from gan_jax.style import tiled_adain
from gan_jax.trainers import gatys as gatys_cli
from gan_jax.trainers import loop


def load_encoder(config) -> feature_net.FeatureNet:
  f = config.features
  return feature_net.adain_encoder_net(f.network, f.weights, seed=config.seed)


def build_decoder(config, factor: int) -> models.Decoder:
  """The decoder for an encoder that down-samples `factor` times."""
  return models.Decoder(blocks=models.blocks_for_downsampling(factor), width=config.model.width)


def validate_config(config, factor: int) -> None:
  d = config.data
  if d.crop_size % factor:
    raise errors.ConfigError(f'config.data.crop_size={d.crop_size} must be a multiple of '
                             f'{factor} (the encoder down-samples {factor}x)')
  if config.loss.style_weight < 0:
    raise errors.ConfigError(f'config.loss.style_weight={config.loss.style_weight} must be >= 0')


def make_sources(data, split: str) -> tuple[unpaired.DomainFolder, unpaired.DomainFolder]:
  """(content, style) image sources of `split`: the last data.test_size files of each folder are
  held out as the test split. Train images at load_size (randomly cropped later), test at
  crop_size."""
  size = data.load_size if split == 'train' else data.crop_size
  sources = []
  for what, path in (('content', data.content_path), ('style', data.style_path)):
    if not path or not os.path.isdir(path):
      raise base.DataConfigError(
          f'config.data.{what}_path={path!r} is not a folder: set it to a folder of {what} '
          f'images (the paper: MS-COCO train2014 for content, WikiArt for style).')
    files = unpaired.list_image_files(path)
    if not 0 < data.test_size < len(files):
      raise base.DataConfigError(f'{path} has {len(files)} images: config.data.test_size='
                                 f'{data.test_size} must be in [1, {len(files) - 1}]')
    files = files[-data.test_size:] if split == 'test' else files[:-data.test_size]
    sources.append(unpaired.DomainFolder(path, size, files))
  return sources[0], sources[1]


def make_optimizer(config) -> optax.GradientTransformation:
  """Adam with the official schedule lr / (1 + lr_decay * step)."""
  o = config.optim
  return optax.adam(lambda step: o.lr / (1.0 + o.lr_decay * step))


def make_init_state(net, decoder, tx, feature_size: int, channels: int):
  def init_state(key: jax.Array) -> train_state.AdaINState:
    params = decoder.init(key, jnp.zeros((1, feature_size, feature_size, channels)))
    return train_state.AdaINState(step=jnp.zeros((), jnp.int32), decoder_params=params,
                      opt_state=tx.init(params), encoder_params=net.params)
  return init_state


def make_train_step(net, decoder, tx, style_weight: float):
  """(state, {'a': content, 'b': style}, key) -> (state, metrics); only the decoder trains."""
  def train_step(state: train_state.AdaINState, batch: dict, key: jax.Array):
    del key
    def loss_fn(params):
      return adain_lib.training_losses(
          net.features, state.encoder_params, lambda t: decoder.apply(params, t), batch['a'],
          batch['b'], net.adain_layer, net.adain_style_layers, style_weight)
    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.decoder_params)
    updates, opt_state = tx.update(grads, state.opt_state, state.decoder_params)
    state = state.replace(step=state.step + 1,
                          decoder_params=optax.apply_updates(state.decoder_params, updates),
                          opt_state=opt_state)
    return state, metrics
  return train_step


def make_task(config: ml_collections.ConfigDict, workdir: str, net=None) -> loop.Task:
  """The loop's task; `net` (the encoder) is loaded from config.features when not given."""
  net = net or load_encoder(config)
  factor, channels = adain_lib.encoder_geometry(net)
  validate_config(config, factor)
  mesh = sharding.make_mesh()
  sharding.check_batch_size(config.batch_size, mesh)
  train_content, train_style = make_sources(config.data, 'train')
  test_content, test_style = make_sources(config.data, 'test')
  logging.info('AdaIN encoder: %s', net.description)
  decoder, tx = build_decoder(config, factor), make_optimizer(config)
  loader = unpaired.UnpairedLoader(train_content, train_style, config.batch_size, config.seed,
                                   config.data.crop_size,
                                   rows=sharding.process_batch_slice(config.batch_size),
                                   num_threads=config.get('data_threads', 4))
  count = config.num_sample_images
  sample_content = unpaired.first_images(test_content, count)
  sample_style = unpaired.first_images(test_style, count)
  n = min(len(sample_content), len(sample_style))
  sample_content, sample_style = sample_content[:n], sample_style[:n]
  one = jnp.ones((1,), jnp.float32)

  @jax.jit
  def stylize_pairs(state, content, style):
    return adain_lib.stylize(net.features, state.encoder_params,
                             lambda t: decoder.apply(state.decoder_params, t), net.adain_layer,
                             content, [style], one, 1.0)

  def write_samples(state, step):
    if jax.process_index() != 0:
      return
    out = np.clip(np.asarray(stylize_pairs(state, sample_content, sample_style)), -1, 1)
    grid = image_io.make_grid([sample_content, sample_style, out])
    image_io.save_image(os.path.join(workdir, 'samples', f'step_{step:07d}.png'), grid)

  @jax.jit
  def test_losses(state, content, style):
    return adain_lib.training_losses(
        net.features, state.encoder_params, lambda t: decoder.apply(state.decoder_params, t),
        content, style, net.adain_layer, net.adain_style_layers, config.loss.style_weight)[1]

  def evaluate(state, step):
    totals = {}
    batches = 0
    for content, style in held_out_pairs(test_content, test_style, config.eval.batch_size):
      for k, v in test_losses(state, content, style).items():
        totals[k] = totals.get(k, 0.0) + float(v)
      batches += 1
    result = {f'test/{k}': v / max(1, batches) for k, v in totals.items()}
    if jax.process_index() == 0:
      os.makedirs(os.path.join(workdir, 'eval'), exist_ok=True)
      with open(os.path.join(workdir, 'eval', f'{step}.json'), 'w', encoding='utf-8') as f:
        json.dump({'step': step, 'encoder': net.description, **result}, f, indent=2)
    return result

  return loop.Task(init_state=make_init_state(net, decoder, tx, config.data.crop_size // factor,
                                              channels),
                   train_steps={'train': make_train_step(net, decoder, tx,
                                                         config.loss.style_weight)},
                   loader=loader, write_samples=write_samples, evaluate=evaluate)


def held_out_pairs(test_content, test_style, batch_size: int):
  """(content, style) batches pairing the i-th held-out content with the (i mod S)-th style."""
  styles = next(loader_lib.ordered_batches(test_style, len(test_style)))['image']
  for batch in loader_lib.ordered_batches(test_content, batch_size):
    index = batch['index'] % len(styles)
    yield batch['image'], styles[index]


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, **unused) -> Any:
  return loop.train(config, workdir, make_task(config, workdir))


def restore(config, workdir: str, net=None):
  """(encoder net, decoder, state, step) of the latest checkpoint of workdir; `net` (the
  encoder) is loaded from config.features when not given."""
  net = net or load_encoder(config)
  factor, channels = adain_lib.encoder_geometry(net)
  decoder, tx = build_decoder(config, factor), make_optimizer(config)
  init = make_init_state(net, decoder, tx, config.data.crop_size // factor, channels)
  state, step = checkpoint.restore_latest_replicated(workdir, init)
  return net, decoder, state, step


def evaluate_workdir(config, workdir: str, **unused) -> dict:
  """--mode=eval: held-out content/style losses of the latest checkpoint."""
  net = load_encoder(config)
  task = make_task(config, workdir, net)
  _, _, state, step = restore(config, workdir, net)
  return task.evaluate(state, step)


@functools.lru_cache(maxsize=8)
def _stylize_fn(net, decoder):
  @jax.jit
  def run(encoder_params, decoder_params, content, styles, weights, alpha):
    return adain_lib.stylize(net.features, encoder_params,
                             lambda t: decoder.apply(decoder_params, t), net.adain_layer,
                             content, styles, weights, alpha)
  return run


def round_to_multiple(image: np.ndarray, factor: int) -> np.ndarray:
  """Crops [h, w, 3] to multiples of factor (at most factor - 1 px off each side, centred)."""
  h, w = image.shape[:2]
  nh, nw = h - h % factor, w - w % factor
  top, left = (h - nh) // 2, (w - nw) // 2
  return image[top:top + nh, left:left + nw]


def stylize_images(config, workdir: str, content: str | None = None, style: str | None = None,
                   style_weights: str | None = None, output: str | None = None,
                   **unused) -> list[str]:
  """--mode=stylize: writes <output>/<name>_stylized.png per content image."""
  style_paths = gatys_cli.split_list(style)
  if not content or not style_paths:
    raise errors.ConfigError('--mode=stylize needs --content=IMG_OR_DIR and '
                             '--style=IMG[,IMG2,...]')
  if not output:
    raise errors.ConfigError('--mode=stylize needs --output=DIR')
  s = config.stylize
  if not 0.0 <= s.alpha <= 1.0:
    raise errors.ConfigError(f'config.stylize.alpha={s.alpha} must be in [0, 1]')
  if s.color not in color.COLOR_MODES:
    raise errors.ConfigError(f'config.stylize.color={s.color!r}: choose one of {color.COLOR_MODES}')
  weights = jnp.asarray(gatys.normalize_weights(gatys_cli.parse_weights(style_weights),
                                                len(style_paths)))
  content_paths = image_io.list_images(content)
  styles = [gatys_cli.load_image(p, s.style_size, 'style image') for p in style_paths]
  net, decoder, state, step = restore(config, workdir)
  factor, _ = adain_lib.encoder_geometry(net)
  run = _stylize_fn(net, decoder)
  written = []
  for path in content_paths:
    image = round_to_multiple(gatys_cli.load_image(path, s.size, 'content image'), factor)
    content_in, styles_in = gatys.prepare_colors(image, styles, s.color)
    if s.tile:
      out = tiled_adain.stylize_tiled(net, decoder, state, content_in, styles_in, weights,
                                      s.alpha, tile=s.tile, overlap=s.tile_overlap,
                                      margin=s.tile_margin)
    else:
      out = np.asarray(run(state.encoder_params, state.decoder_params, content_in[None],
                           [x[None] for x in styles_in], weights, s.alpha))[0]
    out = np.clip(out, -1.0, 1.0)
    if s.color == 'luminance':
      out = color.combine_luminance(out, image)
    name = os.path.splitext(os.path.basename(path))[0]
    target = os.path.join(output, f'{name}_stylized.png')
    image_io.save_image(target, out)
    written.append(target)
  logging.info('Stylized %d image(s) with decoder step %d (alpha %.2f, styles %s, weights %s) '
               'into %s', len(written), step, s.alpha, style_paths,
               [round(float(w), 3) for w in weights], output)
  return written


MODES = {'train': train_and_evaluate, 'stylize': stylize_images, 'eval': evaluate_workdir}
