"""beta-VAE on the shared loop: one pure step maximising the ELBO (Gaussian decoder, fixed sigma).

Samples (`workdir/samples/`) show held-out inputs, their reconstructions (decoded posterior
means) and decoded prior samples. Evaluation (`eval_every` / `--mode=eval`) reports the held-out
negative ELBO, reconstruction PSNR/SSIM and, with a feature extractor, FID/KID/precision-recall
of prior samples against the held-out images.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gan_jax import checkpoint
from gan_jax import errors
from gan_jax import evaluation
from gan_jax import image_io
from gan_jax import sharding
from gan_jax import train_state
from gan_jax import data as data_lib
from gan_jax.data import loader as loader_lib
from gan_jax.metrics import image_pairs
from gan_jax.models import dcgan
from gan_jax.models import layers
from gan_jax.models import vae as models
from gan_jax.trainers import loop


def validate_config(config: ml_collections.ConfigDict) -> None:
  dcgan.num_up_blocks(config.data.image_size)
  if config.loss.beta < 0 or config.loss.sigma <= 0:
    raise errors.ConfigError(f'config.loss.beta={config.loss.beta} must be >= 0 and '
                             f'config.loss.sigma={config.loss.sigma} > 0')


def build_model(config) -> models.VAE:
  m = config.model
  return models.VAE(image_size=config.data.image_size, latent_dim=m.latent_dim,
                    base_dim=m.base_dim,
                    conv_impl=layers.resolve_conv_impl(m.conv_impl, on_cpu='hybrid'))


def make_init_state(model: models.VAE, tx, image_size: int):
  def init_state(key: jax.Array) -> train_state.SupervisedState:
    init_key, noise_key = jax.random.split(key)
    params = model.init(init_key, jnp.zeros((1, image_size, image_size, 3)), noise_key)
    return train_state.SupervisedState(step=jnp.zeros((), jnp.int32), params=params,
                                       opt_state=tx.init(params))
  return init_state


def make_train_step(model: models.VAE, tx, beta: float, sigma: float):
  """(state, {'image': [B,S,S,3] in [-1,1]}, key) -> (state, metrics) minimising -ELBO."""
  def loss_fn(params, images, key):
    reconstruction, mean, log_var = model.apply(params, images, key)
    loss, nll, kl = models.negative_elbo(images, reconstruction, mean, log_var, beta, sigma)
    return loss, {'loss': loss, 'nll': nll, 'kl': kl,
                  'l1': jnp.mean(jnp.abs(images - reconstruction))}

  def train_step(state: train_state.SupervisedState, batch, key):
    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.params, batch['image'], key)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    return state.replace(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                         opt_state=opt_state), metrics
  return train_step


@functools.partial(jax.jit, static_argnums=0)
def _reconstruct(model, params, images, key):
  return model.apply(params, images, key)


@functools.partial(jax.jit, static_argnums=0)
def _encode(model, params, images):
  return model.apply(params, images, method=models.VAE.encode)


@functools.partial(jax.jit, static_argnums=0)
def _decode(model, params, z):
  return model.apply(params, z, method=models.VAE.decode)


def encode(model, params, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Posterior (mean, log_var) [N, Z] of images [N, S, S, 3] in [-1, 1]."""
  mean, log_var = _encode(model, params, jnp.asarray(images))
  return np.asarray(mean), np.asarray(log_var)


def decode(model, params, z: np.ndarray) -> np.ndarray:
  """Images [N, S, S, 3] in [-1, 1] decoded from latents z [N, Z]."""
  return np.asarray(_decode(model, params, jnp.asarray(z)))


def prior_latents(config, num: int) -> np.ndarray:
  key = jax.random.fold_in(jax.random.key(config.seed), 0x5A3)
  return np.asarray(jax.random.normal(key, (num, config.model.latent_dim)))


def make_task(config: ml_collections.ConfigDict, workdir: str) -> loop.Task:
  validate_config(config)
  sharding.check_batch_size(config.batch_size, sharding.make_mesh())
  train_source = data_lib.make_source(config.data, 'train')
  model = build_model(config)
  tx = optax.adam(config.optim.lr, b1=config.optim.b1, b2=config.optim.b2)
  loader = loader_lib.BatchLoader(train_source, config.batch_size, config.seed,
                                  rows=sharding.process_batch_slice(config.batch_size),
                                  num_threads=config.get('data_threads', 4))
  sample_images = next(loader_lib.ordered_batches(data_lib.make_source(config.data, 'test'),
                                                  config.num_sample_images))['image']
  z = prior_latents(config, config.num_sample_images)

  def write_samples(state, step):
    if jax.process_index() != 0:
      return
    mean, _ = encode(model, state.params, sample_images)
    grid = image_io.make_grid([sample_images, decode(model, state.params, mean),
                               decode(model, state.params, z)])
    image_io.save_image(os.path.join(workdir, 'samples', f'step_{step:07d}.png'), grid)

  return loop.Task(
      init_state=make_init_state(model, tx, config.data.image_size),
      train_steps={'train': make_train_step(model, tx, config.loss.beta, config.loss.sigma)},
      loader=loader, write_samples=write_samples,
      evaluate=make_evaluator(config, model, workdir) if config.eval_every else None)


def make_evaluator(config, model, workdir: str):
  """(state, step) -> metrics; the test split and the feature extractor (which restores the
  judge's checkpoint) are opened once here, not at every evaluation."""
  e = config.eval
  source = data_lib.make_source(config.data, 'test')
  extractor = evaluation.configured_extractor(e, e.judge) if (e.judge or e.extractor) else None
  return functools.partial(evaluate_state, config, model, workdir, source, extractor)


def evaluate_state(config, model, workdir: str, source, extractor, state, step: int) -> dict:
  """Held-out -ELBO (one posterior sample per image), reconstruction PSNR/SSIM of the posterior
  means, and distribution metrics of prior samples when an extractor is given."""
  e = config.eval
  num_images = min(e.num_images, len(source))
  key = jax.random.key(config.seed)
  sums = {'nll': 0.0, 'kl': 0.0, 'psnr': 0.0, 'ssim': 0.0}
  for i, batch in enumerate(loader_lib.ordered_batches(source, e.batch_size, num_images)):
    images = jnp.asarray(batch['image'])
    reconstruction, mean, log_var = _reconstruct(model, state.params, images,
                                                 jax.random.fold_in(key, i))
    _, nll, kl = models.negative_elbo(images, reconstruction, mean, log_var, config.loss.beta,
                                      config.loss.sigma)
    means = _decode(model, state.params, mean)
    sums['nll'] += float(nll) * len(images)
    sums['kl'] += float(kl) * len(images)
    sums['psnr'] += float(jnp.sum(image_pairs.psnr_per_image(means, images)))
    sums['ssim'] += float(jnp.sum(image_pairs.ssim_per_image(means, images)))
  result = {f'eval/{k}': v / num_images for k, v in sums.items()}
  result['eval/negative_elbo'] = result['eval/nll'] + config.loss.beta * result['eval/kl']
  if extractor is not None:
    mesh = sharding.make_mesh()
    real_feats, _, _ = evaluation.reference_features_of_split(
        extractor, config.data, source, 'test', num_images, e.batch_size, e.cache_dir or None,
        mesh)
    samples = np.concatenate([decode(model, state.params, z) for z in evaluation.batched(
        prior_latents(config, num_images), e.batch_size)])
    fake_feats, _ = evaluation.extract_features(
        extractor, evaluation.batched(samples, e.batch_size), num_images, f'eval step {step}',
        mesh)
    result.update({f'eval/{k}': float(v) for k, v in evaluation.distribution_metrics(
        real_feats, fake_feats, None, kid_subset_size=min(e.kid_subset_size, num_images)
    ).items()})
  if jax.process_index() == 0:
    evaluation.write_eval(workdir, step, {'step': step, 'num_images': num_images,
                                          'method': 'vae', **result})
  logging.info('Eval of step %d: %s', step, {k: round(v, 4) for k, v in result.items()})
  return result


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, **unused) -> Any:
  return loop.train(config, workdir, make_task(config, workdir))


def restore(config, workdir: str):
  """(model, params, step) from the latest checkpoint of workdir."""
  validate_config(config)
  model = build_model(config)
  tx = optax.adam(config.optim.lr)
  state, step = checkpoint.restore_latest_replicated(
      workdir, make_init_state(model, tx, config.data.image_size))
  return model, state.params, step


def evaluate_workdir(config: ml_collections.ConfigDict, workdir: str, **unused) -> dict:
  model, params, step = restore(config, workdir)
  return make_evaluator(config, model, workdir)(
      train_state.SupervisedState(step=step, params=params, opt_state=None), step)


def _editing_mode(name: str):
  """--mode=directions / edit live in trainers.vae_editing (which imports this module)."""
  def run(config, workdir, **options):
    from gan_jax.trainers import vae_editing  # pylint: disable=g-import-not-at-top
    return getattr(vae_editing, name)(config, workdir, **options)
  return run


MODES = {'train': train_and_evaluate, 'eval': evaluate_workdir,
         'directions': _editing_mode('find_directions'), 'edit': _editing_mode('edit_images')}
