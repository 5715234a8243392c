"""Translation speed and peak memory, untiled and tiled (gan_jax.tiling), of a feed-forward G.

  python benchmarks/tiled_translation.py                        # StarGAN G (conv_dim 64, repeat 6)
  python benchmarks/tiled_translation.py --generator=cyclegan   # CycleGAN resnet_9blocks
  python benchmarks/tiled_translation.py --sizes=256,512 --tiled=3840x2160 --norm_stats=exact

Random-init networks at the paper's sizes (speed does not depend on the weights). Each case runs
in a fresh subprocess so that its peak memory (process max RSS, resource.getrusage; on GPU also
the device's peak bytes in use) is its own: 'baseline' (JAX and G initialised, nothing run),
'untiled:S' (ms per S x S image: median of --repeats after one compile-and-warm-up call) and
'tiled:WxH' (one tiled translation of a W x H photo with --tile/--overlap/--margin/--norm_stats,
seconds including compilation and the statistics passes) and, with --accuracy_size=S,
'accuracy:S' (max and mean |tiled - untiled| on an S x S photo for every norm_stats mode).

Generators are named in GENERATORS: add one there (a function returning apply_fn, variables,
extra args, total down-sampling and receptive-field radius) to time it the same way.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import time

from absl import app
from absl import flags
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_GENERATOR = flags.DEFINE_string('generator', 'stargan', 'Which G: a key of GENERATORS.')
_SIZES = flags.DEFINE_string('sizes', '256,512,1024', 'Untiled square sizes (px), comma-separated.')
_TILED = flags.DEFINE_string('tiled', '3840x2160', 'WxH of the tiled case ("" = none).')
_TILE = flags.DEFINE_integer('tile', 512, 'Tile side (px).')
_OVERLAP = flags.DEFINE_integer('overlap', 32, 'Blended overlap of neighbouring tiles (px).')
_MARGIN = flags.DEFINE_integer('margin', 0, 'Context around each tile (px); 0 = the receptive-'
                               'field radius of the generator rounded up to its down-sampling.')
_NORM_STATS = flags.DEFINE_string('norm_stats', 'downscaled', 'exact | downscaled | none.')
_ACCURACY = flags.DEFINE_integer('accuracy_size', 0, 'Also compare tiled (each norm_stats mode) '
                                 'with untiled on an S x S photo (0 = skip).')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timed untiled calls (median reported).')
_CASE = flags.DEFINE_string('case', '', 'Internal: run one case in this process, print JSON.')


def stargan_generator():
  """StarGAN's paper G (Choi et al. 2018): conv_dim 64, 6 residual blocks; radius 62 px."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from gan_jax.models import stargan  # pylint: disable=g-import-not-at-top
  generator = stargan.Generator(conv_dim=64, repeat_num=6)
  labels = jnp.asarray([[0.0, 1.0, 0.0, 0.0, 1.0]])
  variables = jax.jit(generator.init)(jax.random.key(0), jnp.zeros((1, 16, 16, 3)), labels)
  return generator.apply, variables, (labels,), 4, 62


def cyclegan_generator():
  """CycleGAN's resnet_9blocks G (ngf 64); radius 82 px."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from gan_jax.models import cyclegan  # pylint: disable=g-import-not-at-top
  generator = cyclegan.ResnetGenerator(ngf=64, n_blocks=9)
  variables = jax.jit(generator.init)(jax.random.key(0), jnp.zeros((1, 16, 16, 3)))
  return generator.apply, variables, (), 4, 82


GENERATORS = {'stargan': stargan_generator, 'cyclegan': cyclegan_generator}


def photo(width: int, height: int) -> np.ndarray:
  """scikit-image's astronaut resized to [1, height, width, 3] float32 in [-1, 1]."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from skimage import data  # pylint: disable=g-import-not-at-top
  image = Image.fromarray(data.astronaut()).resize((width, height), Image.BICUBIC)
  return (np.asarray(image, np.float32) / 127.5 - 1.0)[None]


def peak_memory() -> dict:
  """Process max RSS (MiB) and, where the device reports it, its peak bytes in use (MiB)."""
  import jax  # pylint: disable=g-import-not-at-top
  peak = {'max_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
  stats = jax.devices()[0].memory_stats() or {}
  if 'peak_bytes_in_use' in stats:
    peak['device_peak_mib'] = stats['peak_bytes_in_use'] / 2 ** 20
  return peak


def run_case(case: str) -> dict:
  """One case in this process: 'baseline', 'untiled:S' or 'tiled:WxH'."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from gan_jax import tiling  # pylint: disable=g-import-not-at-top
  apply_fn, variables, args, multiple, radius = GENERATORS[_GENERATOR.value]()
  kind, _, size = case.partition(':')
  result = {'case': case, 'generator': _GENERATOR.value, 'device': jax.devices()[0].device_kind}
  if kind == 'untiled':
    side = int(size)
    image = jnp.asarray(photo(side, side))
    translate = jax.jit(apply_fn)
    start = time.perf_counter()
    jax.block_until_ready(translate(variables, image, *args))
    result['first_call_s'] = time.perf_counter() - start
    times = []
    for _ in range(_REPEATS.value):
      start = time.perf_counter()
      jax.block_until_ready(translate(variables, image, *args))
      times.append(time.perf_counter() - start)
    result['ms_per_image'] = 1e3 * statistics.median(times)
  elif kind == 'tiled':
    width, height = (int(v) for v in size.split('x'))
    image = photo(width, height)
    margin = _MARGIN.value or -(-radius // multiple) * multiple
    start = time.perf_counter()
    out = tiling.tiled_generator(apply_fn, variables, image, *args, tile=_TILE.value,
                                 overlap=_OVERLAP.value, margin=margin,
                                 norm_stats=_NORM_STATS.value, multiple=multiple)
    result['seconds'] = time.perf_counter() - start
    grid = tiling.tile_grid(height, width, _TILE.value, _OVERLAP.value, margin, multiple)
    top, left, bottom, right = grid[0].window
    result.update(tiles=len(grid), window=[bottom - top, right - left], margin=margin,
                  norm_stats=_NORM_STATS.value, output_shape=list(out.shape))
  elif kind == 'accuracy':
    image = photo(int(size), int(size))
    untiled = np.asarray(jax.jit(apply_fn)(variables, jnp.asarray(image), *args))
    margin = _MARGIN.value or -(-radius // multiple) * multiple
    for mode in tiling.NORM_STATS_MODES:
      start = time.perf_counter()
      tiled = tiling.tiled_generator(apply_fn, variables, image, *args, tile=_TILE.value,
                                     overlap=_OVERLAP.value, margin=margin, norm_stats=mode,
                                     multiple=multiple)
      error = np.abs(tiled - untiled)
      result[mode] = {'seconds': time.perf_counter() - start, 'max_abs_error': float(error.max()),
                      'mean_abs_error': float(error.mean())}
  elif kind != 'baseline':
    raise ValueError(f'unknown case {case!r}')
  result.update(peak_memory())
  return result


def run_in_subprocess(case: str) -> dict:
  argv = [sys.executable, os.path.abspath(__file__), f'--case={case}',
          f'--generator={_GENERATOR.value}', f'--tile={_TILE.value}',
          f'--overlap={_OVERLAP.value}', f'--margin={_MARGIN.value}',
          f'--norm_stats={_NORM_STATS.value}', f'--repeats={_REPEATS.value}']
  done = subprocess.run(argv, capture_output=True, text=True, check=False)
  lines = [l for l in done.stdout.splitlines() if l.startswith('{')]
  if done.returncode or not lines:
    raise RuntimeError(f'case {case} failed:\n{done.stderr[-3000:]}')
  return json.loads(lines[-1])


def main(argv):
  del argv
  if _GENERATOR.value not in GENERATORS:
    raise app.UsageError(f'--generator={_GENERATOR.value}: choose one of {sorted(GENERATORS)}')
  if _CASE.value:
    print(json.dumps(run_case(_CASE.value)))
    return
  cases = ['baseline'] + [f'untiled:{s}' for s in _SIZES.value.split(',') if s]
  cases += [f'tiled:{_TILED.value}'] if _TILED.value else []
  cases += [f'accuracy:{_ACCURACY.value}'] if _ACCURACY.value else []
  print(f'{_GENERATOR.value} G; tile {_TILE.value}, overlap {_OVERLAP.value}, norm_stats '
        f'{_NORM_STATS.value}; each case in a fresh process', flush=True)
  for case in cases:
    r = run_in_subprocess(case)
    memory = f'peak RSS {r["max_rss_mib"]:7.0f} MiB'
    if 'device_peak_mib' in r:
      memory += f', device peak {r["device_peak_mib"]:7.0f} MiB'
    if case.startswith('untiled'):
      timing = f'{r["ms_per_image"]:9.0f} ms/image (first call {r["first_call_s"]:.1f} s)'
    elif case.startswith('tiled'):
      timing = (f'{r["seconds"]:9.1f} s total: {r["tiles"]} tiles, windows {r["window"]} px, '
                f'margin {r["margin"]}')
    elif case.startswith('accuracy'):
      timing = 'tiled vs untiled, |error| in [-1, 1] units: ' + '; '.join(
          f'{m} max {r[m]["max_abs_error"]:.2g} mean {r[m]["mean_abs_error"]:.2g} '
          f'({r[m]["seconds"]:.0f} s)' for m in ('exact', 'downscaled', 'none'))
    else:
      timing = 'JAX and G initialised, nothing run'
    print(f'  {case:>16}  {timing};  {memory}   [{r["device"]}]', flush=True)


if __name__ == '__main__':
  app.run(main)
