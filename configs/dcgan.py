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

Fine-tuning a trained GAN on new data: --config.finetune.init_from=PRETRAINED_WORKDIR (or G.npz)
--config.finetune.method=full|freezed|modulation|lora, see configs/stylegan.py (for DCGAN,
'modulation' trains the batch-norm scales and biases of G).
"""

import ml_collections

from configs import common

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
  c.ema_rampup = 0.0             # > 0: EMA half-life <= ema_rampup x steps so far (ADA: 0.05)
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
  # Fine-tuning a trained GAN on this config's data (gan_jax.finetune): off while init_from=''.
  c.finetune = ml_collections.ConfigDict(dict(
      init_from='',          # a GAN workdir (G, D) or a generator .npz from --mode=export (G)
      method='full',         # full | freezed (FreezeD) | modulation | lora
      freeze_d_layers=0,     # D's first N blocks from the image side stay frozen
      lora_rank=4, lora_alpha=1.0))
  # Content editing with the trained G (--mode=directions, --mode=edit; trainers/gan_editing).
  c.edit = ml_collections.ConfigDict(dict(
      judge='',                  # classifier workdir (configs/classifier.py) that labels images
      directions='',             # directions file ('' = WORKDIR/edits/directions.npz)
      seed=0,
      num_samples=4000,          # latents sampled to find directions (InterFaceGAN, GANSpace)
      label_noise_draws=4,       # StyleGAN: the judge's logits averaged over this many noise
                                 # maps per latent (the labels of the directions and the guided
                                 # edits' latent classifier: what w determines)
      fraction=0.25,             # InterFaceGAN: most confident fraction per side used in the fit
      conditional=True,          # also save each attribute conditioned on all the others
      layers='',                 # 'START,STOP': w+ layers the directions act on ('' = all)
      sefa_num=5, ganspace_num=5,
      truncation_psi=1.0,
      num_eval=500,              # fresh samples on which every direction's edits are judged
      eval_strengths=(0.5, 1.0, 1.5, 2.0, 3.0, 4.0),   # in std of the latents along it
      sweep=(-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0),    # columns of the report's grids
      num_grid=6,
      num_seeds=4,               # --mode=edit without --input: images drawn from `seed`
      sweep_columns=5,           # --mode=edit: strength 0 .. the asked strength
      invert_space='w+',         # w | w+ (StyleGAN; DCGAN inverts z)
      invert_steps=500, invert_lr=0.05,
      invert_noise=False,        # StyleGAN: also optimise the noise maps (last stage; projector)
      pti_steps=0,               # > 0: then fine-tune G to the inverted images (pivotal tuning,
      pti_lr=3e-4,               # Roich et al.; PTI uses 350 steps), with its locality
      pti_locality=0.0,          # regulariser at this weight (0 = off)
      encoder='',                # encoder workdir (configs/encoder.py): invert from E(x) in w+;
                                 # with invert_steps=0 E(x) is the inversion
      mask_from_resolution=8,    # masked edits blend features from this resolution on
      method='linear',           # --mode=edit: linear (named directions, strengths in std) |
                                 # guided (per-sample edits by the latent classifier that keep
                                 # the other attributes; strengths = target logits) |
                                 # judged (StyleGAN: guided through the judge's own logits of
                                 # G's images; judge them with another classifier)
      eval_judge='',             # a second classifier workdir that judges the edits of
                                 # --mode=directions ('' = judge, which also labels)
      latent_classifier='',      # guided edits' model ('' = WORKDIR/edits/latent_classifier.npz)
      guided=dict(               # gan_jax.editing.guided (fitted and judged by --mode=directions)
          num_samples=10000,     # latents labelled by the judge to fit the latent classifier
          hidden=256, depth=2, fit_steps=3000,
          steps=100, lr=0.05,    # Adam steps on each latent's offset
          keep_weight=10.0, distance_weight=0.01,
          strengths=(1.0, 2.0, 3.0, 4.0, 6.0))))   # judged target logits

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
    c.data.update(**common.smoke_faces())
    c.model.update(latent_dim=8, g_dim=4, d_dim=4)
    common.set_smoke_loop(c)
    c.eval.update(num_images=32, batch_size=16, kid_subset_size=16)
  elif arg:
    raise ValueError(f'unknown variant {arg!r} of configs/dcgan.py: use cifar10, mnist, celeba64, '
                     'synthetic, smoke or none')
  return c
