"""Edits of real (held-out) images: invert once, apply each attribute's direction, judge, grid.

  python benchmarks/edit_real_faces.py --config=configs/stylegan.py:synthetic64 \
      --workdir=runs/sg64_synth --config.edit.judge=runs/cls_synth4k \
      --num_images=8 --strength=3 --output=benchmarks/results/edit_real/report.json

Inverts the first --num_images test images of the config's data with config.edit's inversion
settings (as --mode=edit does, noise maps included with --config.edit.invert_noise=True), then
moves each inverted latent along every attribute's InterFaceGAN direction of the workdir's
directions file (--mode=directions writes it) by --strength, with the sign that asks the judge for
the other value (+ where it reads the reconstruction as 0, - where 1). Writes the inversion PSNR,
per attribute the flip rate and the kept rate of the other attributes (the judge's reading of the
reconstruction is the reference), and a grid PNG next to the JSON: rows are images, columns the
input, its reconstruction and one edit per attribute (captions in the JSON). With
--config.edit.pti_steps > 0 the same is measured again with G fine-tuned to the images (pivotal
tuning, one G for all of them) under "pti", with a second grid <name>_pti.png.
"""

import json
import os
import sys
import time

from absl import app
from absl import flags
from ml_collections import config_flags
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_jax import data as data_lib  # pylint: disable=wrong-import-position
from gan_jax import image_io  # pylint: disable=wrong-import-position
from gan_jax import metric_writer  # pylint: disable=wrong-import-position
from gan_jax.data import loader as loader_lib  # pylint: disable=wrong-import-position
from gan_jax.editing import directions as directions_lib  # pylint: disable=wrong-import-position
from gan_jax.metrics import image_pairs  # pylint: disable=wrong-import-position
from gan_jax.trainers import gan_editing  # pylint: disable=wrong-import-position

config_flags.DEFINE_config_file('config', None, 'The GAN config the workdir was trained with.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Trained GAN workdir with edits/directions.npz.')
_NUM_IMAGES = flags.DEFINE_integer('num_images', 8, 'Held-out images to invert and edit.')
_STRENGTH = flags.DEFINE_float('strength', 3.0, 'Edit strength (std of the latents along it).')
_CONDITIONAL = flags.DEFINE_boolean('conditional', False,
                                    'Use each attribute\'s conditional direction (Attr|Others).')
_OUTPUT = flags.DEFINE_string('output', None, 'JSON file; the grid PNG is written beside it.')
flags.mark_flags_as_required(['config', 'workdir', 'output'])


def attribute_directions(path: str, attr_names, conditional: bool
                         ) -> list[directions_lib.Direction]:
  """Each attribute's InterFaceGAN direction (or its conditional version) from a directions file;
  ValueError naming what is missing."""
  found = directions_lib.load_directions(path)
  chosen = []
  for name in attr_names:
    matches = ([d for n, d in found.items() if n.startswith(name + '|')] if conditional
               else [found[name]] if name in found else [])
    if not matches:
      raise ValueError(f'{path} has no {"conditional " if conditional else ""}direction for '
                       f'{name}: run --mode=directions with this judge first')
    chosen.append(matches[0])
  return chosen


def edit_report(gen, judge, directions, images: np.ndarray, latents: np.ndarray, noise,
                strength: float) -> tuple[dict, list[np.ndarray]]:
  """Inversion PSNR and per-attribute flip/kept rates of one generator on inverted latents, and
  the grid's columns (input, reconstruction, one edit per direction)."""
  render = lambda x: np.asarray(gen.renderer(gan_editing.latent_space(x))(x, noise))
  recon = render(latents)
  judged_in = judge.predict(recon)
  columns, per_attribute = [images, recon], {}
  for d in directions:
    edited, counts = gan_editing.judged_edit(gen, judge, d, strength, latents, judged_in, render)
    columns.append(edited)
    per_attribute[d.name] = dict(flipped=counts.transfer_accuracy, kept=counts.preservation,
                                 images=counts.changed)
  psnr = [float(v) for v in image_pairs.psnr_per_image(recon, images)]
  return dict(inversion_psnr_mean=float(np.mean(psnr)), inversion_psnr=psnr,
              ssim_mean=float(np.mean(image_pairs.ssim_per_image(recon, images))),
              edits=per_attribute,
              judge_on_reconstructions={n: judged_in[:, i].tolist()
                                        for i, n in enumerate(judge.attr_names)}), columns


def main(argv):
  del argv
  metric_writer.quiet_library_info_logs()
  config = flags.FLAGS.config
  gen = gan_editing.load_editable(config, _WORKDIR.value)
  judge = gan_editing.restore_judge(config.edit.judge, gen)
  if judge is None:
    raise app.UsageError('--config.edit.judge=CLASSIFIER_WORKDIR is required: it reads the edits')
  directions = attribute_directions(gan_editing.directions_path(config, _WORKDIR.value),
                                    judge.attr_names, _CONDITIONAL.value)
  source = data_lib.make_source(config.data, 'test')
  images = np.concatenate([b['image'] for b in loader_lib.ordered_batches(
      source, _NUM_IMAGES.value, _NUM_IMAGES.value)])
  start = time.perf_counter()
  latents, noise = gan_editing.invert_images(
      gen, images, config, gan_editing.inversion_noise(gen, config, len(images)))
  invert_seconds = time.perf_counter() - start
  judged_inputs = judge.predict(images)
  result = dict(workdir=_WORKDIR.value, step=gen.step, judge=config.edit.judge,
                num_images=len(images), strength=_STRENGTH.value,
                invert=dict(space=config.edit.invert_space, steps=config.edit.invert_steps,
                            lr=config.edit.invert_lr,
                            noise=bool(config.edit.get('invert_noise')),
                            seconds_per_image=invert_seconds / len(images)),
                grid_columns=['input', 'inverted'] + [f'{d.name} (toward the other value)'
                                                      for d in directions],
                judge_on_inputs={n: judged_inputs[:, i].tolist()
                                 for i, n in enumerate(judge.attr_names)})
  result['latents'], columns = edit_report(gen, judge, directions, images, latents, noise,
                                           _STRENGTH.value)
  grids = {'': columns}
  if config.edit.get('pti_steps'):   # the same latents, G tuned to the images (pivotal tuning)
    start = time.perf_counter()
    tuned = gan_editing.tune_to_images(gen, latents, noise, images, config)
    result['pti'] = dict(steps=config.edit.pti_steps, lr=config.edit.pti_lr,
                         locality=config.edit.pti_locality,
                         seconds_per_image=(time.perf_counter() - start) / len(images))
    report, grids['_pti'] = edit_report(tuned, judge, directions, images, latents, noise,
                                        _STRENGTH.value)
    result['pti'].update(report)
  summary = {k: {kk: v[kk] for kk in ('inversion_psnr_mean', 'edits')}
             for k, v in result.items() if k in ('latents', 'pti')}
  print(json.dumps(summary, indent=1))
  os.makedirs(os.path.dirname(os.path.abspath(_OUTPUT.value)), exist_ok=True)
  with open(_OUTPUT.value, 'w', encoding='utf-8') as f:
    json.dump(result, f, indent=2)
  for suffix, grid in grids.items():
    image_io.save_image(os.path.splitext(_OUTPUT.value)[0] + suffix + '.png',
                        image_io.make_grid(grid))


if __name__ == '__main__':
  app.run(main)
