"""--mode=stylize: Gatys style transfer of one content image with one or more styles.

No training and no checkpoints: the workdir receives stylize.json (the settings, the feature
network actually used, the final losses and timings) and, unless --output says otherwise, the
stylised image as stylized.png.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Any

from absl import logging
import numpy as np
from PIL import Image

from gan_jax import errors
from gan_jax import image_io
from gan_jax.data import base
from gan_jax.style import feature_net
from gan_jax.style import gatys


def split_list(text: str | None) -> list[str]:
  """'a.jpg, b.jpg' -> ['a.jpg', 'b.jpg']; None or '' -> []."""
  return [part.strip() for part in (text or '').split(',') if part.strip()]


def parse_weights(text: str | None) -> list[float] | None:
  """'0.7,0.3' -> [0.7, 0.3]; ConfigError for anything that is not a number."""
  parts = split_list(text)
  if not parts:
    return None
  try:
    return [float(p) for p in parts]
  except ValueError:
    raise errors.ConfigError(f'--style_weights={text!r}: give numbers separated by commas, '
                             'e.g. 0.7,0.3') from None


def output_size(width: int, height: int, longer_side: int) -> tuple[int, int]:
  """(w, h) with the longer side = longer_side (0 keeps the size), aspect ratio kept."""
  if longer_side <= 0:
    return width, height
  scale = longer_side / max(width, height)
  return max(1, round(width * scale)), max(1, round(height * scale))


def load_image(path: str, longer_side: int = 0, what: str = 'image') -> np.ndarray:
  """An image file -> float32 [h, w, 3] in [-1, 1], resized so its longer side = longer_side."""
  if not os.path.isfile(path):
    raise errors.InputNotFoundError(f'{what} {path!r} does not exist')
  try:
    image = base.load_rgb(path)
  except base.UnreadableImageError as e:
    raise errors.InputNotFoundError(f'{what} {path!r} cannot be read: {e}') from None
  size = output_size(*image.size, longer_side)
  if size != image.size:
    image = image.resize(size, Image.BICUBIC)
  return base.uint8_to_float(np.asarray(image, np.uint8))


def load_masks(paths: list[str], num_styles: int, height: int, width: int) -> np.ndarray | None:
  """One grey mask per style -> [R, h, w] in [0, 1] at the content's size (white = region)."""
  if not paths:
    return None
  if len(paths) != num_styles:
    raise errors.ConfigError(f'{len(paths)} masks for {num_styles} styles: config.masks needs '
                             'one mask image per style, in the order of --style')
  masks = []
  for path in paths:
    if not os.path.isfile(path):
      raise errors.InputNotFoundError(f'mask {path!r} does not exist')
    with Image.open(path) as mask:
      grey = mask.convert('L').resize((width, height), Image.BILINEAR)
    masks.append(np.asarray(grey, np.float32) / 255.0)
  return np.stack(masks)


def choose_layers(text: str, defaults: tuple[str, ...], available: tuple[str, ...],
                  what: str) -> tuple[str, ...]:
  names = tuple(split_list(text)) or defaults
  unknown = [n for n in names if n not in available]
  if unknown:
    raise errors.ConfigError(f'config.{what}: unknown layer(s) {unknown}; this feature network '
                             f'has {", ".join(available)}')
  return names


def settings_from_config(config, net) -> gatys.GatysSettings:
  settings = gatys.GatysSettings(
      content_layers=choose_layers(config.content_layers, net.content_layers, net.layers,
                                   'content_layers'),
      style_layers=choose_layers(config.style_layers, net.style_layers, net.layers,
                                 'style_layers'),
      content_weight=config.content_weight, style_weight=config.style_weight,
      tv_weight=config.tv_weight, strength=config.strength, optimizer=config.optimizer,
      steps=config.steps, coarse_steps=config.coarse_steps, learning_rate=config.learning_rate,
      num_scales=config.num_scales, init=config.init, color=config.color,
      style_scale=config.style_scale, seed=config.seed)
  settings.check()
  return settings


class _ProgressBar:
  """A tqdm bar over all steps of all scales, with the latest losses as its postfix."""

  def __init__(self, settings: gatys.GatysSettings):
    total = settings.steps + settings.coarse_steps * (settings.num_scales - 1)
    try:
      from tqdm import tqdm   # pylint: disable=g-import-not-at-top
      self.bar = tqdm(total=total, desc='stylize', file=sys.stderr, mininterval=1.0)
    except ImportError:
      self.bar = None
    self.offsets = [settings.coarse_steps * i for i in range(settings.num_scales)]
    self.last = 0

  def __call__(self, scale: int, done: int, steps: int, parts: dict) -> None:
    del steps
    position = self.offsets[scale] + done
    if self.bar is not None:
      self.bar.update(position - self.last)
      self.bar.set_postfix({k: f'{v:.4g}' for k, v in parts.items()}, refresh=False)
    else:
      logging.info('stylize step %d: %s', position, parts)
    self.last = position

  def close(self):
    if self.bar is not None:
      self.bar.close()


def stylize(config, workdir: str, content: str | None = None, style: str | None = None,
            style_weights: str | None = None, output: str | None = None,
            **unused) -> dict[str, Any]:
  """Runs Gatys style transfer; writes the image and workdir/stylize.json; returns the report."""
  style_paths = split_list(style)
  if not content or not style_paths:
    raise errors.ConfigError('--mode=stylize needs --content=IMG and --style=IMG[,IMG2,...]')
  weights = parse_weights(style_weights)
  content_image = load_image(content, config.size, 'content image')
  styles = [load_image(path, 0, 'style image') for path in style_paths]
  masks = load_masks(split_list(config.masks), len(styles), *content_image.shape[:2])
  normalized = gatys.normalize_weights(weights, len(styles))
  net = feature_net.load_feature_net(config.features.network, config.features.weights,
                                     seed=config.seed, pooling=config.features.pooling)
  settings = settings_from_config(config, net)
  logging.info('Stylizing %s (%dx%d) with %s, weights %s; features: %s', content,
               content_image.shape[1], content_image.shape[0], style_paths,
               [round(float(w), 4) for w in normalized], net.description)
  bar = _ProgressBar(settings)
  try:
    result = gatys.stylize(net, content_image, styles, settings, normalized, masks, bar)
  finally:
    bar.close()
  output = output or os.path.join(workdir, 'stylized.png')
  if os.path.isdir(output) or output.endswith(os.sep):
    output = os.path.join(output, 'stylized.png')
  image_io.save_image(output, result.image)
  report = {'output': os.path.abspath(output), 'content': content, 'styles': style_paths,
            'style_weights': [float(w) for w in normalized], 'masks': split_list(config.masks),
            'feature_network': net.name, 'feature_network_description': net.description,
            'pretrained_features': net.pretrained, 'losses': result.losses,
            'seconds': result.seconds, 'sizes': result.sizes,
            'settings': dataclasses.asdict(settings)}
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, 'stylize.json'), 'w', encoding='utf-8') as f:
    json.dump(report, f, indent=2)
  logging.info('Wrote %s in %.1f s. Final losses: %s', output, result.seconds,
               ', '.join(f'{k} {v:.4g}' for k, v in result.losses.items()))
  if not net.pretrained:
    logging.warning('These features are NOT VGG19: %s', net.description)
  return report


MODES = {'stylize': stylize}
