"""e4e-style encoder into a trained StyleGAN's w+ (gan_jax.trainers.encoder).

  python main.py --config=configs/encoder.py --workdir=DIR \\
      --config.encoder.generator=STYLEGAN_WORKDIR          # tfds celeb_a, 64 px
  python main.py --config=configs/encoder.py:celeba64 --workdir=DIR \\
      --config.encoder.generator=w/sg_celeba64             # local CelebA, 64 px
  python main.py --config=configs/encoder.py:synthetic --workdir=DIR \\
      --config.encoder.generator=w/sg                      # configs/stylegan.py:synthetic's G
  python main.py --config=configs/encoder.py:synthetic64 --workdir=DIR \\
      --config.encoder.generator=w/sg64                    # configs/stylegan.py:synthetic64's G
  python main.py --config=configs/encoder.py:smoke --workdir=DIR \\
      --config.encoder.generator=SMOKE_STYLEGAN            # tests (configs/stylegan.py:smoke)

The generator's architecture is read from its workdir's config.json; config.data.image_size must
equal its image size. A perceptual term: --config.encoder.feature_judge=CLASSIFIER_WORKDIR
--config.loss.feature_weight=1.0 (the classifier's penultimate features).
"""

import ml_collections

from configs import common

from configs import stargan


def get_config(arg: str = '') -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.trainer = 'encoder'
  c.seed = 0
  c.data = stargan.get_config().data
  c.data.image_size = 64
  c.encoder = ml_collections.ConfigDict(dict(
      generator='',          # StyleGAN workdir (EMA weights of its latest checkpoint) or an
                             # --mode=export .npz with the run's config.json beside it
      feature_judge=''))     # classifier workdir for the feature loss ('' = none)
  c.model = ml_collections.ConfigDict(dict(
      widths=(32, 64, 128, 256),   # one residual down-sampling block each: 64 px -> 4x4
      hidden_dim=512))
  c.loss = ml_collections.ConfigDict(dict(
      pixel_l2=1.0, pixel_l1=0.0,
      feature_weight=0.0,          # needs encoder.feature_judge
      lambda_delta=2e-4,           # e4e's delta regulariser (sum of per-layer L2 norms)
      lambda_latent=1.0,           # ||E(G(w)) - w||^2 on G's own samples ...
      latent_fraction=0.25))       # ... which replace this fraction of each batch
  c.optim = ml_collections.ConfigDict(dict(lr=1e-4, b1=0.9, b2=0.999))
  c.batch_size = 32
  c.num_steps = 50_000
  c.log_every = 50
  c.sample_every = 1000
  c.ckpt_every = 5000
  c.max_to_keep = 3
  c.num_sample_images = 8
  c.data_threads = 4
  c.tensorboard = True
  c.eval_every = 5000
  c.eval = ml_collections.ConfigDict(dict(num_images=1000, batch_size=100))

  if arg == 'celeba64':
    c.data.update(name='celeba_folder', path='../shared/data/celeba_89x109', test_size=1000)
    c.num_steps = 10_000
    c.eval_every = 2000
    c.ckpt_every = 2000
  elif arg in ('synthetic', 'synthetic64'):
    c.data.update(name='synthetic_faces', image_size=32)
    c.model.update(widths=(32, 64, 128), hidden_dim=256)
    c.optim.lr = 5e-4
    c.num_steps = 3000
    c.eval_every = 1000
    c.sample_every = 500
    c.ckpt_every = 500
    if arg == 'synthetic64':   # configs/stylegan.py:synthetic64's G (64 px, batch 16 on the CPU)
      c.data.image_size = 64
      c.model.widths = (32, 64, 128, 256)
      c.batch_size = 16
  elif arg == 'smoke':
    c.data.update(**common.smoke_faces())
    c.model.update(widths=(4, 8), hidden_dim=16)
    c.optim.lr = 1e-3
    common.set_smoke_loop(c)
    c.eval_every = 4
    c.eval.update(num_images=16, batch_size=8)
  elif arg:
    raise ValueError(f'unknown variant {arg!r} of configs/encoder.py: use celeba64, synthetic, '
                     'synthetic64, smoke or none')
  return c
