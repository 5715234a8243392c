"""Attribute classifier on the StarGAN data: the independent judge of translations.

  python main.py --config=configs/classifier.py:synthetic --workdir=DIR
  python main.py --config=configs/classifier.py:celeba64 --workdir=DIR
"""

import ml_collections

from configs import stargan


CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse',
                   'ship', 'truck')


def get_config(arg: str = '') -> ml_collections.ConfigDict:
  variant = arg
  data_config = stargan.get_config('' if variant == 'cifar10' else variant).data
  c = ml_collections.ConfigDict()
  c.trainer = 'classifier'
  c.seed = 1                      # not StarGAN's seed: an independent network
  c.data = data_config
  c.data.attrs = ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young')
  c.model = ml_collections.ConfigDict(dict(widths=(32, 64, 128, 256)))
  c.loss = 'bce'                  # bce: independent attributes | softmax: one class per image
  c.optim = ml_collections.ConfigDict(dict(lr=1e-3, weight_decay=1e-4, warmup_steps=100))
  c.batch_size = 64
  c.num_steps = 20_000
  c.log_every = 50
  c.eval_every = 2000
  c.eval_examples = 2000          # test-split examples for accuracy (0 = all)
  c.sample_every = 10 ** 9        # no sample grids
  c.ckpt_every = 2000
  c.max_to_keep = 2
  c.data_threads = 4
  c.tensorboard = True

  if variant == 'synthetic':
    c.data.attrs = ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young', 'Eyeglasses',
                    'Smiling')
    c.num_steps = 4000           # Young and Smiling are subtle at 32 px: they need the steps
    c.eval_every = 1000
    c.ckpt_every = 1000
  elif variant == 'celeba64':
    c.batch_size = 32
    c.num_steps = 2500
    c.eval_every = 500
    c.eval_examples = 1000
    c.ckpt_every = 500
  elif variant == 'cifar10':
    # CIFAR-10 classes from ../shared/data/cifar10 (test/ class folders, train.zip): the
    # feature extractor for FID/KID on CIFAR-10 generators ("classifier:WORKDIR").
    c.data = ml_collections.ConfigDict(dict(name='class_folders', path='../shared/data/cifar10',
                                            image_size=32, attrs=CIFAR10_CLASSES))
    c.loss = 'softmax'
    c.batch_size = 128
    c.num_steps = 2500             # ~6.4 epochs
    c.eval_every = 500
    c.eval_examples = 0            # the whole 10,000-image test split
    c.ckpt_every = 500
  elif variant == 'smoke':
    c.model.widths = (4, 8)
    c.batch_size = 8
    c.num_steps = 3
    c.log_every = 1
    c.eval_every = 3
    c.eval_examples = 16
    c.ckpt_every = 3
  elif variant:
    raise ValueError(f'unknown variant {variant!r} of configs/classifier.py: use synthetic, '
                     f'celeba64, cifar10, smoke or none')
  return c
