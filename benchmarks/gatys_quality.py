"""Gatys style transfer: a content x style grid at 512 px and the time to reach a fixed loss.

  python benchmarks/gatys_quality.py grid --out=benchmarks/results/gatys [--size=512]
  python benchmarks/gatys_quality.py speed --out=benchmarks/results/gatys

`grid` stylises 3 content photos x 3 styles from ../shared/data/style with configs/gatys.py's
defaults and writes grid.png (row 0: the styles; column 0: the contents) and grid.json (losses,
seconds per image, the feature network used). `speed` times, at 256 and 512 px, single-scale
L-BFGS for 100 steps (the PyTorch reference's protocol) and the seconds each setting needs to
reach the loss that 100 single-scale steps reach.
"""

from __future__ import annotations

import json
import os
import sys
import time

from absl import app
from absl import flags
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from configs import gatys as gatys_config  # pylint: disable=wrong-import-position
from gan_jax.data import base  # pylint: disable=wrong-import-position
from gan_jax.style import feature_net  # pylint: disable=wrong-import-position
from gan_jax.style import gatys  # pylint: disable=wrong-import-position
from gan_jax.trainers import gatys as cli  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string('out', 'benchmarks/results/gatys', 'Output folder.')
flags.DEFINE_string('data', '../shared/data/style', 'Folder with content/ and styles/.')
flags.DEFINE_integer('size', 512, 'grid: longer side of the outputs.')
flags.DEFINE_list('contents', ['tubingen.jpg', 'golden_gate.jpg', 'stata.jpg'], 'grid contents.')
flags.DEFINE_list('styles', ['starry_night.jpg', 'the_scream.jpg', 'wave.jpg'], 'grid styles.')
flags.DEFINE_list('sizes', ['256', '512'], 'speed: sizes.')


def settings_for(net, **overrides) -> gatys.GatysSettings:
  config = gatys_config.get_config()
  for key, value in overrides.items():
    config[key] = value
  return cli.settings_from_config(config, net)


def thumbnail(image: np.ndarray, height: int) -> np.ndarray:
  pil = Image.fromarray(base.float_to_uint8(image))
  width = round(pil.width * height / pil.height)
  return np.asarray(pil.resize((width, height), Image.BICUBIC))


def run_grid(net) -> None:
  contents = [cli.load_image(os.path.join(FLAGS.data, 'content', c), FLAGS.size)
              for c in FLAGS.contents]
  styles = [cli.load_image(os.path.join(FLAGS.data, 'styles', s), FLAGS.size)
            for s in FLAGS.styles]
  settings = settings_for(net)
  cell = 256
  rows = [[np.full((cell, cell, 3), 255, np.uint8)] + [thumbnail(s, cell) for s in styles]]
  records = []
  for c_name, content in zip(FLAGS.contents, contents):
    row = [thumbnail(content, cell)]
    for s_name, style in zip(FLAGS.styles, styles):
      result = gatys.stylize(net, content, [style], settings)
      records.append({'content': c_name, 'style': s_name, 'losses': result.losses,
                      'seconds': result.seconds, 'sizes': result.sizes})
      print(json.dumps(records[-1]), flush=True)
      name = f'{os.path.splitext(c_name)[0]}__{os.path.splitext(s_name)[0]}.jpg'
      Image.fromarray(base.float_to_uint8(result.image)).save(os.path.join(FLAGS.out, name),
                                                              quality=92)
      row.append(thumbnail(result.image, cell))
    rows.append(row)
  pad = 4
  widths = [max(r[i].shape[1] for r in rows) for i in range(len(rows[0]))]
  grid = np.full((len(rows) * (cell + pad) + pad, sum(widths) + pad * (len(widths) + 1), 3), 255,
                 np.uint8)
  for r, row in enumerate(rows):
    left = pad
    for i, tile in enumerate(row):
      grid[pad + r * (cell + pad):pad + r * (cell + pad) + cell, left:left + tile.shape[1]] = tile
      left += widths[i] + pad
  Image.fromarray(grid).save(os.path.join(FLAGS.out, 'grid.jpg'), quality=90)
  with open(os.path.join(FLAGS.out, 'grid.json'), 'w', encoding='utf-8') as f:
    json.dump({'feature_network': net.description, 'settings': settings.__dict__,
               'results': records}, f, indent=2, default=str)


def time_to_loss(net, content, style, settings, target: float | None, max_steps: int):
  """(seconds excluding compilation, steps, final loss) for `settings` to reach `target`."""
  warm = gatys.stylize(net, content, [style], settings.__class__(
      **{**settings.__dict__, 'steps': settings.chunk, 'coarse_steps': settings.chunk}))
  del warm   # compiles every program this setting uses
  start, reached = time.perf_counter(), {}

  def progress(scale, done, steps, parts):
    if scale == settings.num_scales - 1 and target is not None and 'seconds' not in reached \
        and parts['total'] <= target:
      reached.update(seconds=time.perf_counter() - start, steps=done)

  result = gatys.stylize(net, content, [style], settings.__class__(
      **{**settings.__dict__, 'steps': max_steps}), progress=progress)
  total = time.perf_counter() - start
  return reached.get('seconds', total if target is None else None), reached.get('steps'), \
      result.losses['total'], total


def run_speed(net) -> None:
  content_path = os.path.join(FLAGS.data, 'content', FLAGS.contents[0])
  style_path = os.path.join(FLAGS.data, 'styles', FLAGS.styles[0])
  records = []
  for size in map(int, FLAGS.sizes):
    content = cli.load_image(content_path, size)
    style = cli.load_image(style_path, size)
    single = settings_for(net, num_scales=1)
    _, _, reference_loss, seconds_100 = time_to_loss(net, content, style, single, None, 100)
    record = {'size': size, 'lbfgs_100_steps_seconds': seconds_100,
              'loss_after_100_single_scale_steps': reference_loss}
    multi = settings_for(net, num_scales=2, coarse_steps=60)
    seconds, steps, final, _ = time_to_loss(net, content, style, multi, reference_loss, 100)
    record.update(two_scale_seconds_to_that_loss=seconds, two_scale_fine_steps=steps,
                  two_scale_loss_after_100=final)
    records.append(record)
    print(json.dumps(record), flush=True)
  with open(os.path.join(FLAGS.out, 'speed.json'), 'w', encoding='utf-8') as f:
    json.dump({'feature_network': net.description, 'content': content_path,
               'style': style_path, 'results': records}, f, indent=2)


def main(argv):
  if len(argv) != 2 or argv[1] not in ('grid', 'speed'):
    raise app.UsageError('usage: gatys_quality.py grid|speed [--flags]')
  os.makedirs(FLAGS.out, exist_ok=True)
  net = feature_net.load_feature_net('auto')
  print('features:', net.description, flush=True)
  (run_grid if argv[1] == 'grid' else run_speed)(net)


if __name__ == '__main__':
  app.run(main)
