"""Convolutional beta-VAE (gan_jax.models.vae) on the same data sources as the GANs.

  python main.py --config=configs/vae.py --workdir=DIR              # tfds celeb_a, 64 px
  python main.py --config=configs/vae.py:celeba64 --workdir=DIR     # local CelebA, 64 px
  python main.py --config=configs/vae.py:cifar10 --workdir=DIR      # CIFAR-10 class folders
  python main.py --config=configs/vae.py:synthetic --workdir=DIR    # embedded faces, 32 px, CPU
  python main.py --config=configs/vae.py:smoke --workdir=DIR        # tests
"""

import ml_collections

from configs import common

from configs import stargan


def get_config(arg: str = '') -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.trainer = 'vae'
  c.seed = 0
  c.data = stargan.get_config().data
  c.data.image_size = 64
  c.model = ml_collections.ConfigDict(dict(latent_dim=128, base_dim=32, conv_impl='auto'))
  # -log p(x|z) with a Gaussian decoder of fixed sigma (pixels in [-1, 1]); beta = 1 is the ELBO,
  # beta > 1 the beta-VAE's pressure towards a factorised posterior.
  c.loss = ml_collections.ConfigDict(dict(beta=1.0, sigma=0.1))
  c.optim = ml_collections.ConfigDict(dict(lr=1e-3, b1=0.9, b2=0.999))
  c.batch_size = 64
  c.num_steps = 50_000
  c.log_every = 50
  c.sample_every = 1000
  c.ckpt_every = 5000
  c.max_to_keep = 3
  c.num_sample_images = 8
  c.data_threads = 4
  c.tensorboard = True
  c.eval_every = 5000
  c.eval = ml_collections.ConfigDict(dict(
      num_images=2000, judge='', extractor='', inception_weights='', resize='clean',
      batch_size=250, kid_subset_size=1000, cache_dir=''))
  # Attribute vectors and edits (--mode=directions / edit; trainers/vae_editing).
  c.edit = ml_collections.ConfigDict(dict(
      judge='',                  # classifier workdir that judges the edits ('' = no judging)
      directions='',             # '' = WORKDIR/edits/directions.npz
      num_samples=4000,          # labelled training images encoded for the class means
      num_eval=500,              # held-out images whose edits are judged
      eval_strengths=(0.5, 1.0, 1.5, 2.0),   # multiples of each class-mean difference
      sweep_columns=5))

  if arg == 'celeba64':
    c.data.update(name='celeba_folder', path='../shared/data/celeba_89x109', test_size=1000)
    c.num_steps = 5000
  elif arg == 'cifar10':
    c.data.update(name='class_folders', path='../shared/data/cifar10', image_size=32, attrs=())
    c.num_steps = 20_000
  elif arg == 'synthetic':
    c.data.update(name='synthetic_faces', image_size=32)
    c.model.update(latent_dim=64)
    c.num_steps = 3000
    c.eval_every = 1000
    c.sample_every = 500
    c.ckpt_every = 500
  elif arg == 'smoke':
    c.data.update(**common.smoke_faces(num_test_examples=16))
    c.model.update(latent_dim=8, base_dim=4)
    common.set_smoke_loop(c, num_sample_images=4)
    c.eval_every = 4
    c.eval.update(num_images=16, batch_size=8, kid_subset_size=8)
    c.edit.update(num_samples=64, num_eval=16, eval_strengths=(1.0, 2.0), sweep_columns=3)
  elif arg:
    raise ValueError(f'unknown variant {arg!r} of configs/vae.py: use celeba64, cifar10, '
                     'synthetic, smoke or none')
  return c
