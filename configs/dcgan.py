"""DCGAN (Radford et al. 2016) with the defaults of the PyTorch example (pytorch/examples dcgan).

  python main.py --config=configs/dcgan.py --workdir=DIR             # tfds celeb_a, 64 px
  python main.py --config=configs/dcgan.py:cifar10 --workdir=DIR     # CIFAR-10 class folders, 32 px
  python main.py --config=configs/dcgan.py:celeba64 --workdir=DIR    # local CelebA, 64 px
  python main.py --config=configs/dcgan.py:mnist --workdir=DIR \
      --config.data.path=/data/mnist                                 # MNIST idx files, 32 px
  python main.py --config=configs/dcgan.py:synthetic --workdir=DIR   # embedded faces, 32 px, CPU
  python main.py --config=configs/dcgan.py:smoke --workdir=DIR       # tests
  python main.py --config=configs/dcgan.py:cifar10 --workdir=DIR --mode=eval \\
      --config.eval.judge=runs/cls_cifar10                           # FID/KID with its features

Stability options (any GAN config): --config.loss.adversarial=hinge|lsgan|wgan,
--config.loss.lambda_gp=10 or --config.loss.r1_gamma=10 (with --config.model.d_norm=none|layer|
spectral), --config.model.d_norm=spectral, --config.ema_decay=0.999, --config.optim.d_lr=4e-4.
"""

import ml_collections

from configs import stargan


def get_config(arg: str = '') -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.trainer = 'gan'
  c.seed = 0
  c.data = stargan.get_config().data     # the same data sources and fields as StarGAN; the
  c.data.image_size = 64                 # labels (attrs) are read but not used by the GAN
  c.model = ml_collections.ConfigDict(dict(
      name='dcgan', latent_dim=100, g_dim=64, d_dim=64,
      d_norm='batch',            # batch (paper) | none | layer | spectral
      g_conv_impl='auto', d_conv_impl='auto'))   # lowering only (models.layers.conv2d)
  c.loss = ml_collections.ConfigDict(dict(
      adversarial='nonsaturating',   # D: -log D(x) - log(1 - D(G(z))); G: -log D(G(z))
      lambda_gp=0.0,                 # WGAN-GP weight (needs d_norm != batch)
      r1_gamma=0.0, r1_every=1,      # R1 on reals, lazily every r1_every steps
      diffaug=''))                   # DiffAugment policy, e.g. 'color,translation,cutout'
  c.optim = ml_collections.ConfigDict(dict(g_lr=2e-4, d_lr=2e-4, b1=0.5, b2=0.999))
  c.ema_decay = 0.0              # 0 = samples from the trained G itself (the paper)
  c.n_critic = 1
  c.batch_size = 64
  c.num_steps = 80_000           # ~25 epochs of CelebA's 162,770 training images
  c.log_every = 50
  c.sample_every = 1000
  c.ckpt_every = 5000
  c.max_to_keep = 3
  c.num_sample_images = 64
  c.data_threads = 4
  c.tensorboard = True
  c.eval_every = 0               # > 0: FID/KID etc. of samples every eval_every steps and at the end
  c.eval = ml_collections.ConfigDict(dict(
      num_images=5000, judge='', extractor='', inception_weights='', resize='clean',
      batch_size=250, kid_subset_size=1000, cache_dir=''))

  if arg == 'cifar10':
    c.data.update(name='class_folders', path='../shared/data/cifar10', image_size=32, attrs=())
    c.num_steps = 20_000         # ~25 epochs of the 50,000 training images
  elif arg == 'mnist':
    # Full MNIST idx files (../shared/data/mnist holds only the t10k test files).
    c.data.update(name='mnist', path='../shared/data/mnist', image_size=32, attrs=())
    c.num_steps = 20_000
  elif arg == 'celeba64':
    c.data.update(name='celeba_folder', path='../shared/data/celeba_89x109', test_size=1000)
    c.num_steps = 3_000
  elif arg == 'synthetic':
    c.data.update(name='synthetic_faces', image_size=32)
    c.model.update(g_dim=32, d_dim=32)
    c.num_steps = 3_000
    c.sample_every = 500
    c.ckpt_every = 500
  elif arg == 'smoke':
    c.data.update(name='synthetic_faces', image_size=16, num_examples=64, num_test_examples=32)
    c.model.update(latent_dim=8, g_dim=4, d_dim=4)
    c.batch_size = 8
    c.num_steps = 4
    c.log_every = 2
    c.sample_every = 4
    c.ckpt_every = 2
    c.num_sample_images = 8
    c.data_threads = 2
    c.eval.update(num_images=32, batch_size=16, kid_subset_size=16)
  elif arg:
    raise ValueError(f'unknown variant {arg!r} of configs/dcgan.py: use cifar10, mnist, celeba64, '
                     'synthetic, smoke or none')
  return c
