"""Gatys et al. (2016) style transfer by optimising the image: content + Gram style (+ TV) losses.

Controls beyond the paper, all in `GatysSettings`:
  * several style images with blend weights (the style term is the weighted sum of each style's
    relative Gram loss, whose minimiser is the weighted average of the Gram targets);
  * a strength in [0, inf): the style term's multiplier; 0 returns the content image unchanged
    (the optimisation starts from the content and only the content loss remains);
  * colour preservation ('luminance' or 'histogram', gan_jax.style.color);
  * region masks: one mask per style, each style's Gram matrix of the output taken only over its
    region (masks resized to every layer), so a style acts where its mask is;
  * coarse-to-fine: `num_scales` sizes, each a factor 2 apart, the result of one the start of the
    next (faster, and keeps large-scale structure);
  * L-BFGS (optax, zoom line search, as the paper's L-BFGS) or Adam.

Images are float32 [h, w, 3] in [-1, 1] (numpy) at the edges; optimisation runs in jitted chunks
of steps, with a host callback after each chunk for progress bars.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gan_jax import errors
from gan_jax.style import color
from gan_jax.style import losses

OPTIMIZERS = ('lbfgs', 'adam')
INITS = ('content', 'noise')


@dataclasses.dataclass(frozen=True)
class GatysSettings:
  """Everything that shapes one stylisation (see the module docstring)."""
  content_layers: tuple[str, ...]
  style_layers: tuple[str, ...]
  content_weight: float = 1.0
  style_weight: float = 1e2
  tv_weight: float = 0.0
  strength: float = 1.0
  optimizer: str = 'lbfgs'
  steps: int = 200                 # at the finest scale
  coarse_steps: int = 100          # at each coarser scale
  learning_rate: float = 0.02      # Adam, in [-1, 1] pixel units
  lbfgs_memory: int = 10
  num_scales: int = 1
  init: str = 'content'
  color: str = 'none'
  style_scale: float = 1.0         # style image area relative to the content's, per scale
  seed: int = 0
  chunk: int = 10                  # steps per compiled call (progress granularity)

  def check(self) -> None:
    """ConfigError for settings that cannot work."""
    if self.optimizer not in OPTIMIZERS:
      raise errors.ConfigError(f'optimizer {self.optimizer!r}: choose one of {OPTIMIZERS}')
    if self.init not in INITS:
      raise errors.ConfigError(f'init {self.init!r}: choose one of {INITS}')
    if self.color not in color.COLOR_MODES:
      raise errors.ConfigError(f'color {self.color!r}: choose one of {color.COLOR_MODES}')
    if self.strength < 0:
      raise errors.ConfigError(f'strength={self.strength} must be >= 0 (0 = content only)')
    if self.num_scales < 1 or self.steps < 0 or self.coarse_steps < 0 or self.chunk < 1:
      raise errors.ConfigError('num_scales >= 1, steps >= 0, coarse_steps >= 0 and chunk >= 1 '
                               f'needed; got {self.num_scales}, {self.steps}, '
                               f'{self.coarse_steps}, {self.chunk}')
    if not self.style_layers and self.strength > 0:
      raise errors.ConfigError('no style layers: name some in style_layers')


@dataclasses.dataclass
class StylizeResult:
  image: np.ndarray                # [h, w, 3] in [-1, 1]
  losses: dict[str, float]         # final total/content/style/tv at the finest scale
  history: list[float]             # total loss at every step of the finest scale
  seconds: float
  sizes: list[tuple[int, int]]     # (h, w) of each scale, coarse to fine


def normalize_weights(weights: Sequence[float] | None, count: int) -> np.ndarray:
  """Blend weights of `count` styles, non-negative and summing to 1 (uniform when None)."""
  if weights is None or len(weights) == 0:
    return np.full(count, 1.0 / count, np.float32)
  w = np.asarray(weights, np.float64)
  if len(w) != count:
    raise errors.ConfigError(f'{len(w)} style weights for {count} style images: give one each')
  if np.any(w < 0) or w.sum() <= 0:
    raise errors.ConfigError(f'style weights {list(weights)} must be >= 0 with a positive sum')
  return (w / w.sum()).astype(np.float32)


def scale_sizes(height: int, width: int, num_scales: int) -> list[tuple[int, int]]:
  """(h, w) of each scale, coarse to fine, each half the next (at least 16 px)."""
  return [(max(16, round(height / 2 ** k)), max(16, round(width / 2 ** k)))
          for k in reversed(range(num_scales))]


def resize(image: jax.Array | np.ndarray, size: tuple[int, int]) -> jax.Array:
  """[h, w, c] or [b, h, w, c] -> the given (h, w), antialiased linear."""
  image = jnp.asarray(image)
  shape = (*size, image.shape[-1]) if image.ndim == 3 else (image.shape[0], *size, image.shape[-1])
  return jax.image.resize(image, shape, 'linear', antialias=True)


def style_size(style_shape: tuple[int, ...], content_size: tuple[int, int],
               style_scale: float) -> tuple[int, int]:
  """The style image's (h, w) keeping its aspect ratio, with area = content area * scale^2."""
  h, w = style_shape[:2]
  factor = style_scale * math.sqrt(content_size[0] * content_size[1] / (h * w))
  return max(16, round(h * factor)), max(16, round(w * factor))


def layer_masks(masks: jax.Array, features: dict[str, jax.Array]) -> dict[str, jax.Array]:
  """Region masks [R, H, W] in [0, 1] resized to each layer: {name: [R, h_l, w_l]}."""
  return {name: jax.image.resize(masks, (masks.shape[0], *f.shape[1:3]), 'linear',
                                 antialias=True) for name, f in features.items()}


def loss_coefficients(settings: GatysSettings) -> jax.Array:
  """[content, style, tv] multipliers of the three terms (traced, so changing the strength or a
  weight does not recompile)."""
  return jnp.asarray([settings.content_weight, settings.strength * settings.style_weight,
                      settings.tv_weight], jnp.float32)


def make_loss_fn(features_fn: Callable, params: Any, content_targets: dict, style_targets: dict,
                 style_weights: jax.Array, masks: jax.Array | None, coefficients: jax.Array,
                 content_layers: tuple[str, ...], style_layers: tuple[str, ...]):
  """x [h, w, 3] -> (total, {'content', 'style', 'tv'}); style_targets {layer: [R, c, c]},
  style_weights [R], masks None or [R, h, w], coefficients [3] (see loss_coefficients)."""
  layers = tuple(dict.fromkeys(content_layers + style_layers))
  content_w = {name: 1.0 / len(content_layers) for name in content_layers}
  style_w = {name: 1.0 / max(1, len(style_layers)) for name in style_layers}
  num_styles = style_weights.shape[0]

  def loss_fn(x):
    feats = features_fn(params, x[None], layers)
    content = losses.content_loss({k: feats[k] for k in content_layers}, content_targets,
                                  content_w)[0] if content_layers else jnp.float32(0.0)
    style = jnp.float32(0.0)
    if style_layers:
      style_feats = {k: feats[k] for k in style_layers}
      region = layer_masks(masks, style_feats) if masks is not None else None
      per_style = []
      for r in range(num_styles):
        grams = {k: losses.gram_matrix(f, None if region is None else region[k][r:r + 1])
                 for k, f in style_feats.items()}
        targets = {k: style_targets[k][r:r + 1] for k in style_layers}
        per_style.append(losses.style_loss(grams, targets, style_w)[0])
      style = jnp.sum(style_weights * jnp.stack(per_style))
    tv = losses.total_variation(x[None])[0]
    total = coefficients[0] * content + coefficients[1] * style + coefficients[2] * tv
    return total, {'content': content, 'style': style, 'tv': tv}

  return loss_fn


def compute_targets(features_fn, params, content: jax.Array, styles: Sequence[jax.Array],
                    settings: GatysSettings) -> tuple[dict, dict]:
  """(content features {layer: [1, h, w, c]}, style Grams {layer: [R, c, c]})."""
  content_feats = features_fn(params, content[None], settings.content_layers)
  grams = {name: [] for name in settings.style_layers}
  for style in styles:
    feats = features_fn(params, style[None], settings.style_layers)
    for name, f in feats.items():
      grams[name].append(losses.gram_matrix(f)[0])
  return content_feats, {name: jnp.stack(g) for name, g in grams.items()}


def _make_optimizer(optimizer: str, learning_rate: float, memory: int):
  if optimizer == 'adam':
    return optax.adam(learning_rate)
  return optax.lbfgs(memory_size=memory,
                     linesearch=optax.scale_by_zoom_linesearch(max_linesearch_steps=20))


@dataclasses.dataclass(frozen=True)
class _Program:
  """What the compiled optimisation depends on statically (a jit cache key)."""
  features_fn: Callable
  content_layers: tuple[str, ...]
  style_layers: tuple[str, ...]
  optimizer: str
  learning_rate: float
  lbfgs_memory: int


@functools.partial(jax.jit, static_argnames=('program', 'num_steps'))
def _init_and_run(program: _Program, num_steps: int, params, content_t, style_t, style_weights,
                  masks, coefficients, x, opt_state):
  """num_steps optimiser steps from (x, opt_state); opt_state None = fresh. Returns
  (x, opt_state, total loss before each step [num_steps], (total, parts) at the new x)."""
  loss_fn = make_loss_fn(program.features_fn, params, content_t, style_t, style_weights, masks,
                         coefficients, program.content_layers, program.style_layers)
  total_fn = lambda z: loss_fn(z)[0]
  tx = _make_optimizer(program.optimizer, program.learning_rate, program.lbfgs_memory)
  value_and_grad = optax.value_and_grad_from_state(total_fn)
  if opt_state is None:
    opt_state = tx.init(x)

  def one_step(carry, _):
    x, opt_state = carry
    if program.optimizer == 'lbfgs':
      value, grad = value_and_grad(x, state=opt_state)
      updates, opt_state = tx.update(grad, opt_state, x, value=value, grad=grad,
                                     value_fn=total_fn)
    else:
      value, grad = jax.value_and_grad(total_fn)(x)
      updates, opt_state = tx.update(grad, opt_state, x)
    return (optax.apply_updates(x, updates), opt_state), value

  (x, opt_state), values = jax.lax.scan(one_step, (x, opt_state), None, length=num_steps)
  return x, opt_state, values, loss_fn(x)


def optimize(program: _Program, args: tuple, x0: jax.Array, steps: int, chunk: int,
             progress: Callable[[int, dict], None] | None = None
             ) -> tuple[jax.Array, list[float], dict[str, float]]:
  """Minimises the loss from x0 for `steps` steps in compiled chunks of `chunk` steps.

  args = (params, content targets, style targets, style weights, masks, coefficients). Returns
  (x, total loss before each step, final {'total', 'content', 'style', 'tv'}).
  `progress(steps_done, losses)` runs on the host after each chunk."""
  x, opt_state, history, done = x0, None, [], 0
  final = None
  while done < steps:
    n = min(chunk, steps - done)
    x, opt_state, values, (total, parts) = _init_and_run(program, n, *args, x, opt_state)
    history.extend(float(v) for v in np.asarray(values))
    done += n
    final = {'total': float(total), **{k: float(v) for k, v in parts.items()}}
    if progress is not None:
      progress(done, final)
  if final is None:
    _, _, _, (total, parts) = _init_and_run(program, 0, *args, x, None)
    final = {'total': float(total), **{k: float(v) for k, v in parts.items()}}
  return x, history, final


def stylize(net, content: np.ndarray, styles: Sequence[np.ndarray],
            settings: GatysSettings, style_weights: Sequence[float] | None = None,
            region_masks: np.ndarray | None = None,
            progress: Callable[[int, int, int, dict], None] | None = None) -> StylizeResult:
  """Stylises `content` with the blended `styles`.

  net: a gan_jax.style.feature_net.FeatureNet. content [H, W, 3] and styles [h_i, w_i, 3] in
  [-1, 1]; the output has the content's size. region_masks: optional [R, H, W] in [0, 1], one per
  style (R = number of styles): style r acts where its mask is (the blend weights then scale each
  region's style term). progress(scale_index, steps_done, steps_of_scale, losses) after each chunk.
  """
  settings.check()
  if not styles:
    raise errors.ConfigError('no style image given')
  weights = jnp.asarray(normalize_weights(style_weights, len(styles)))
  if region_masks is not None:
    region_masks = np.asarray(region_masks, np.float32)
    if region_masks.shape != (len(styles), *content.shape[:2]):
      raise errors.ConfigError(f'region masks of shape {region_masks.shape}: need one mask of the '
                               f'content size per style, [{len(styles)}, {content.shape[0]}, '
                               f'{content.shape[1]}]')
  start = time.perf_counter()
  content_in, styles_in = prepare_colors(content, styles, settings.color)
  sizes = scale_sizes(content.shape[0], content.shape[1], settings.num_scales)
  rng = np.random.default_rng(settings.seed)
  program = _Program(net.features, settings.content_layers, settings.style_layers,
                     settings.optimizer, settings.learning_rate, settings.lbfgs_memory)
  x, history, final = None, [], {}
  for index, size in enumerate(sizes):
    content_s = resize(content_in, size)
    styles_s = [resize(s, style_size(s.shape, size, settings.style_scale)) for s in styles_in]
    masks_s = None if region_masks is None else jax.image.resize(
        jnp.asarray(region_masks), (len(styles), *size), 'linear', antialias=True)
    content_t, style_t = compute_targets(net.features, net.params, content_s, styles_s, settings)
    args = (net.params, content_t, style_t, weights, masks_s, loss_coefficients(settings))
    if x is None:
      x = content_s if settings.init == 'content' else jnp.asarray(
          rng.uniform(-0.5, 0.5, (*size, 3)).astype(np.float32))
    else:
      x = resize(x, size)
    steps = settings.steps if index == len(sizes) - 1 else settings.coarse_steps
    callback = None if progress is None else (
        lambda done, parts, i=index, n=steps: progress(i, done, n, parts))
    x, history, final = optimize(program, args, x, steps, settings.chunk, callback)
  image = np.clip(np.asarray(x), -1.0, 1.0)
  if settings.color == 'luminance':
    image = color.combine_luminance(image, content)
  return StylizeResult(image=image.astype(np.float32), losses=final, history=history,
                       seconds=time.perf_counter() - start, sizes=sizes)


def prepare_colors(content: np.ndarray, styles: Sequence[np.ndarray],
                   mode: str) -> tuple[np.ndarray, list[np.ndarray]]:
  """The content and style images the optimisation sees under a colour-preservation mode."""
  if mode == 'luminance':
    return color.luminance_image(content), [color.match_luminance(s, content) for s in styles]
  if mode == 'histogram':
    return content, [color.match_color_histogram(s, content) for s in styles]
  return content, list(styles)
