"""Attribute editing with a trained VAE: --mode=directions and --mode=edit (trainer 'vae').

  python main.py --config=configs/vae.py:synthetic --workdir=W --mode=directions \
      --config.edit.judge=CLASSIFIER_WORKDIR
  python main.py --config=configs/vae.py:synthetic --workdir=W --mode=edit --input=FACE.png \
      --edit=Smiling:+1 --output=OUT [--mask=MASK.png]

`directions` encodes labelled training images (posterior means) and takes, per attribute of the
data, the difference of the class means (an attribute vector, White 2016 / Larsen et al. 2016);
strength 1 moves an image by that whole difference. With a judge, the edits of held-out images
are judged over config.edit.eval_strengths as for the GANs (edits/directions_eval.json).
`edit` encodes --input, adds the vectors, decodes (inside --mask only: pixel blend).
"""

from __future__ import annotations

import json
import os
from typing import Any

from absl import logging
import numpy as np

from gan_jax import errors
from gan_jax import image_io
from gan_jax import data as data_lib
from gan_jax.data import loader as loader_lib
from gan_jax.editing import directions as directions_lib
from gan_jax.editing import edits as edits_lib
from gan_jax.metrics import attributes as attribute_metrics
from gan_jax.metrics import image_pairs
from gan_jax.trainers import gan_editing
from gan_jax.trainers import vae


def _encode_all(model, params, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
  return np.concatenate([vae.encode(model, params, images[i:i + batch_size])[0]
                         for i in range(0, len(images), batch_size)])


def _decode_all(model, params, z: np.ndarray, batch_size: int = 256) -> np.ndarray:
  return np.concatenate([vae.decode(model, params, z[i:i + batch_size])
                         for i in range(0, len(z), batch_size)])


def _load_split(config, split: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
  images, labels = [], []
  for batch in loader_lib.ordered_batches(data_lib.make_source(config.data, split), 256, limit):
    images.append(batch['image'])
    labels.append(batch['label'])
  return np.concatenate(images), np.concatenate(labels)


def find_directions(config, workdir: str, **unused) -> dict:
  """--mode=directions: attribute vectors of every labelled attribute, saved and judged."""
  e = config.edit
  model, params, step = vae.restore(config, workdir)
  attr_names = tuple(config.data.attrs)
  if not attr_names:
    raise errors.ConfigError(f'{config.data.name} has no attribute labels (config.data.attrs): '
                             'attribute vectors need labelled images')
  images, labels = _load_split(config, 'train', e.num_samples)
  latents = _encode_all(model, params, images)
  found = [directions_lib.attribute_vector(name, latents, labels[:, i])
           for i, name in enumerate(attr_names)]
  directions_lib.save_directions(gan_editing.directions_path(config, workdir), found)
  logging.info('Saved %d attribute vectors from %d encoded training images to %s.', len(found),
               len(images), gan_editing.directions_path(config, workdir))
  if not e.judge:
    return {'num_directions': len(found)}
  from gan_jax.trainers import classifier  # pylint: disable=g-import-not-at-top
  judge = classifier.restore(e.judge)
  test_images, _ = _load_split(config, 'test', e.num_eval)
  z = _encode_all(model, params, test_images)
  reconstructed = _decode_all(model, params, z)
  judged_in = judge.predict(reconstructed)       # edits are judged against the reconstruction
  results = {}
  for d in found:
    i = judge.attr_names.index(d.name)
    signs = np.where(judged_in[:, i] > 0.5, -1.0, 1.0).astype(np.float32)
    rows = []
    for s in e.eval_strengths:
      edited = np.asarray(edits_lib.apply_directions(z, [d], float(s) * signs[:, None]))
      judged_out = judge.predict(_decode_all(model, params, edited))
      target = judged_in.copy()
      target[:, i] = 1.0 - judged_in[:, i]
      c = attribute_metrics.count_single_transfer(d.name, judged_in, target, judged_in,
                                                  judged_out, judge.attr_names)
      rows.append(dict(strength=float(s), transfer=c.transfer_accuracy,
                       preservation=c.preservation, changed=c.changed))
    results[d.name] = dict(sweep=rows, recommended=gan_editing.recommended_strength(rows))
  summary = dict(step=int(step), num_eval=len(z), judge=e.judge, directions=results,
                 reconstruction_psnr=image_pairs.psnr(reconstructed, test_images))
  path = os.path.join(os.path.dirname(gan_editing.directions_path(config, workdir)),
                      'directions_eval.json')
  with open(path, 'w', encoding='utf-8') as f:
    json.dump(summary, f, indent=2)
  return summary


def edit_images(config, workdir: str, input: str | None = None, output: str | None = None,
                edit: str = '', mask: str | None = None, **unused) -> dict[str, Any]:
  """--mode=edit: encode, add the named attribute vectors, decode; writes edited/original/
  sweep images and metrics.json."""
  if not input or not output or not edit:
    raise errors.ConfigError('--mode=edit needs --input=IMAGE_OR_FOLDER, --output=FOLDER and '
                             '--edit=NAME:STRENGTH[,...]')
  chosen, strengths = gan_editing.named_edits(edit,
                                              gan_editing.directions_path(config, workdir))
  model, params, step = vae.restore(config, workdir)
  paths = image_io.list_images(input)
  size = config.data.image_size
  images = np.stack([image_io.load_for_model(p, data_lib.crop_fraction(config.data), size)
                     for p in paths])
  z = _encode_all(model, params, images)
  original = _decode_all(model, params, z)
  sweep = [_decode_all(model, params, np.asarray(edits_lib.apply_directions(
      z, chosen, [s * t for s in strengths]))) for t in np.linspace(0, 1, config.edit.sweep_columns)]
  result = sweep[-1]
  metrics: dict[str, Any] = dict(edit=edit, step=int(step),
                                 reconstruction_psnr=image_pairs.psnr(original, images))
  if mask:
    m = gan_editing.load_mask(mask, size)
    result = np.asarray(edits_lib.pixel_blend(images, result, m))   # outside: the input itself
    metrics['max_change_outside_mask'] = float(np.max(np.abs(result - images)[
        np.broadcast_to(m[..., 0] == 0, result.shape[:3])], initial=0.0))
  os.makedirs(output, exist_ok=True)
  for i, p in enumerate(paths):
    name = os.path.splitext(os.path.basename(p))[0]
    image_io.save_image(os.path.join(output, f'{name}_edited.png'), result[i])
    image_io.save_image(os.path.join(output, f'{name}_original.png'), original[i])
    image_io.save_image(os.path.join(output, f'{name}_sweep.png'),
                        image_io.make_grid([images[i:i + 1]] + [c[i:i + 1] for c in sweep]))
  with open(os.path.join(output, 'metrics.json'), 'w', encoding='utf-8') as f:
    json.dump(metrics, f, indent=2)
  return metrics
