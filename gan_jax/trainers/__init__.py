"""Trainers by name (`config.trainer`); each maps --mode names to functions
`fn(config, workdir, **options)`."""

from __future__ import annotations

import importlib
from typing import Callable

from gan_jax.errors import ConfigError

TRAINERS = {
    'stargan': 'gan_jax.trainers.stargan',
    'classifier': 'gan_jax.trainers.classifier',
    'encoder': 'gan_jax.trainers.encoder',
    'gan': 'gan_jax.trainers.gan',
    'vae': 'gan_jax.trainers.vae',
    'cyclegan': 'gan_jax.trainers.cyclegan',
    'gatys': 'gan_jax.trainers.gatys',
    'adain': 'gan_jax.trainers.adain',
}


def get_mode(trainer: str, mode: str) -> Callable:
  """The function for (config.trainer, --mode); ValueError listing the valid choices."""
  if trainer not in TRAINERS:
    raise ConfigError(f'unknown config.trainer={trainer!r}; known: {", ".join(sorted(TRAINERS))}')
  modes = importlib.import_module(TRAINERS[trainer]).MODES
  if mode not in modes:
    raise ConfigError(f'trainer {trainer!r} has no --mode={mode}; it has: {", ".join(modes)}')
  return modes[mode]
