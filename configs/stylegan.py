"""StyleGAN2-style generator (gan_jax.models.stylegan) with StyleGAN2's training defaults.

  python main.py --config=configs/stylegan.py --workdir=DIR             # tfds celeb_a, 64 px
  python main.py --config=configs/stylegan.py:celeba64 --workdir=DIR    # local CelebA, 64 px
  python main.py --config=configs/stylegan.py:cifar10 --workdir=DIR     # CIFAR-10 folders, 32 px
  python main.py --config=configs/stylegan.py:synthetic --workdir=DIR   # embedded faces, 32 px
  python main.py --config=configs/stylegan.py:synthetic64 --workdir=DIR # embedded faces, 64 px
  python main.py --config=configs/stylegan.py:smoke --workdir=DIR       # tests

Defaults as in StyleGAN2 (Karras et al. 2020, config F scaled to 64 px): non-saturating loss,
lazy R1 (gamma 10 every 16 D steps), no path-length regulariser, Adam lr 0.0025 with
betas (0, 0.99), batch 32, style mixing 0.9, G EMA with a 10k-image half-life, mapping network
of 8 layers with a 100x lower learning rate. --config.ema_rampup=0.05 is StyleGAN2-ADA's EMA
ramp-up (half-life <= 5 % of the images seen), which helps short runs. DiffAugment for small sets:
--config.loss.diffaug=color,translation,cutout.

Fine-tuning a trained generator to a new small dataset (gan_jax.finetune): keep the pretrained
run's variant and model overrides, name its workdir (G and D) or its --mode=export .npz (G only),
and choose what trains:

  python main.py --config=configs/stylegan.py:synthetic --workdir=FT \\
      --config.finetune.init_from=PRETRAINED_WORKDIR --config.finetune.method=lora \\
      --config.data.num_examples=100 --config.loss.diffaug=color,translation,cutout

  --config.finetune.method=full         every weight (the default)
  --config.finetune.method=freezed --config.finetune.freeze_d_layers=2
                                       FreezeD: D's first 2 blocks from the image side frozen
  --config.finetune.method=modulation  only the style affines, toRGB biases, noise strengths
  --config.finetune.method=lora        low-rank adapters on every conv kernel of G
                                       (config.finetune.lora_rank=4, lora_alpha=1.0)

freeze_d_layers works with every method. The trained fraction is logged and written to
FT/finetune.json; rerunning the command resumes from FT's checkpoints; --mode=export with the same
flags writes a plain generator (LoRA adapters merged).
"""

import ml_collections

from configs import common

from configs import dcgan


def get_config(arg: str = '') -> ml_collections.ConfigDict:
  c = dcgan.get_config()          # the same trainer ('gan'), data fields and eval settings
  c.model = ml_collections.ConfigDict(dict(
      name='stylegan', latent_dim=512, w_dim=512, mapping_depth=8,
      channel_base=16384, channel_max=512,   # channels at resolution r: min(base / r, max)
      style_mixing=0.9))
  c.loss.update(adversarial='nonsaturating', r1_gamma=10.0, r1_every=16)
  c.optim.update(g_lr=0.0025, d_lr=0.0025, b1=0.0, b2=0.99)
  c.batch_size = 32
  c.ema_decay = 0.5 ** (32 / 10_000)    # half-life of 10k images at batch 32
  c.num_steps = 200_000
  c.sample_every = 2000
  c.ckpt_every = 5000

  if arg == 'celeba64':
    c.data.update(name='celeba_folder', path='../shared/data/celeba_89x109', test_size=1000)
    c.loss.diffaug = 'color,translation,cutout'     # 8,000 training images
    c.num_steps = 20_000
  elif arg == 'cifar10':
    c.data.update(name='class_folders', path='../shared/data/cifar10', image_size=32, attrs=())
    # StyleGAN2-ADA's CIFAR-10 settings (Karras et al. 2020b, cfg 'cifar'): a 2-layer mapping
    # network, R1 gamma 0.01 (gamma 10 is for 1024 px), batch 64.
    c.model.update(channel_base=4096, channel_max=256, mapping_depth=2)
    c.loss.r1_gamma = 0.01
    c.batch_size = 64
    c.ema_decay = 0.5 ** (64 / 10_000)
    c.num_steps = 50_000
  elif arg in ('synthetic', 'synthetic64'):
    c.data.update(name='synthetic_faces', image_size=32)
    c.model.update(latent_dim=128, w_dim=128, mapping_depth=4, channel_base=2048,
                   channel_max=128)
    c.optim.update(g_lr=0.002, d_lr=0.002)
    c.num_steps = 3000
    c.sample_every = 500
    c.ckpt_every = 500
    if arg == 'synthetic64':
      # 64 px (the inversion size): the same network plus a 64 px block of 32 channels;
      # batch 16 for the CPU (~1 step/s on 2 cores).
      c.data.image_size = 64
      c.batch_size = 16
      c.ema_decay = 0.5 ** (16 / 5_000)     # half-life of 5k images
      c.num_steps = 2400
      c.sample_every = 400
      c.ckpt_every = 400
  elif arg == 'smoke':
    c.data.update(**common.smoke_faces())
    c.model.update(latent_dim=8, w_dim=8, mapping_depth=2, channel_base=64, channel_max=8)
    c.loss.update(r1_every=2)
    common.set_smoke_loop(c)
    c.ema_decay = 0.9
    c.eval.update(num_images=32, batch_size=16, kid_subset_size=16)
  elif arg:
    raise ValueError(f'unknown variant {arg!r} of configs/stylegan.py: use celeba64, cifar10, '
                     'synthetic, synthetic64, smoke or none')
  return c
