"""Tiled inference for feed-forward image-to-image networks, in memory bounded by the tile size.

An image (host numpy, any size) is cut into overlapping tiles; each tile is run with `margin`
extra pixels of surrounding context (its *window*), the context is cropped away and the tiles are
blended over their overlaps with raised-cosine ramps whose weights sum to 1 everywhere. Only
windows go to the device; the output is assembled on the host. Windows keep one shape (tile +
2 * margin, shifted inwards at the image borders so that the network's own border padding falls
where it falls on the whole image), so the per-tile program compiles once.

A network whose output at a pixel depends only on pixels within its receptive-field radius R gives
the untiled result exactly when margin >= R. Instance normalisation breaks that locality: its
statistics are per image. `tiled_generator` therefore gives every tile the *whole image's*
statistics of every `layers.InstanceNorm`, found in one of three ways (`norm_stats`):

  'exact'      layer by layer: pass k runs all windows with the statistics found so far and sums
               each layer's input over each tile's own non-overlapping core (the cores partition
               the image). After pass k the first k layers have the global statistics, so L
               passes give all L layers theirs, exactly when margin >= R (else up to the missing
               context near the cores' borders). Cost: L + 1 tiled passes.
  'downscaled' statistics of one untiled pass over a copy of the image downscaled to at most
               `stats_size` px: one extra small pass, approximate.
  'none'       each tile normalises with its own statistics (right for networks without
               normalisation layers, e.g. a decoder).

Images are float32 [H, W, C] or [1, H, W, C] (any range; the models use [-1, 1]). A tiled function
may change the resolution by a `scale` (an int, or a fraction such as Fraction(1, 8) for an
encoder: then tiles, margins and the image are multiples of its denominator, `multiple`).
"""

from __future__ import annotations

import dataclasses
import fractions
import functools
import math
from typing import Any, Callable, Sequence

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from gan_jax.errors import ConfigError
from gan_jax.models import layers

NORM_STATS_MODES = ('exact', 'downscaled', 'none')
NORM_STATS = layers.NORM_STATS
_SUM_KEYS = ('sum', 'sum_sq', 'count')


@dataclasses.dataclass(frozen=True)
class Span:
  """One tile along one axis, in input pixels; every interval is [start, stop).

  tile:   [start, stop), where the tile's output is used (with its blending weight).
  core:   [core_start, core_stop); the cores of an axis partition it (statistics are summed here).
  ramp_in / ramp_out: where the weight rises 0 -> 1 from the previous tile / falls 1 -> 0 to the
          next one (None at the image border); the weight is 0 before ramp_in and after ramp_out.
  window: [window_start, window_stop), the tile plus context, the part of the image that is run.
  """
  start: int
  stop: int
  core_start: int
  core_stop: int
  ramp_in: tuple[int, int] | None
  ramp_out: tuple[int, int] | None
  window_start: int
  window_stop: int


@dataclasses.dataclass(frozen=True)
class Tile:
  """A tile of the image: its row and column spans."""
  rows: Span
  cols: Span

  @property
  def box(self) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the tile, in input pixels."""
    return self.rows.start, self.cols.start, self.rows.stop, self.cols.stop

  @property
  def window(self) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the window that is run."""
    r, c = self.rows, self.cols
    return r.window_start, c.window_start, r.window_stop, c.window_stop

  def core_region(self) -> np.ndarray:
    """The core as fractions of the window: float32 [4] (top, left, bottom, right), the
    'region' of `layers.InstanceNorm`."""
    r, c = self.rows, self.cols
    rh, cw = r.window_stop - r.window_start, c.window_stop - c.window_start
    return np.asarray([(r.core_start - r.window_start) / rh, (c.core_start - c.window_start) / cw,
                       (r.core_stop - r.window_start) / rh, (c.core_stop - c.window_start) / cw],
                      np.float32)


def check_tile_settings(tile: int, overlap: int, margin: int, multiple: int = 1,
                        where: str = '') -> None:
  """ConfigError unless tile > overlap >= 0, margin >= 0, all multiples of `multiple`.

  `where` prefixes the names in messages (e.g. 'config.translate.' names tile_overlap)."""
  if multiple < 1:
    raise ConfigError(f'multiple={multiple} must be >= 1')
  names = ('tile', 'tile_overlap', 'tile_margin') if where else ('tile', 'overlap', 'margin')
  for name, value in zip(names, (tile, overlap, margin)):
    if value < 0 or value % multiple:
      raise ConfigError(f'{where}{name}={value} must be a non-negative multiple of {multiple} '
                        f"(the network's total down-sampling), e.g. "
                        f'{max(multiple, value // multiple * multiple)}')
  if tile <= 0:
    raise ConfigError(f'{where}{names[0]}={tile} must be > 0')
  if overlap >= tile:
    raise ConfigError(f'{where}{names[1]}={overlap} must be smaller than {where}{names[0]}={tile} '
                      f'(tile/3 always works)')


def axis_spans(length: int, tile: int, overlap: int, margin: int = 0,
               multiple: int = 1) -> list[Span]:
  """Tiles of one axis of `length` px: as few as overlap `overlap` allows, evenly spaced, the
  first flush with 0 and the last with `length`; starts are multiples of `multiple`.

  The actual overlap of two neighbours is >= `overlap`; each seam ramps over `overlap` px in the
  middle of it. ConfigError when the ramps of one tile would cross (overlap too large for tile).
  """
  check_tile_settings(tile, overlap, margin, multiple)
  if length < 1 or length % multiple:
    raise ConfigError(f'image side {length} must be a positive multiple of {multiple}; pad it')
  size = min(tile, length)
  units, t_units, step_units = length // multiple, size // multiple, (tile - overlap) // multiple
  n = 1 if size == length else 1 + math.ceil((units - t_units) / step_units)
  # Rounded even spacing: neighbouring starts differ by at most ceil(spacing) <= tile - overlap.
  starts = [multiple * ((i * (units - t_units) + (n - 1) // 2) // max(n - 1, 1)) for i in range(n)]
  ramps = []
  for a, b in zip(starts[:-1], starts[1:]):
    ramp_start = b + (a + size - b - overlap) // 2
    ramps.append((ramp_start, ramp_start + overlap))
  for r0, r1 in zip(ramps[:-1], ramps[1:]):
    if r0[1] > r1[0]:
      raise ConfigError(f'tile overlap={overlap} is too large for tile={tile} on a side of '
                        f'{length} px: the seams of one tile cross; overlap <= tile/3 always works')
  cores = [0] + [(r0 + r1) // 2 // multiple * multiple for r0, r1 in ramps] + [length]
  window = min(size + 2 * margin, length)
  spans = []
  for i, start in enumerate(starts):
    window_start = min(max(start - margin, 0), length - window)
    spans.append(Span(start=start, stop=start + size, core_start=cores[i], core_stop=cores[i + 1],
                      ramp_in=ramps[i - 1] if i else None,
                      ramp_out=ramps[i] if i < n - 1 else None,
                      window_start=window_start, window_stop=window_start + window))
  return spans


def tile_grid(height: int, width: int, tile: int, overlap: int, margin: int = 0,
              multiple: int = 1) -> list[Tile]:
  """Tiles (row-major) covering a height x width image: see `axis_spans` for one axis."""
  rows = axis_spans(height, tile, overlap, margin, multiple)
  cols = axis_spans(width, tile, overlap, margin, multiple)
  return [Tile(r, c) for r in rows for c in cols]


def raised_cosine(u: np.ndarray) -> np.ndarray:
  """0 -> 1 over u in [0, 1], with zero slope at both ends; f(u) + f(1 - u) = 1."""
  return 0.5 - 0.5 * np.cos(np.pi * u)


Scale = int | fractions.Fraction


def as_scale(scale: Any) -> fractions.Fraction:
  """An int, Fraction or float (e.g. 0.125) output/input resolution ratio as a positive Fraction."""
  ratio = fractions.Fraction(scale).limit_denominator(1 << 12)
  if ratio <= 0:
    raise ValueError(f'scale must be positive, got {scale}')
  return ratio


def _scaled(length: int, scale: fractions.Fraction) -> int:
  value = length * scale
  if value.denominator != 1:
    raise ConfigError(f'{length} px at scale {scale} is not a whole number of output pixels: make '
                      f'tile, overlap, margin and the image multiples of {scale.denominator}')
  return int(value)


def span_weights(span: Span, scale: Scale = 1) -> np.ndarray:
  """float64 [(stop - start) * scale]: the blending weight of a tile along one axis, at an
  output resolution `scale` times the input's. Over all spans of an axis they sum to 1."""
  scale = as_scale(scale)
  count = _scaled(span.stop - span.start, scale)
  positions = span.start + (np.arange(count) + 0.5) / float(scale)   # input coordinates
  weights = np.ones(count)
  if span.ramp_in is not None:
    weights *= _ramp(positions, span.ramp_in)
  if span.ramp_out is not None:
    weights *= 1.0 - _ramp(positions, span.ramp_out)
  return weights


def _ramp(positions: np.ndarray, ramp: tuple[int, int]) -> np.ndarray:
  start, stop = ramp
  if stop == start:   # overlap 0: a hard seam
    return (positions >= start).astype(np.float64)
  return raised_cosine(np.clip((positions - start) / (stop - start), 0.0, 1.0))


def tile_weights(tile: Tile, scale: Scale = 1) -> np.ndarray:
  """float32 [h * scale, w * scale] blending weights of a tile (the outer product of its axes')."""
  return np.outer(span_weights(tile.rows, scale), span_weights(tile.cols, scale)).astype(np.float32)


def _as_batched(image: np.ndarray) -> np.ndarray:
  image = np.asarray(image)
  if image.ndim == 4 and image.shape[0] == 1:
    return image
  if image.ndim == 3:
    return image[None]
  raise ValueError(f'image must be [H, W, C] or [1, H, W, C], got shape {image.shape}')


def _restore_rank(output: np.ndarray, like: np.ndarray) -> np.ndarray:
  return output if np.ndim(like) == 4 else output[0]


def run_tiles(tile_fn: Callable[[Tile, np.ndarray], Any], image: np.ndarray,
              grid: Sequence[Tile], scale: Scale = 1) -> np.ndarray:
  """Blends tile_fn(tile, window [1, wh, ww, C]) -> [1, wh*scale, ww*scale, C'] over the grid.

  image: [1, H, W, C] host array. Returns float32 [1, H*scale, W*scale, C'] (host).
  """
  scale = as_scale(scale)
  _, height, width, _ = image.shape
  output = None
  for tile in grid:
    top, left, bottom, right = tile.window
    result = np.asarray(tile_fn(tile, image[:, top:bottom, left:right]), np.float32)
    expected = (_scaled(bottom - top, scale), _scaled(right - left, scale))
    if result.ndim != 4 or result.shape[1:3] != expected:
      raise ValueError(f'the tiled function turned a window of {(bottom - top, right - left)} px '
                       f'into {result.shape}; expected [1, {expected[0]}, {expected[1]}, C] '
                       f'(scale {scale})')
    if output is None:
      output = np.zeros((1, _scaled(height, scale), _scaled(width, scale), result.shape[-1]),
                        np.float32)
    y0, x0, y1, x1 = (_scaled(v, scale) for v in tile.box)
    wy, wx = _scaled(top, scale), _scaled(left, scale)
    crop = result[0, y0 - wy:y1 - wy, x0 - wx:x1 - wx]
    output[0, y0:y1, x0:x1] += crop * tile_weights(tile, scale)[..., None]
  return output


def apply_tiled(fn: Callable[[Any], Any], image: np.ndarray, tile: int, overlap: int = 32,
                margin: int = 0, scale: Scale = 1, multiple: int = 1) -> np.ndarray:
  """fn on overlapping tiles of image, blended: equals fn(image) away from seams when fn is local.

  fn: [1, h, w, C] -> [1, h*scale, w*scale, C'] for any window (jit it yourself if it is a JAX
  function; all windows have one shape); scale an int or a Fraction (an encoder: Fraction(1, 8)
  with multiple 8). image: [H, W, C] or [1, H, W, C] host array, H and W multiples of `multiple`.
  Each tile is run with `margin` px of context, cropped away before blending. Returns float32
  numpy of the input's rank, [.., H*scale, W*scale, C'].
  """
  batched = _as_batched(image)
  grid = tile_grid(batched.shape[1], batched.shape[2], tile, overlap, margin, multiple)
  output = run_tiles(lambda _, window: fn(window), batched, grid, scale)
  return _restore_rank(output, image)


# ---------------------------------------------------------------------------------------------
# Instance-norm statistics of the whole image.

def map_layers(fn: Callable[[dict], dict], tree: dict) -> dict:
  """Applies fn to each norm layer's dict of a 'norm_stats' tree (a dict holding 'sum' or
  'mean'), keeping the module nesting."""
  if 'sum' in tree or 'mean' in tree:
    return fn(tree)
  return {name: map_layers(fn, sub) for name, sub in tree.items()}


def count_layers(tree: dict) -> int:
  count = [0]
  def visit(layer):
    count[0] += 1
    return layer
  map_layers(visit, tree)
  return count[0]


def moments_from_sums(sums: dict) -> dict:
  """Per layer {'sum', 'sum_sq' [B, C], 'count' [B]} -> {'mean', 'var' [B, C]} (float32),
  the biased variance clipped at 0 as nn.InstanceNorm's."""
  def moments(layer):
    count = np.asarray(layer['count'], np.float64)[:, None]
    mean = np.asarray(layer['sum'], np.float64) / count
    var = np.maximum(0.0, np.asarray(layer['sum_sq'], np.float64) / count - mean ** 2)
    return {'mean': mean.astype(np.float32), 'var': var.astype(np.float32)}
  return map_layers(moments, sums)


def _with_region(stats: dict, region: np.ndarray) -> dict:
  return map_layers(lambda layer: {**layer, 'region': region}, stats)


def _only_sums(tree: dict) -> dict:
  return map_layers(lambda layer: {k: layer[k] for k in _SUM_KEYS}, tree)


@functools.partial(jax.jit, static_argnums=0)
def _record_window(apply_fn, variables, window, args, stats):
  """The norm layers' sums over their regions (only the sums leave: XLA drops the rest)."""
  _, updated = apply_fn({**variables, NORM_STATS: stats}, window, *args, mutable=[NORM_STATS])
  return _only_sums(updated[NORM_STATS])


@functools.partial(jax.jit, static_argnums=0)
def _apply_window(apply_fn, variables, window, args, stats):
  if stats is not None:
    variables = {**variables, NORM_STATS: stats}
  return apply_fn(variables, window, *args)


def norm_layer_tree(apply_fn, variables, window_shape: Sequence[int], args: tuple = ()) -> dict:
  """The 'norm_stats' tree of the sums the network's norm layers record ({} when it has none),
  as ShapeDtypeStructs; nothing is computed."""
  window = jax.ShapeDtypeStruct(tuple(window_shape), jnp.float32)
  record = lambda v, x, a: apply_fn(v, x, *a, mutable=[NORM_STATS])
  _, updated = jax.eval_shape(record, variables, window, args)
  return dict(updated).get(NORM_STATS, {})


def image_norm_stats(apply_fn, variables, image: np.ndarray, args: tuple = ()) -> dict:
  """Per norm layer {'mean', 'var' [1, C]} of one untiled run on image [1, H, W, C]."""
  tree = norm_layer_tree(apply_fn, variables, image.shape, args)
  regions = map_layers(lambda _: {'region': np.asarray([0, 0, 1, 1], np.float32)}, tree)
  sums = _record_window(apply_fn, variables, jnp.asarray(image), args, regions)
  return moments_from_sums(jax.device_get(sums))


def downscale(image: np.ndarray, max_side: int, multiple: int = 1) -> np.ndarray:
  """[1, H, W, C] -> [1, h, w, C] with max(h, w) <= max_side (about), h and w multiples of
  `multiple`, antialiased bicubic per channel; the image itself when it is small enough."""
  _, height, width, channels = image.shape
  factor = min(1.0, max_side / max(height, width))
  size = [max(multiple, int(round(s * factor / multiple)) * multiple) for s in (height, width)]
  if size == [height, width]:
    return image
  planes = [np.asarray(Image.fromarray(np.ascontiguousarray(image[0, :, :, c], np.float32), 'F')
                       .resize((size[1], size[0]), Image.BICUBIC)) for c in range(channels)]
  return np.stack(planes, axis=-1)[None].astype(np.float32)


def _accumulate(total: dict | None, sums: dict) -> dict:
  sums = jax.tree.map(lambda a: np.asarray(a, np.float64), sums)
  return sums if total is None else jax.tree.map(np.add, total, sums)


def exact_norm_stats(apply_fn, variables, image: np.ndarray, grid: Sequence[Tile],
                     args: tuple = ()) -> dict:
  """Whole-image statistics of every norm layer from tiles, layer by layer (see module doc).

  image [1, H, W, C] (host). Returns per layer {'mean', 'var' [1, C]} float32 numpy. Each pass
  runs every window with the current statistics of all layers and replaces all of them with the
  sums over the tiles' cores; layer k's input depends only on layers < k, so after pass k the
  first k layers are final, and passes stop early once a pass changes nothing.
  """
  top, left, bottom, right = grid[0].window
  tree = norm_layer_tree(apply_fn, variables, (1, bottom - top, right - left, image.shape[-1]),
                         args)
  num_layers = count_layers(tree)
  # Any start works (pass k fixes layer k); mean 0 / var 1 leaves activations unnormalised.
  stats = map_layers(lambda layer: {'mean': np.zeros(layer['sum'].shape, np.float32),
                                    'var': np.ones(layer['sum'].shape, np.float32)}, tree)
  for step in range(num_layers):
    total = None
    for tile in grid:
      t, l, b, r = tile.window
      sums = _record_window(apply_fn, variables, jnp.asarray(image[:, t:b, l:r]), args,
                            _with_region(stats, tile.core_region()))
      total = _accumulate(total, jax.device_get(sums))
    new_stats = moments_from_sums(total)
    unchanged = all(jax.tree.leaves(jax.tree.map(np.array_equal, stats, new_stats)))
    stats = new_stats
    logging.log_every_n_seconds(logging.INFO, 'Exact norm statistics: pass %d of at most %d.',
                                30, step + 1, num_layers)
    if unchanged:
      break
  return stats


def tiled_generator(apply_fn: Callable[..., Any], variables: Any, image: np.ndarray,
                    *args: Any, tile: int = 512, overlap: int = 32, margin: int = 64,
                    norm_stats: str = 'exact', multiple: int = 4,
                    stats_size: int = 512) -> np.ndarray:
  """A Flax generator run on tiles of one image with whole-image instance-norm statistics.

  apply_fn(variables, x [1, h, w, C], *args, mutable=...) -> [1, h*s, w*s, C'] (s an int or a
  Fraction), as `Module.apply`, e.g. `generator.apply` with args=(labels [1, A],) for StarGAN
  (its labels become constant planes, so every tile gets the same ones). Pass the same apply_fn
  object on every call: it keys the compilation cache (a new lambda each time recompiles).
  variables: its variables ({'params': ...}). image: [H, W, C] or [1, H, W, C] host float32,
  H and W multiples of `multiple` (the network's total down-sampling), as tile, overlap and
  margin. margin >= the receptive-field radius (`receptive_field_radius`) makes the result equal
  the untiled one with norm_stats 'exact' (one of NORM_STATS_MODES); stats_size is the longer
  side of the copy that 'downscaled' takes statistics from. Returns float32 numpy of the input's
  rank. Device memory is bounded by the window; the host holds the image and the output.
  """
  if norm_stats not in NORM_STATS_MODES:
    raise ConfigError(f'norm_stats={norm_stats!r}: choose one of {NORM_STATS_MODES}')
  batched = np.asarray(_as_batched(image), np.float32)
  _, height, width, channels = batched.shape
  grid = tile_grid(height, width, tile, overlap, margin, multiple)
  top, left, bottom, right = grid[0].window
  window_shape = (1, bottom - top, right - left, channels)
  scale = _output_scale(apply_fn, variables, window_shape, args)
  # A window as large as the image computes the image's own statistics itself.
  has_norm = window_shape[1:3] != (height, width) and norm_stats != 'none' and bool(
      norm_layer_tree(apply_fn, variables, window_shape, args))
  stats = None
  if has_norm and norm_stats == 'exact':
    stats = exact_norm_stats(apply_fn, variables, batched, grid, args)
  elif has_norm:
    stats = image_norm_stats(apply_fn, variables, downscale(batched, stats_size, multiple), args)
  logging.info('Tiled %dx%d px: %d tile(s), windows of %s px, norm statistics %s.', height, width,
               len(grid), window_shape[1:3], norm_stats if has_norm else 'of each window')
  tile_fn = lambda _, window: _apply_window(apply_fn, variables, jnp.asarray(window), args, stats)
  return _restore_rank(run_tiles(tile_fn, batched, grid, scale), image)


def _output_scale(apply_fn, variables, window_shape, args) -> fractions.Fraction:
  """The factor s of a network mapping [1, h, w, C] to [1, h*s, w*s, C']."""
  window = jax.ShapeDtypeStruct(tuple(window_shape), jnp.float32)
  out = jax.eval_shape(lambda v, x, a: apply_fn(v, x, *a), variables, window, args)
  h, w = window_shape[1:3]
  if len(out.shape) != 4 or fractions.Fraction(out.shape[1], h) != fractions.Fraction(
      out.shape[2], w):
    raise ValueError(f'tiling needs a network that maps [1, h, w, C] to [1, h*s, w*s, C] (one '
                     f's for both sides); it mapped {tuple(window_shape)} to {out.shape}')
  return fractions.Fraction(out.shape[1], h)


def receptive_field_radius(apply_fn, variables, size: int, *args: Any, channels: int = 3) -> int:
  """Largest distance (input px, per axis) from an output pixel's position at which the input
  still changes it: the gradient of the centre output pixel on a random size x size input, with
  instance norms given fixed statistics (so only local dependence counts), i.e. a `margin` for
  exact tiling. `size` must exceed twice the radius and suit the network's down-sampling."""
  shape = (1, size, size, channels)
  tree = norm_layer_tree(apply_fn, variables, shape, args)
  stats = map_layers(lambda layer: {'mean': jnp.zeros(layer['sum'].shape),
                                    'var': jnp.ones(layer['sum'].shape)}, tree) if tree else None
  image = jax.random.uniform(jax.random.key(0), shape, minval=-1.0, maxval=1.0)
  scale = _output_scale(apply_fn, variables, shape, args)
  centre_out = _scaled(size, scale) // 2
  centre = (centre_out + 0.5) / float(scale) - 0.5   # the same point in input pixels

  def centre_output(x):
    return jnp.sum(_apply_window(apply_fn, variables, x, args, stats)[0, centre_out, centre_out])

  grad = np.abs(np.asarray(jax.grad(centre_output)(image)))[0].sum(-1)
  rows, cols = np.nonzero(grad)
  radius = int(np.ceil(max(np.abs(rows - centre).max(), np.abs(cols - centre).max())))
  if radius >= size / 2 - 1:
    raise ValueError(f'receptive field reaches the border of a {size} px probe: use a larger size')
  return radius


# ---------------------------------------------------------------------------------------------
# config.translate of the feed-forward translators (StarGAN, CycleGAN).

@dataclasses.dataclass(frozen=True)
class TranslateOptions:
  """config.translate: resolution and tiling of --mode=translate (see configs/stargan.py)."""
  full_resolution: bool = False
  tile: int = 0
  tile_overlap: int = 32
  tile_margin: int = 64
  norm_stats: str = 'exact'

  @property
  def whole_image(self) -> bool:
    """True: the path of old, batches at the trained size through one compiled G."""
    return not self.full_resolution and not self.tile


def translate_options(config: Any, multiple: int) -> TranslateOptions:
  """The validated config.translate (defaults where the config has no such block); tile sizes
  must be multiples of `multiple`, the generator's total down-sampling."""
  fields = dict(config.get('translate', None) or {})
  unknown = set(fields) - {f.name for f in dataclasses.fields(TranslateOptions)}
  if unknown:
    raise ConfigError(f'config.translate has unknown field(s) {sorted(unknown)}')
  options = TranslateOptions(**fields)
  if options.tile:
    check_tile_settings(options.tile, options.tile_overlap, options.tile_margin, multiple,
                        where='config.translate.')
  if options.norm_stats not in NORM_STATS_MODES:
    raise ConfigError(f'config.translate.norm_stats={options.norm_stats!r}: choose one of '
                      f'{NORM_STATS_MODES}')
  return options


def pad_to_multiple(image: np.ndarray, multiple: int) -> np.ndarray:
  """[H, W, C] -> [H', W', C], H' and W' the next multiples; reflected rows/columns after."""
  h, w = image.shape[:2]
  pad = ((0, -h % multiple), (0, -w % multiple), (0, 0))
  return np.pad(image, pad, mode='reflect') if any(after for _, after in pad) else image


def translate_image(apply_fn: Callable[..., Any], variables: Any, image: np.ndarray, *args: Any,
                    options: TranslateOptions, multiple: int,
                    untiled: Callable[[np.ndarray], Any]) -> np.ndarray:
  """A generator on one image [H, W, 3] of any size -> float32 [H, W, 3]: padded to a multiple
  of `multiple` and cropped back; tiled (tiled_generator with the options) when options.tile,
  else untiled(image [1, H', W', 3]) -> [1, H', W', 3]."""
  h, w = image.shape[:2]
  padded = pad_to_multiple(np.asarray(image, np.float32), multiple)
  if options.tile:
    out = tiled_generator(apply_fn, variables, padded, *args, tile=options.tile,
                          overlap=options.tile_overlap, margin=options.tile_margin,
                          norm_stats=options.norm_stats, multiple=multiple)
  else:
    out = np.asarray(untiled(padded[None]))[0]
  return out[:h, :w]
