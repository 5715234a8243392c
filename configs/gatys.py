"""Gatys et al. (2016) neural style transfer: optimises the image, no training.

  python main.py --config=configs/gatys.py --workdir=out --mode=stylize \
      --content=photo.jpg --style=starry_night.jpg,the_scream.jpg --style_weights=0.7,0.3 \
      --output=out/stylized.png [--config.strength=0.5 --config.color=luminance \
      --config.masks=sky.png,ground.png --config.size=1024]

The feature network is VGG19 when its weights are on the machine (torchvision
vgg19-dcbb9e9d.pth or Keras vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5, see
gan_jax/style/vgg_weights.py) and otherwise multi-scale random filters (Ustyuzhaninov et al. 2017);
the output's stylize.json says which was used.
"""

import ml_collections


def get_config(arg: str = '') -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.trainer = 'gatys'
  c.seed = 0
  c.features = ml_collections.ConfigDict(dict(
      network='auto',            # auto (vgg19 if its weights are here) | vgg19 | random_multiscale
      weights='',                # a VGG19 weight file; '' = $GAN_JAX_VGG19_WEIGHTS / the caches
      pooling='avg',             # VGG19 pooling; Gatys et al. prefer average pooling
  ))
  c.size = 512                   # longer side of the output in px; 0 = the content's own size
  c.content_layers = ''          # comma-separated layer names; '' = the network's defaults
  c.style_layers = ''            # (VGG19: relu4_2 and relu1_1,relu2_1,relu3_1,relu4_1,relu5_1)
  c.content_weight = 1.0         # losses are relative (||F - T||^2 / ||T||^2), see style.losses
  c.style_weight = 1e2
  c.tv_weight = 0.0
  c.strength = 1.0               # multiplies the style term; 0 = the content unchanged
  c.color = 'none'               # none | luminance (keep the content's colours) | histogram
  c.masks = ''                   # one mask image per style (white = that style's region)
  c.style_scale = 1.0            # style image area relative to the output's
  c.optimizer = 'lbfgs'          # lbfgs (optax, zoom line search) | adam
  c.learning_rate = 0.02         # adam only
  c.steps = 200                  # at the output size
  c.coarse_steps = 100           # at each coarser scale
  c.num_scales = 2               # coarse-to-fine sizes, each half the next
  c.init = 'content'             # content | noise
  if arg == 'smoke':
    c.features.network = 'random_multiscale'
    c.size = 32
    c.steps = 4
    c.coarse_steps = 2
  elif arg:
    raise ValueError(f'unknown variant {arg!r}; known: smoke')
  return c
