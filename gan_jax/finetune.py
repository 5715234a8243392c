"""Fine-tuning a trained unconditional GAN on a new (small) dataset: which weights train.

Settings, config.finetune (configs/dcgan.py; configs/stylegan.py inherits them):
  init_from        '' = off. A GAN workdir: G, D and their collections from its latest
                   checkpoint. A generator .npz written by --mode=export: G only, D starts
                   fresh. G and its EMA both start from the pretrained EMA generator (what
                   --mode=export writes), so a workdir and its export start G identically.
  method           what of G trains:
                     full        every weight;
                     freezed     every weight, with FreezeD (Mo et al. 2020) in D, i.e.
                                 freeze_d_layers >= 1 is required;
                     modulation  StyleGAN: the style affines, toRGB biases and noise strengths
                                 (`is_modulation_param`); DCGAN: the batch-norm scales and
                                 biases (batch-statistics adaptation, Noguchi & Harada 2019);
                     lora        none of G's weights; instead low-rank adapters on every conv
                                 kernel (`init_adapters`, `merge_adapters`).
  freeze_d_layers  D's first N blocks from the image side stay frozen (`d_blocks`), with every
                   method.
  lora_rank, lora_alpha  adapter rank r and scale: kernel K is used as
                   K + (alpha / r) * reshape(A @ B).

Frozen weights get exactly zero updates (optax.multi_transform with optax.set_to_zero: no Adam
state is kept for them) and G's EMA leaves them alone, so they stay bit-identical to the
pretrained values. Non-trained collections (batch-norm statistics, StyleGAN's w average,
spectral-norm vectors) keep updating as in training. With LoRA the state's G params are
{'base': the frozen G params, 'lora': the adapters}; `merge_adapters` turns them into the
generator's own params right before every apply, so no model module changes.

Everything here is pure (no IO): the trainer loads the weights and writes finetune.json.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import traverse_util

from gan_jax import errors
from gan_jax.models import dcgan
from gan_jax.models import stylegan

METHODS = ('full', 'freezed', 'modulation', 'lora')
MaskFn = Callable[[Any], Any]   # params -> the same tree of Python bools (True = trained)


def active(ft: ml_collections.ConfigDict) -> bool:
  """True when config.finetune changes anything (otherwise training is exactly the usual)."""
  return bool(ft.init_from) or ft.method != 'full' or ft.freeze_d_layers > 0


def d_blocks(model_name: str, image_size: int) -> list[tuple[str, ...]]:
  """D's blocks from the image side, each as the names of its top-level modules.

  StyleGAN: block i = the residual block at resolution image_size / 2^i (b<r>_skip, _conv0,
  _conv1), fromrgb belonging to the first, as in StyleGAN2-ADA's --freezed; the 4x4 epilogue
  (b4_conv, b4_fc, out) is never frozen. DCGAN: block i = the i-th stride-2 conv (Conv2d_i, or
  Conv_i under spectral norm) and the norm after it (BatchNorm_/LayerNorm_<i-1>); the final
  4x4 'logit' conv is never frozen.
  """
  if model_name == 'stylegan':
    sizes = stylegan.resolutions(image_size)[:0:-1]        # [S, S/2, ..., 8]
    blocks = [(f'b{r}_skip', f'b{r}_conv0', f'b{r}_conv1') for r in sizes]
    return [('fromrgb',) + blocks[0]] + blocks[1:]
  return [(f'Conv2d_{i}', f'Conv_{i}') + ((f'BatchNorm_{i - 1}', f'LayerNorm_{i - 1}') if i else ())
          for i in range(dcgan.num_up_blocks(image_size))]


def validate(config: ml_collections.ConfigDict) -> None:
  """ConfigError for config.finetune settings that cannot work (model settings checked first)."""
  ft = config.finetune
  if ft.method not in METHODS:
    raise errors.ConfigError(f'config.finetune.method={ft.method!r}: choose one of {METHODS}')
  num_blocks = len(d_blocks(config.model.name, config.data.image_size))
  if not 0 <= ft.freeze_d_layers <= num_blocks:
    raise errors.ConfigError(
        f'config.finetune.freeze_d_layers={ft.freeze_d_layers}: this D has {num_blocks} blocks '
        f'below its output layers; choose 0..{num_blocks}.')
  if ft.method == 'freezed' and ft.freeze_d_layers < 1:
    raise errors.ConfigError(
        "config.finetune.method='freezed' (FreezeD) keeps D's first blocks frozen: set "
        f'config.finetune.freeze_d_layers to 1..{num_blocks}.')
  if ft.method == 'lora' and ft.lora_rank < 1:
    raise errors.ConfigError(f'config.finetune.lora_rank={ft.lora_rank} must be >= 1')
  if (ft.method != 'full' or ft.freeze_d_layers > 0) and not ft.init_from:
    raise errors.ConfigError(
        f'config.finetune.method={ft.method!r} / freeze_d_layers={ft.freeze_d_layers} keep '
        'pretrained weights frozen: set config.finetune.init_from to a trained GAN workdir or '
        'to a generator .npz written by --mode=export.')


def _name(path: tuple[str, ...]) -> str:
  return '/'.join(path)


def is_modulation_param(model_name: str, path: tuple[str, ...]) -> bool:
  """Whether method 'modulation' trains G's param at `path` (module names, then param name).

  StyleGAN: the param lies under a module named 'affine' (the style affine of every
  ModulatedConv, conv and toRGB layers alike), or is a layer's 'noise_strength', or a toRGB
  bias '<block>_torgb_bias'. Everything else (mapping network, const, conv kernels, conv
  biases) is frozen. DCGAN: the param lies under a 'BatchNorm_<i>' module (scale and bias).
  """
  if model_name == 'stylegan':
    return ('affine' in path[:-1] or path[-1] == 'noise_strength' or
            path[-1].endswith('_torgb_bias'))
  return path[0].startswith('BatchNorm_')


def g_trainable(params: Any, model_name: str, method: str) -> Any:
  """The tree of params with True where `method` trains G's param (LoRA: params is
  {'base', 'lora'} and only the adapters train)."""
  if method == 'lora':
    return traverse_util.path_aware_map(lambda path, _: path[0] == 'lora', params)
  if method == 'modulation':
    return traverse_util.path_aware_map(lambda path, _: is_modulation_param(model_name, path),
                                        params)
  return jax.tree.map(lambda _: True, params)


def d_trainable(params: Any, frozen_modules: tuple[str, ...]) -> Any:
  """The tree of D's params with False under the top-level modules `frozen_modules`."""
  found = {path[0] for path in traverse_util.flatten_dict(params)}
  if not found & set(frozen_modules):
    raise AssertionError(f'none of the frozen D modules {frozen_modules} is in D {sorted(found)}')
  return traverse_util.path_aware_map(lambda path, _: path[0] not in frozen_modules, params)


def mask_fns(config: ml_collections.ConfigDict) -> tuple[MaskFn | None, MaskFn | None]:
  """(G's, D's) params -> trainable-mask functions; None for a network trained in full."""
  ft, name = config.finetune, config.model.name
  g_fn = (functools.partial(g_trainable, model_name=name, method=ft.method)
          if ft.method in ('modulation', 'lora') else None)
  d_fn = None
  if ft.freeze_d_layers > 0:
    frozen = sum(d_blocks(name, config.data.image_size)[:ft.freeze_d_layers], ())
    d_fn = functools.partial(d_trainable, frozen_modules=frozen)
  return g_fn, d_fn


def freeze(tx: optax.GradientTransformation,
           mask_fn: MaskFn | None) -> optax.GradientTransformation:
  """tx on the trained params, exactly zero updates (and no state) for the frozen ones."""
  if mask_fn is None:
    return tx
  labels = lambda params: jax.tree.map(lambda t: 'trained' if t else 'frozen', mask_fn(params))
  return optax.multi_transform({'trained': tx, 'frozen': optax.set_to_zero()}, labels)


def _is_conv_kernel(path: tuple[str, ...], value) -> bool:
  return path[-1] == 'kernel' and len(value.shape) == 4


def init_adapters(key: jax.Array, params: Any, rank: int) -> Any:
  """LoRA adapters for every conv kernel [k, k, Cin, Cout] of `params` (G's: StyleGAN's
  modulated convs and toRGBs, DCGAN's up-convolutions): at the kernel's path, {'a':
  [k*k*Cin, rank] ~ N(0, 1/rank), 'b': [rank, Cout] zeros}, so that the merged kernel starts
  equal to the pretrained one."""
  adapters = {}
  kernels = sorted(((p, v) for p, v in traverse_util.flatten_dict(params).items()
                    if _is_conv_kernel(p, v)), key=lambda item: item[0])
  if not kernels:
    raise AssertionError('LoRA found no conv kernel [k, k, Cin, Cout] in the generator')
  for i, (path, kernel) in enumerate(kernels):
    fan_in = math.prod(kernel.shape[:-1])
    adapters[path + ('a',)] = (jax.random.normal(jax.random.fold_in(key, i), (fan_in, rank),
                                                 kernel.dtype) / math.sqrt(rank))
    adapters[path + ('b',)] = jnp.zeros((rank, kernel.shape[-1]), kernel.dtype)
  return traverse_util.unflatten_dict(adapters)


def merge_adapters(params: Any, alpha: float) -> Any:
  """{'base': G params, 'lora': adapters} -> G params, each adapted kernel K [k, k, Cin, Cout]
  replaced by K + (alpha / rank) * reshape(A @ B). The base is constant (stop_gradient)."""
  base = jax.lax.stop_gradient(params['base'])
  adapters = traverse_util.flatten_dict(params['lora'])

  def merged(path, kernel):
    if path + ('a',) not in adapters:
      return kernel
    a, b = adapters[path + ('a',)], adapters[path + ('b',)]
    return kernel + (alpha / a.shape[1]) * (a @ b).reshape(kernel.shape)
  return traverse_util.path_aware_map(merged, base)


def generator_params_fn(ft: ml_collections.ConfigDict) -> Callable[[Any], Any] | None:
  """state's G params -> the generator module's params: LoRA's merge, None (as is) otherwise."""
  return functools.partial(merge_adapters, alpha=ft.lora_alpha) if ft.method == 'lora' else None


def make_start(ft: ml_collections.ConfigDict, pretrained: dict | None):
  """The fine-tuning step of a state's initialisation, or None when there is none:
  (key, g_params, g_stats, d_params, d_stats) of fresh networks -> the same four with
  `pretrained`'s entries ('g_params', 'g_stats' and optionally 'd_params', 'd_stats') swapped
  in and, for LoRA, G's params as {'base': ..., 'lora': adapters}. `pretrained` None (resuming
  or restoring a fine-tune) still builds the LoRA structure."""
  if pretrained is None and ft.method != 'lora':
    return None

  def start(key, g_params, g_stats, d_params, d_stats):
    if pretrained is not None:
      as_like = lambda new, old: jax.tree.map(lambda n, o: jnp.asarray(n, o.dtype), new, old)
      g_params = as_like(pretrained['g_params'], g_params)
      g_stats = as_like(pretrained['g_stats'], g_stats)
      if 'd_params' in pretrained:
        d_params = as_like(pretrained['d_params'], d_params)
        d_stats = as_like(pretrained['d_stats'], d_stats)
    if ft.method == 'lora':
      adapters = init_adapters(jax.random.fold_in(key, 0x10A), g_params, ft.lora_rank)
      g_params = {'base': g_params, 'lora': adapters}
    return g_params, g_stats, d_params, d_stats
  return start


def check_compatible(expected: Any, found: Any, what: str, source: str) -> None:
  """ConfigError naming the first param of `what` (e.g. 'g_params') that the pretrained tree
  `found` lacks, has extra, or holds with another shape than this config's `expected` (arrays
  or ShapeDtypeStructs)."""
  shapes = lambda tree: {_name(p): tuple(v.shape)
                         for p, v in traverse_util.flatten_dict(tree).items()}
  want, got = shapes(expected), shapes(found)
  hint = ('Fine-tune with the architecture of the pretrained run: its config variant and every '
          'config.model.* and config.data.image_size override (a workdir keeps them in '
          'config.json); change only data, loss, optim and finetune settings.')
  if any(n.startswith('lora/') for n in got):
    raise errors.ConfigError(
        f'config.finetune.init_from={source} is itself a LoRA fine-tune: export its merged '
        'generator with --mode=export (and its fine-tune config) and pass that .npz.')
  for name in sorted(set(want) | set(got)):
    if name not in got:
      raise errors.ConfigError(f'config.finetune.init_from={source}: {what} {name} '
                               f'{want[name]} of this config is missing there. {hint}')
    if name not in want:
      raise errors.ConfigError(f'config.finetune.init_from={source}: {what} {name} '
                               f'{got[name]} there is not in this config. {hint}')
    if want[name] != got[name]:
      raise errors.ConfigError(f'config.finetune.init_from={source}: {what} {name} has shape '
                               f'{got[name]} there but {want[name]} in this config. {hint}')


def trainable_counts(params: Any, mask: Any | None = None) -> tuple[int, int]:
  """(trained, total) numbers of parameters; mask: params' tree of bools, None = all trained.
  For LoRA, params is {'base', 'lora'}: the total counts the adapters too."""
  sizes = [math.prod(x.shape) for x in jax.tree.leaves(params)]
  flags = [True] * len(sizes) if mask is None else jax.tree.leaves(mask)
  if len(flags) != len(sizes):
    raise ValueError(f'mask has {len(flags)} leaves, params {len(sizes)}')
  return sum(s for s, t in zip(sizes, flags) if t), sum(sizes)


def trainable_fraction(params: Any, mask: Any | None = None) -> float:
  """Fraction of params' numbers that train (see trainable_counts); 0 for an empty tree."""
  trained, total = trainable_counts(params, mask)
  return trained / total if total else 0.0


def summary(config: ml_collections.ConfigDict, g_params: Any, d_params: Any) -> dict:
  """finetune.json: method, G's trainable_params / total_params / fraction (the state's G
  params, LoRA adapters included) and the same for D (d_*)."""
  ft = config.finetune
  g_fn, d_fn = mask_fns(config)
  g_trained, g_total = trainable_counts(g_params, g_fn(g_params) if g_fn else None)
  d_trained, d_total = trainable_counts(d_params, d_fn(d_params) if d_fn else None)
  record = {'method': ft.method, 'init_from': ft.init_from, 'model': config.model.name,
            'trainable_params': g_trained, 'total_params': g_total,
            'fraction': g_trained / g_total,
            'freeze_d_layers': ft.freeze_d_layers, 'd_trainable_params': d_trained,
            'd_total_params': d_total, 'd_fraction': d_trained / d_total}
  if ft.method == 'lora':
    record.update(lora_rank=ft.lora_rank, lora_alpha=ft.lora_alpha)
  return record
