"""AdaIN fast arbitrary style transfer (Huang & Belongie 2017): a decoder trained against a frozen
feature network (VGG19 up to relu4_1, or its random-weight fallback, see gan_jax/style).

  python main.py --config=configs/adain.py --workdir=DIR \
      --config.data.content_path=/data/coco/train2014 --config.data.style_path=/data/wikiart
  python main.py --config=configs/adain.py:monet2photo --workdir=DIR      # local, CPU-sized
  python main.py --config=configs/adain.py:monet2photo --workdir=DIR --mode=stylize \
      --content=photo.jpg --style=a.jpg,b.jpg --style_weights=0.5,0.5 --output=out/ \
      [--config.stylize.alpha=0.6 --config.stylize.color=luminance --config.stylize.tile=512]
"""

import ml_collections

from configs import common


def get_config(arg: str = '') -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.trainer = 'adain'
  c.seed = 0
  c.features = ml_collections.ConfigDict(dict(
      network='auto',            # auto (vgg19 if its weights are here, else random_multiscale) |
                                 # vgg19 | random_multiscale | vgg19_random
      weights=''))               # a VGG19 weight file; '' = $GAN_JAX_VGG19_WEIGHTS / the caches
  c.data = ml_collections.ConfigDict(dict(
      content_path='',           # folder of content images (paper: MS-COCO train2014)
      style_path='',             # folder of style images (paper: WikiArt)
      load_size=512,             # images resized to load_size x load_size, then
      crop_size=256,             # random crop_size crops (the paper's 512 -> 256)
      test_size=100,             # the last test_size files of each folder are held out
  ))
  c.model = ml_collections.ConfigDict(dict(width=1.0))   # decoder width multiplier
  c.loss = ml_collections.ConfigDict(dict(style_weight=10.0))
  c.optim = ml_collections.ConfigDict(dict(lr=1e-4, lr_decay=5e-5))   # lr / (1 + decay * step)
  c.batch_size = 8
  c.num_steps = 160_000
  c.log_every = 50
  c.sample_every = 1000
  c.eval_every = 10_000
  c.ckpt_every = 5000
  c.max_to_keep = 3
  c.num_sample_images = 8
  c.data_threads = 4
  c.tensorboard = True
  c.eval = ml_collections.ConfigDict(dict(batch_size=8))
  c.stylize = ml_collections.ConfigDict(dict(
      alpha=1.0,                 # strength: 0 = the content reconstructed, 1 = full style
      color='none',              # none | luminance | histogram (keep the content's colours)
      size=512,                  # longer side of the content in px (0 = its own size)
      style_size=512,            # longer side of each style image
      tile=0,                    # > 0: tiled inference with tiles of this many px (any size)
      tile_overlap=64,
      tile_margin=64,
  ))
  if arg == 'monet2photo':
    c.data.update(content_path='../shared/data/monet2photo/photo',
                  style_path='../shared/data/monet2photo/monet',
                  load_size=80, crop_size=64, test_size=50)
    c.model.width = 0.25
    c.batch_size = 8
    c.num_steps = 3000
    c.optim.lr = 5e-4
    c.sample_every = 500
    c.eval_every = 1000
    c.ckpt_every = 500
    c.stylize.update(size=256, style_size=256)
  elif arg == 'smoke':
    c.features.network = 'random_multiscale'
    c.data.update(load_size=20, crop_size=16, test_size=2)
    c.model.width = 0.05
    common.set_smoke_loop(c, num_steps=2, num_sample_images=2)
    c.ckpt_every = 2
    c.eval_every = 2
    c.eval.batch_size = 2
    c.tensorboard = False
    c.stylize.update(size=32, style_size=32)
  elif arg:
    raise ValueError(f'unknown variant {arg!r}; known: monet2photo, smoke')
  return c
