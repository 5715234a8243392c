"""Inversion quality and speed: held-out images -> latent -> image, PSNR/SSIM and seconds/image.

  python benchmarks/inversion_quality.py --config=configs/stylegan.py:synthetic \
      --workdir=runs/stylegan_synth --num_images=64 --batch_size=16 \
      --output=benchmarks/results/stylegan_synthetic/inversion.json

Inverts the first --num_images test images of the config's data with the settings of
config.edit (invert_space, invert_steps, invert_lr, invert_noise, and pivotal tuning of G
with pti_steps > 0), as --mode=edit does, and reports the mean and
median PSNR, SSIM and the wall time per image (each batch after the first, which also compiles).
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
from gan_jax.metrics import image_pairs  # pylint: disable=wrong-import-position
from gan_jax.trainers import gan_editing  # pylint: disable=wrong-import-position

config_flags.DEFINE_config_file('config', None, 'The GAN config the workdir was trained with.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Trained GAN workdir.')
_NUM_IMAGES = flags.DEFINE_integer('num_images', 64, 'Held-out images to invert.')
_BATCH = flags.DEFINE_integer('batch_size', 16, 'Images inverted together.')
_OUTPUT = flags.DEFINE_string('output', None, 'Optional JSON file (and a grid PNG next to it).')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  del argv
  metric_writer.quiet_library_info_logs()
  config = flags.FLAGS.config
  gen = gan_editing.load_editable(config, _WORKDIR.value)
  source = data_lib.make_source(config.data, 'test')
  psnrs, ssims, latent_only, times, shown = [], [], [], [], []
  for i, batch in enumerate(loader_lib.ordered_batches(source, _BATCH.value, _NUM_IMAGES.value)):
    images = batch['image']
    start = time.perf_counter()
    latents, noise = gan_editing.invert_images(
        gen, images, config, gan_editing.inversion_noise(gen, config, len(images)))
    space = gan_editing.latent_space(latents)
    tuned = gan_editing.tune_to_images(gen, latents, noise, images, config)
    recon = np.asarray(tuned.renderer(space)(latents, noise))
    elapsed = time.perf_counter() - start
    if i and len(images) == _BATCH.value:
      times.append(elapsed / len(images))
    psnrs += [float(v) for v in image_pairs.psnr_per_image(recon, images)]
    ssims += [float(v) for v in image_pairs.ssim_per_image(recon, images)]
    if tuned is not gen:   # pivotal tuning: also the untuned G's reconstruction of the latents
      latent_only += [float(v) for v in image_pairs.psnr_per_image(
          np.asarray(gen.renderer(space)(latents, noise)), images)]
    if not shown:
      shown = [images[:8], recon[:8]]
  result = dict(workdir=_WORKDIR.value, step=gen.step, num_images=len(psnrs),
                space=config.edit.invert_space, steps=config.edit.invert_steps,
                lr=config.edit.invert_lr,
                invert_noise=bool(config.edit.get('invert_noise')),
                pti_steps=int(config.edit.get('pti_steps', 0)), psnr_mean=float(np.mean(psnrs)),
                psnr_median=float(np.median(psnrs)), psnr_min=float(np.min(psnrs)),
                ssim_mean=float(np.mean(ssims)), fraction_psnr_ge_25=float(np.mean(
                    np.asarray(psnrs) >= 25.0)),
                seconds_per_image=float(np.median(times)) if times else float('nan'),
                batch_size=_BATCH.value, psnr_per_image=psnrs)
  if latent_only:
    result.update(psnr_mean_before_pti=float(np.mean(latent_only)),
                  psnr_per_image_before_pti=latent_only)
  for key, value in result.items():
    if not isinstance(value, list):
      print(f'{key:<22} {value}')
  if _OUTPUT.value:
    os.makedirs(os.path.dirname(os.path.abspath(_OUTPUT.value)), exist_ok=True)
    with open(_OUTPUT.value, 'w', encoding='utf-8') as f:
      json.dump(result, f, indent=2)
    image_io.save_image(os.path.splitext(_OUTPUT.value)[0] + '.png',
                        image_io.make_grid(shown))      # rows: images; columns: target, inverted


if __name__ == '__main__':
  app.run(main)
