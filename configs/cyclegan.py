"""CycleGAN with the paper's defaults (Zhu et al. 2017; junyanz/pytorch-CycleGAN-and-pix2pix).

  python main.py --config=configs/cyclegan.py --workdir=DIR               # tfds horse2zebra, 256 px
  python main.py --config=configs/cyclegan.py:horse2zebra --workdir=DIR   # local folders, CPU size
  python main.py --config=configs/cyclegan.py:monet2photo --workdir=DIR   # local monet/ + photo/
  python main.py --config=configs/cyclegan.py:synthetic --workdir=DIR     # embedded faces, 32 px
  python main.py --config=configs/cyclegan.py:smoke --workdir=DIR         # tests
  python main.py --config=... --workdir=DIR --mode=translate --input=IMG_OR_DIR --output=DIR \
      --direction=AtoB                                                     # or BtoA
  python main.py --config=... --workdir=DIR --mode=eval                   # cycle error, FID/KID

The paper trains 200 epochs (lr 2e-4 for 100, then linearly to 0 over 100) at batch 1, where the
official UnalignedDataset's epoch is max(|trainA|, |trainB|) iterations: 1,334 for horse2zebra
(1,067 horses, 1,334 zebras), so 266,800 steps. Here the schedule is in steps: num_steps and
optim.decay_steps (the decaying last part).
"""

import ml_collections

from configs import common

HORSE2ZEBRA_EPOCH = 1334   # max(1067 horses, 1334 zebras): official iterations per epoch


def get_config(arg: str = '') -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.trainer = 'cyclegan'
  c.seed = 0
  c.data = ml_collections.ConfigDict(dict(
      name='cycle_gan',          # cycle_gan (tfds) | domain_folders | synthetic_faces
      tfds_name='horse2zebra',   # cycle_gan: the tfds config, cycle_gan/<tfds_name>
      tfds_data_dir='',          # cycle_gan: TFDS data dir ('' = TFDS default)
      download=True,             # cycle_gan: download and prepare when missing (needs network)
      path='',                   # domain_folders: the folder holding the domain folders
      domain_a='trainA',         # domain_folders: training folders of domain A and B
      domain_b='trainB',
      test_a='testA',            # domain_folders: test folders; '' = hold out the last
      test_b='testB',            # test_size images of the training folder instead
      test_size=0,
      attr_a='Black_Hair',       # synthetic_faces: the attribute of the faces of domain A / B
      attr_b='Blond_Hair',
      num_examples=2000,         # synthetic_faces: training faces per domain
      num_test_examples=200,     # synthetic_faces: held-out faces per domain
      seed=0,                    # synthetic_faces: drawing seed
      load_size=286,             # training: resize to load_size, random crop_size crop, flip
      crop_size=256,             # the model's resolution (test images are resized to it)
  ))
  c.model = ml_collections.ConfigDict(dict(
      ngf=64, n_blocks=9,        # ResnetGenerator: resnet_9blocks
      ndf=64, n_layers_d=3,      # 70x70 PatchGAN
      # Convolution lowering (speed only; same parameters, see layers.conv2d): 'auto' = lax.conv
      # ('xla'). Or name one: xla | im2col | hybrid.
      g_conv_impl='auto', d_conv_impl='auto'))
  c.loss = ml_collections.ConfigDict(dict(lambda_cyc=10.0, lambda_id=0.5))
  c.optim = ml_collections.ConfigDict(dict(
      lr=2e-4, b1=0.5, b2=0.999,
      decay_steps=100 * HORSE2ZEBRA_EPOCH))   # linear decay to 0 over the last decay_steps
  c.pool_size = 50               # image pool of past fakes per domain (0 = none)
  c.batch_size = 1               # global; a multiple of the number of devices
  c.num_steps = 200 * HORSE2ZEBRA_EPOCH
  c.log_every = 100
  c.sample_every = 2000
  c.ckpt_every = 10_000
  c.max_to_keep = 3
  c.num_sample_images = 4        # per domain: rows of the sample grid (from the test split)
  c.data_threads = 4
  c.tensorboard = True
  c.translate = common.translate_block(tile_margin=84)   # G's radius: 82 px (resnet_9blocks)
  c.eval = ml_collections.ConfigDict(dict(
      num_images=1000,           # per test set (at most its size)
      extractor='',              # features for FID/KID: inception_v3 | classifier:WORKDIR;
                                 # '' = inception_v3 if its weights are here, else none
      inception_weights='',      # pt_inception-2015-12-05-6726825d.pth or converted .npz
      resize='clean',            # clean (antialiased, float) | legacy_pytorch
      batch_size=16,
      kid_subset_size=100,       # test sets are small (horse2zebra: 120 / 140 images)
      cache_dir='',              # reference statistics cache ('' = ~/.cache/gan_jax/...)
  ))

  if arg == 'horse2zebra':
    # ../shared/data/horse2zebra (356 horses, 400 zebras; 60 / 70 test) at 64 px with narrower
    # nets for 2 CPU cores: ~0.55 s/step measured on loaded cores, 2000 steps in ~18 min.
    c.data.update(name='domain_folders', path='../shared/data/horse2zebra', load_size=72,
                  crop_size=64)
    c.model.update(ngf=32, n_blocks=6, ndf=32)
    _steps(c, num_steps=2000, decay_steps=1000)
  elif arg == 'monet2photo':
    # ../shared/data/monet2photo: monet/ (250) and photo/ (800), no test folders: the last 25
    # of each (by file name) are held out. Same CPU size as :horse2zebra.
    c.data.update(name='domain_folders', path='../shared/data/monet2photo', domain_a='monet',
                  domain_b='photo', test_a='', test_b='', test_size=25, load_size=72,
                  crop_size=64)
    c.model.update(ngf=32, n_blocks=6, ndf=32)
    _steps(c, num_steps=2000, decay_steps=1000)
  elif arg == 'synthetic':
    # Embedded faces, A = black hair, B = blond hair, at 32 px: no files, no network.
    # ~0.33 s/step measured on loaded cores: 3000 steps in ~17 min.
    c.data.update(name='synthetic_faces', load_size=36, crop_size=32)
    c.model.update(ngf=32, n_blocks=6, ndf=32)
    _steps(c, num_steps=3000, decay_steps=1500)
  elif arg == 'smoke':
    c.data.update(name='synthetic_faces', num_examples=32, num_test_examples=8, load_size=36,
                  crop_size=32)
    c.model.update(ngf=4, n_blocks=1, ndf=4)
    c.pool_size = 4
    common.set_smoke_loop(c, num_sample_images=2)
    c.optim.decay_steps = 2
    c.eval.update(num_images=8, batch_size=8, kid_subset_size=8)
  elif arg:
    raise ValueError(f'unknown variant {arg!r} of configs/cyclegan.py: use horse2zebra, '
                     f'monet2photo, synthetic, smoke or none')
  return c


def _steps(c: ml_collections.ConfigDict, num_steps: int, decay_steps: int) -> None:
  c.num_steps = num_steps
  c.optim.decay_steps = decay_steps
  c.log_every = 50
  c.sample_every = 500
  c.ckpt_every = 500
  c.eval.batch_size = 32
