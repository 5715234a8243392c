import json
import os

import jax
import numpy as np
import optax
from PIL import Image

from configs import vae as vae_config
from gan_jax import data as data_lib
from gan_jax.data import loader as loader_lib
from gan_jax.editing import directions
from gan_jax.trainers import loop
from gan_jax.trainers import vae
from gan_jax.trainers import vae_editing
from tests.main_runner import run_main


def test_steps_lower_the_negative_elbo_on_a_fixed_batch():
  config = vae_config.get_config('smoke')
  model = vae.build_model(config)
  tx = optax.adam(3e-3)
  state = jax.jit(vae.make_init_state(model, tx, 16), compiler_options=loop.FAST_COMPILE)(
      jax.random.key(0))
  step = jax.jit(vae.make_train_step(model, tx, beta=1.0, sigma=0.1))
  batch = next(loader_lib.ordered_batches(data_lib.make_source(config.data, 'train'), 8))
  losses = []
  for i in range(100):
    state, metrics = step(state, batch, jax.random.key(i))
    losses.append(float(metrics['loss']))
  assert losses[-1] < 0.6 * losses[0], losses[::10]
  assert int(state.step) == 100


def test_main_trains_evaluates_and_edits_with_the_vae(tmp_path, smoke_judge):
  workdir = str(tmp_path / 'vae')
  result = run_main('--config=configs/vae.py:smoke', f'--workdir={workdir}',
                    f'--config.eval.judge={smoke_judge}',
                    f'--config.eval.cache_dir={tmp_path / "cache"}')
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(workdir, 'eval', '0000004.json')) as f:
    record = json.load(f)
  for key in ('eval/negative_elbo', 'eval/nll', 'eval/kl', 'eval/psnr', 'eval/ssim', 'eval/fid'):
    assert np.isfinite(record[key]), key
  assert record['eval/kl'] >= 0
  assert os.path.exists(os.path.join(workdir, 'samples', 'step_0000004.png'))
  # Attribute vectors (--mode=directions) and an edit inside a mask (--mode=edit) on that VAE.
  config = vae_config.get_config('smoke')
  config.edit.judge = smoke_judge
  summary = vae_editing.find_directions(config, workdir)
  found = directions.load_directions(os.path.join(workdir, 'edits', 'directions.npz'))
  assert list(found) == list(config.data.attrs)
  assert all(d.info['method'] == 'attribute_vector' and d.scale > 0 for d in found.values())
  assert [r['strength'] for r in summary['directions']['Male']['sweep']] == [1.0, 2.0]
  face = np.full((20, 20, 3), 200, np.uint8)
  Image.fromarray(face).save(tmp_path / 'face.png')
  mask = np.zeros((16, 16), np.uint8)
  mask[:8] = 255
  Image.fromarray(mask).save(tmp_path / 'mask.png')
  metrics = vae_editing.edit_images(config, workdir, input=str(tmp_path / 'face.png'),
                                    output=str(tmp_path / 'out'), edit='Male:+2',
                                    mask=str(tmp_path / 'mask.png'))
  assert metrics['max_change_outside_mask'] == 0.0 and np.isfinite(metrics['reconstruction_psnr'])
  assert (tmp_path / 'out' / 'face_sweep.png').exists()
