"""Tiled inference (gan_jax.tiling): grids and blending weights, the recording/given-statistics
instance norm, tiled == untiled for per-pixel functions and for a StarGAN G, and the translate CLI.

Measured on the tests' tiny StarGAN G (conv_dim 8, repeat 1, random init, receptive-field radius
22 px) on a 96x128 photo, errors in [-1, 1] units: with exact statistics and margin 24, tiles of 32
px (overlap 8) give max |tiled - untiled| 2.3e-6 (asserted < 1e-4); with margin 8 (tiles of 56,
overlap 16) the error is 0.002 more than 14 px from any overlap and 0.22 near them; statistics
from a 72x96 copy ('downscaled') give mean 0.054 / max 0.42, per-tile ones ('none') 0.095 / 0.75."""

import fractions
import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest
from scipy import ndimage
from skimage import data as skimage_data

from configs import stargan as stargan_config
from gan_jax import checkpoint
from gan_jax import errors
from gan_jax import image_io
from gan_jax import tiling
from gan_jax.models import layers
from gan_jax.models import stargan as stargan_models
from gan_jax.trainers import loop
from gan_jax.trainers import stargan
from tests.main_runner import run_main

LABELS = jnp.asarray([[1.0, 0.0, 1.0]])
TILE, OVERLAP = 32, 8


def photo(height: int, width: int) -> np.ndarray:
  """scikit-image's astronaut resized to [1, height, width, 3] float32 in [-1, 1]."""
  image = Image.fromarray(skimage_data.astronaut()).resize((width, height), Image.BICUBIC)
  return (np.asarray(image, np.float32) / 127.5 - 1.0)[None]


@pytest.mark.parametrize('length,tile,overlap,multiple', [
    (96, 32, 8, 4), (100, 32, 8, 1), (33, 32, 0, 1), (32, 32, 8, 4), (20, 32, 8, 4),
    (1000, 128, 32, 4), (517, 64, 16, 1)])
@pytest.mark.parametrize('scale', [1, 2])
def test_spans_cover_the_axis_and_their_weights_sum_to_one(length, tile, overlap, multiple, scale):
  spans = tiling.axis_spans(length, tile, overlap, margin=8, multiple=multiple)
  covered = np.zeros(length, int)
  in_core = np.zeros(length, int)
  total = np.zeros(length * scale)
  for span in spans:
    covered[span.start:span.stop] += 1
    in_core[span.core_start:span.core_stop] += 1
    total[span.start * scale:span.stop * scale] += tiling.span_weights(span, scale)
    assert span.window_start <= span.start and span.stop <= span.window_stop <= length
    assert span.window_stop - span.window_start == min(min(tile, length) + 16, length)
    assert span.start % multiple == 0 and span.core_start % multiple == 0
    if span.ramp_in:
      assert span.ramp_in[1] - span.ramp_in[0] == overlap
  assert covered.min() >= 1 and np.all(in_core == 1)
  np.testing.assert_allclose(total, 1.0, atol=1e-12)
  single = np.repeat(covered == 1, scale)   # covered by one tile: its weight is 1
  np.testing.assert_array_equal(total[single], 1.0)


def test_weights_at_a_lower_output_resolution_sum_to_one():
  spans = tiling.axis_spans(1000, 128, 32, multiple=8)
  total = np.zeros(1000 // 8)
  for span in spans:
    total[span.start // 8:span.stop // 8] += tiling.span_weights(span, fractions.Fraction(1, 8))
  np.testing.assert_allclose(total, 1.0, atol=1e-12)


def test_tile_weights_sum_to_one_over_the_grid():
  grid = tiling.tile_grid(72, 100, 32, 8, margin=4)
  total = np.zeros((72, 100))
  for tile in grid:
    top, left, bottom, right = tile.box
    total[top:bottom, left:right] += tiling.tile_weights(tile)
  np.testing.assert_allclose(total, 1.0, atol=1e-6)


@pytest.mark.parametrize('kwargs,message', [
    (dict(length=96, tile=32, overlap=32), 'smaller than tile'),
    (dict(length=96, tile=30, overlap=8, multiple=4), 'multiple of 4'),
    (dict(length=98, tile=32, overlap=8, multiple=4), 'pad it'),
    (dict(length=200, tile=32, overlap=16), 'too large'),
])
def test_bad_tile_settings_are_clear_errors(kwargs, message):
  with pytest.raises(errors.ConfigError, match=message):
    tiling.axis_spans(**kwargs)


def test_instance_norm_equals_flax_instance_norm():
  x = jax.random.normal(jax.random.key(0), (2, 9, 7, 5)) * 3.0 + 2.0
  ours, flax_norm = layers.instance_norm(), nn.InstanceNorm(epsilon=1e-5)
  params = ours.init(jax.random.key(1), x)
  assert (jax.tree.map(jnp.shape, params) ==
          jax.tree.map(jnp.shape, flax_norm.init(jax.random.key(1), x)))
  params = jax.tree.map(lambda p: p + jax.random.normal(jax.random.key(2), p.shape), params)
  np.testing.assert_array_equal(ours.apply(params, x), flax_norm.apply(params, x))
  # Recording: the sums over the whole map give its moments; given moments reproduce the output.
  y, updated = ours.apply(params, x, mutable=[layers.NORM_STATS])
  moments = tiling.moments_from_sums(jax.device_get(updated[layers.NORM_STATS]))
  mean, var = layers.instance_moments(x)
  np.testing.assert_allclose(moments['mean'], mean, atol=1e-6)
  np.testing.assert_allclose(moments['var'], var, rtol=1e-5)
  given = ours.apply({**params, layers.NORM_STATS: {'mean': mean, 'var': var}}, x)
  np.testing.assert_allclose(given, y, atol=1e-6)


def test_instance_norm_records_only_inside_its_region():
  x = jax.random.normal(jax.random.key(0), (1, 8, 12, 2))
  norm = layers.instance_norm()
  params = norm.init(jax.random.key(1), x)
  region = jnp.asarray([0.25, 0.5, 1.0, 0.75])   # rows 2..7, columns 6..8
  _, updated = norm.apply({**params, layers.NORM_STATS: {'region': region}}, x,
                          mutable=[layers.NORM_STATS])
  sums = updated[layers.NORM_STATS]
  np.testing.assert_allclose(sums['sum'], x[:, 2:, 6:9].sum((1, 2)), rtol=1e-5)
  np.testing.assert_array_equal(sums['count'], [18.0])


@pytest.mark.parametrize('scale', [1, 2, fractions.Fraction(1, 2)])
def test_per_pixel_function_tiled_equals_untiled_everywhere(scale):
  x = np.random.default_rng(0).uniform(-1, 1, (1, 72, 100, 3)).astype(np.float32)
  weights = jnp.asarray(np.random.default_rng(1).normal(size=(3, 4)), jnp.float32)

  @jax.jit
  def per_pixel(v):   # a 1x1 conv of x and x**2, nearest up-sampled or 2x2 average-pooled
    y = jnp.einsum('bhwc,cd->bhwd', v, weights) + v[..., :1] ** 2
    if scale < 1:
      b, h, w, c = y.shape
      return y.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))
    return jnp.repeat(jnp.repeat(y, scale, axis=1), scale, axis=2)

  tiled = tiling.apply_tiled(per_pixel, x[0], tile=TILE, overlap=OVERLAP, scale=scale, multiple=2)
  np.testing.assert_allclose(tiled, np.asarray(per_pixel(x))[0], atol=1e-6)


@pytest.fixture(scope='module')
def tiny_generator():
  """(generator.apply, variables) of a random StarGAN G (conv_dim 8, repeat 1), a 96x128 photo
  and G's untiled output; the photo's sides are not multiples of the tiles' spacing."""
  generator = stargan_models.Generator(conv_dim=8, repeat_num=1)
  image = photo(96, 128)
  variables = generator.init(jax.random.key(1), jnp.asarray(image[:, :16, :16]), LABELS)
  untiled = np.asarray(jax.jit(generator.apply)(variables, jnp.asarray(image), LABELS))
  return generator.apply, variables, image, untiled


def near_seams(grid, height, width, distance):
  """Pixels within `distance` px of where two tiles overlap."""
  mask = np.zeros((height, width), bool)
  for i, tile in enumerate(grid):
    for other in grid[i + 1:]:
      top, left = max(tile.box[0], other.box[0]), max(tile.box[1], other.box[1])
      bottom, right = min(tile.box[2], other.box[2]), min(tile.box[3], other.box[3])
      mask[top:max(top, bottom), left:max(left, right)] = True
  return ndimage.binary_dilation(mask, iterations=distance) if distance > 0 else mask


def test_stargan_generator_is_unchanged_by_the_new_norm(tiny_generator, monkeypatch):
  apply_fn, variables, image, untiled = tiny_generator
  generator = apply_fn.__self__
  shapes = lambda: jax.eval_shape(generator.init, jax.random.key(0), image[:, :16, :16], LABELS)
  ours = shapes()
  monkeypatch.setattr(layers, 'instance_norm', lambda name=None: nn.InstanceNorm(
      epsilon=1e-5, use_bias=True, use_scale=True, name=name))   # what it returned before
  assert shapes() == ours
  # A new function, so that nothing traced with the new norm is reused.
  before = jax.jit(lambda v, x, c: generator.apply(v, x, c))(variables, jnp.asarray(image), LABELS)
  np.testing.assert_allclose(before, untiled, atol=1e-6)


def test_receptive_field_radius_of_the_tiny_generator(tiny_generator):
  apply_fn, variables, _, _ = tiny_generator
  assert tiling.receptive_field_radius(apply_fn, variables, 96, LABELS) == 22


def test_stargan_tiled_with_exact_statistics_equals_untiled(tiny_generator):
  apply_fn, variables, image, untiled = tiny_generator
  tiled = tiling.tiled_generator(apply_fn, variables, image, LABELS, tile=TILE, overlap=OVERLAP,
                                 margin=24, norm_stats='exact')
  assert tiled.shape == untiled.shape
  assert np.abs(tiled - untiled).max() < 1e-4


def test_exact_statistics_equal_the_untiled_ones_for_every_layer(tiny_generator):
  apply_fn, variables, image, _ = tiny_generator
  grid = tiling.tile_grid(96, 128, TILE, OVERLAP, margin=24, multiple=4)
  tiled = tiling.exact_norm_stats(apply_fn, variables, image, grid, (LABELS,))
  untiled = tiling.image_norm_stats(apply_fn, variables, image, (LABELS,))
  assert tiling.count_layers(untiled) == 7
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5),
               tiled, untiled)


def test_small_margin_errs_near_seams_only(tiny_generator):
  apply_fn, variables, image, untiled = tiny_generator
  tile, overlap, margin, radius = 56, 16, 8, 22   # 96 = 2 * (56 - 16) + 16: overlaps of 16-20 px
  tiled = tiling.tiled_generator(apply_fn, variables, image, LABELS, tile=tile, overlap=overlap,
                                 margin=margin, norm_stats='exact')
  error = np.abs(tiled - untiled)[0].max(-1)
  grid = tiling.tile_grid(96, 128, tile, overlap, margin, multiple=4)
  near = near_seams(grid, 96, 128, radius - margin)
  assert (~near).mean() > 0.15
  # Measured: ~0.002 away from seams (only the statistics are slightly off there: their sums saw
  # wrong activations near the cores' borders) and ~0.2 next to them.
  assert error[~near].max() < 0.01
  assert error[near].max() > 0.05


def test_downscaled_and_per_tile_statistics_are_approximate(tiny_generator):
  apply_fn, variables, image, untiled = tiny_generator
  run = lambda mode, size=512: tiling.tiled_generator(
      apply_fn, variables, image, LABELS, tile=TILE, overlap=OVERLAP, margin=24, norm_stats=mode,
      stats_size=size)
  # From the image itself 'downscaled' is exact; from a 0.75x copy it is an approximation.
  assert np.abs(run('downscaled', 128) - untiled).max() < 1e-4
  downscaled = np.abs(run('downscaled', 96) - untiled)
  assert downscaled.mean() < 0.15 and downscaled.max() < 0.6
  assert np.abs(run('none') - untiled).mean() > downscaled.mean()


@pytest.fixture(scope='module')
def smoke_workdir(tmp_path_factory):
  """A configs/stargan.py:smoke workdir holding freshly initialised networks as step 2 (no
  training: translate only needs a checkpoint)."""
  config = stargan_config.get_config('smoke')
  workdir = str(tmp_path_factory.mktemp('stargan_tiling'))
  generator, discriminator = stargan.build_models(config)
  g_tx, d_tx = stargan.make_optimizers(config)
  init = stargan.make_init_state(generator, discriminator, g_tx, d_tx, config.data.image_size,
                                 len(config.data.attrs))
  state = jax.jit(init, compiler_options=loop.FAST_COMPILE)(jax.random.key(0))
  manager = checkpoint.make_manager(workdir)
  checkpoint.save(manager, 2, state)
  manager.wait_until_finished()
  manager.close()
  with open(os.path.join(workdir, 'config.json'), 'w', encoding='utf-8') as f:
    f.write(config.to_json_best_effort())
  return config, workdir


def test_translate_cli_tiles_at_the_inputs_own_size(smoke_workdir, tmp_path):
  config, workdir = smoke_workdir
  inputs, output = tmp_path / 'in', tmp_path / 'out'
  inputs.mkdir()
  rng = np.random.default_rng(0)
  Image.fromarray(rng.integers(0, 255, (50, 40, 4), np.uint8), 'RGBA').save(inputs / 'a.png')
  Image.fromarray(np.asarray(Image.fromarray(skimage_data.astronaut()).resize((90, 70)))).save(
      inputs / 'b.png')
  result = run_main('--config=configs/stargan.py:smoke', f'--workdir={workdir}',
                    '--mode=translate', f'--input={inputs}', f'--output={output}',
                    '--target=Blond_Hair=1', '--config.translate.full_resolution=True',
                    '--config.translate.tile=16', '--config.translate.tile_overlap=4',
                    '--config.translate.tile_margin=24')
  assert result.returncode == 0, result.stderr[-3000:]
  with open(output / 'translations.json', encoding='utf-8') as f:
    records = {os.path.basename(r['input']): r for r in json.load(f)['images']}
  for name, size in (('a.png', (50, 40)), ('b.png', (70, 90))):
    assert np.asarray(Image.open(records[name]['translated'])).shape == size + (3,)
    assert np.asarray(Image.open(records[name]['grid'])).shape == (2 + 18, 2 + 18 * 6, 3)
  # b (padded to 72x92) has windows of 64 px that move inside it: tiled equals untiled.
  generator, _, state, _ = stargan.restore_networks(config, workdir)
  label = np.asarray(list(records['b.png']['target'].values()), np.float32)
  untiled = stargan.translate_one(generator, state.g_ema,
                                  image_io.load_full_resolution(str(inputs / 'b.png')), label,
                                  tiling.TranslateOptions(full_resolution=True))
  translated = np.asarray(Image.open(records['b.png']['translated'])).astype(float)
  assert np.abs(translated - np.round(np.clip((untiled + 1) * 127.5, 0, 255))).max() <= 1


def test_translate_options_are_checked():
  config = stargan_config.get_config('smoke')
  assert stargan.translate_options(config).whole_image
  config.translate.tile = 30
  with pytest.raises(errors.ConfigError, match='config.translate.tile=30'):
    stargan.translate_options(config)
  config.translate.tile, config.translate.norm_stats = 64, 'global'
  with pytest.raises(errors.ConfigError, match='norm_stats'):
    stargan.translate_options(config)
