"""StarGAN on CelebA with the paper's defaults (yunjey/stargan, Choi et al. 2018).

  python main.py --config=configs/stargan.py --workdir=DIR               # tfds celeb_a, 128 px
  python main.py --config=configs/stargan.py:synthetic --workdir=DIR     # embedded faces, CPU
  python main.py --config=configs/stargan.py:celeba64 --workdir=DIR      # local CelebA at 64 px
  python main.py --config=configs/stargan.py:smoke --workdir=DIR         # tests
"""

import ml_collections

from configs import common

CELEBA_ATTRS = ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young')


def get_config(arg: str = '') -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.trainer = 'stargan'
  c.seed = 0
  c.data = ml_collections.ConfigDict(dict(
      name='celeb_a',            # celeb_a (tfds) | celeba_folder | synthetic_faces
      attrs=CELEBA_ATTRS,
      image_size=128,
      crop=178,                  # centre crop, in pixels of the full-size 178x218 CelebA
      path='',                   # celeba_folder: folder with images + list_attr_celeba.txt
      image_dir='',              # celeba_folder: override the image folder
      attr_file='',              # celeba_folder: override the attribute file
      test_size=1999,            # celeba_folder: held-out images; 1999 = yunjey's test split
      tfds_data_dir='',          # celeb_a: TFDS data dir ('' = TFDS default)
      download=True,             # celeb_a: download and prepare when missing
      num_examples=20000,        # synthetic_faces: training examples
      num_test_examples=2000,    # synthetic_faces: held-out examples
      seed=0,                    # synthetic_faces: drawing seed
  ))
  c.model = ml_collections.ConfigDict(dict(
      g_conv_dim=64, d_conv_dim=64, g_repeat=6, d_repeat=6,
      # How convolutions are lowered (speed only; same parameters, see layers.conv2d): 'auto' =
      # lax.conv on GPU/TPU; on CPU 'im2col' for D (its gradient penalty through lax.conv is
      # ~10x slower) and 'hybrid' for G. Or name one: xla | im2col | hybrid.
      g_conv_impl='auto', d_conv_impl='auto',
      g_residual=False))         # True: G predicts a change of its input (models.stargan.Generator)
  c.loss = ml_collections.ConfigDict(dict(
      lambda_cls=1.0, lambda_rec=10.0, lambda_gp=10.0,
      diffaug='',                # DiffAugment before D, e.g. 'translation' (not in the paper)
      lambda_idt=0.0))           # identity term |G(x, c_org) - x| (CycleGAN's; not in the paper)
  c.optim = ml_collections.ConfigDict(dict(
      g_lr=1e-4, d_lr=1e-4, b1=0.5, b2=0.999,
      decay_steps=100_000))      # linear decay to 0 over the last decay_steps steps
  c.batch_size = 16              # global; a multiple of the number of devices
  c.n_critic = 5                 # D updates per G update
  c.ema_decay = 0.0              # moving average of G for samples/translation/eval (0 = the
                                 # trained G itself, as in the paper; StarGAN v2 uses 0.999)
  c.num_steps = 200_000
  c.log_every = 10
  c.sample_every = 1000
  c.ckpt_every = 10_000
  c.max_to_keep = 3
  c.num_sample_images = 8        # rows of the sample grid (from the test split)
  c.data_threads = 4
  c.tensorboard = True
  c.eval = ml_collections.ConfigDict(dict(
      num_images=1000,           # held-out images; each is translated to every single change
      judge='',                  # workdir of configs/classifier.py: attribute transfer metrics
      extractor='',              # features for FID/KID/PR: inception_v3 | classifier:WORKDIR;
                                 # '' = the judge's, else inception_v3 if its weights are here
      inception_weights='',      # pt_inception-2015-12-05-6726825d.pth or converted .npz
      resize='clean',            # clean (antialiased, float) | legacy_pytorch
      batch_size=64,
      kid_subset_size=1000,
      cache_dir='',              # reference statistics cache ('' = ~/.cache/gan_jax/...)
  ))
  c.translate = common.translate_block(tile_margin=64)   # G's radius: 62 px (g_repeat=6)

  if arg == 'synthetic':
    # Embedded faces at 32 px with a narrower network, sized for ~20 min on 2 CPU cores. With
    # the paper's n_critic=5 and equal learning rates G had only ~700 updates in that budget and
    # was still noise (or collapsed); updating G every step with a 4x faster critic (TTUR) learns
    # the translations in the same time. G's moving average (which samples, translations and
    # evaluations use) and a doubled classification weight take the judged transfer from 0.83
    # to 0.91 at the same cost (benchmarks/RESULTS.md).
    c.data.update(name='synthetic_faces', image_size=32)
    c.model.update(g_conv_dim=32, d_conv_dim=32, g_repeat=4, d_repeat=5)
    c.optim.update(g_lr=1e-4, d_lr=4e-4, decay_steps=1400)
    c.loss.lambda_cls = 2.0
    c.ema_decay = 0.999
    c.n_critic = 1
    c.num_steps = 3400
    c.log_every = 50
    c.sample_every = 500
    c.ckpt_every = 500
  elif arg == 'celeba64':
    c.data.update(name='celeba_folder', path='../shared/data/celeba_89x109', image_size=64,
                  test_size=1000)
    c.model.update(d_repeat=5)
    c.num_steps = 100_000
    c.optim.decay_steps = 50_000
    c.sample_every = 1000
    c.ckpt_every = 2000
  elif arg == 'smoke':
    c.data.update(**common.smoke_faces(num_test_examples=16))
    c.model.update(g_conv_dim=4, d_conv_dim=4, g_repeat=1, d_repeat=2)
    common.set_smoke_loop(c, num_sample_images=2)
    c.n_critic = 2
    c.eval.update(num_images=16, batch_size=8, kid_subset_size=16)
    c.optim.decay_steps = 2
  elif arg:
    raise ValueError(f'unknown variant {arg!r} of configs/stargan.py: use synthetic, celeba64, '
                     f'smoke or none')
  return c
