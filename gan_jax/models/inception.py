"""The FID Inception-v3: the 2015-12-05 TensorFlow graph that the FID reference implementations use.

Same architecture as pytorch-fid's `fid_inception_v3()` (and clean-fid's port): torchvision's
Inception-v3 with 1008 classes, no auxiliary head, average pools that do not count padding
(TensorFlow semantics) and a max pool in the last block's pooling branch. Module names follow
the PyTorch state dict (`Mixed_5b/branch1x1/conv`, ...) so `inception_params_from_torch` maps
`pt_inception-2015-12-05-6726825d.pth` one to one.

Input: images [B, H, W, 3] in [-1, 1] already resized (usually to 299x299, see
`metrics.features`). Output: {'pool': [B, 2048] features after global average pooling (the FID
features), 'logits': [B, 1008] (Inception Score)}.
"""

from __future__ import annotations

from typing import Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

FEATURE_DIM = 2048
NUM_CLASSES = 1008


class BasicConv2d(nn.Module):
  """conv (no bias) + BatchNorm(eps 1e-3, running statistics) + ReLU."""
  features: int
  kernel: tuple[int, int]
  stride: int = 1
  padding: tuple[int, int] = (0, 0)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = nn.Conv(self.features, self.kernel, strides=(self.stride, self.stride),
                padding=((self.padding[0],) * 2, (self.padding[1],) * 2), use_bias=False,
                name='conv')(x)
    x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name='bn')(x)
    return nn.relu(x)


def _avg_pool_3x3_same(x: jax.Array) -> jax.Array:
  """3x3 stride-1 average pool that averages only real pixels (TensorFlow's SAME pooling)."""
  return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3(x: jax.Array, stride: int, padding: int = 0) -> jax.Array:
  return nn.max_pool(x, (3, 3), strides=(stride, stride), padding=((padding, padding),) * 2)


class InceptionA(nn.Module):
  pool_features: int

  @nn.compact
  def __call__(self, x):
    b1 = BasicConv2d(64, (1, 1), name='branch1x1')(x)
    b5 = BasicConv2d(48, (1, 1), name='branch5x5_1')(x)
    b5 = BasicConv2d(64, (5, 5), padding=(2, 2), name='branch5x5_2')(b5)
    b3 = BasicConv2d(64, (1, 1), name='branch3x3dbl_1')(x)
    b3 = BasicConv2d(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(b3)
    b3 = BasicConv2d(96, (3, 3), padding=(1, 1), name='branch3x3dbl_3')(b3)
    bp = BasicConv2d(self.pool_features, (1, 1), name='branch_pool')(_avg_pool_3x3_same(x))
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
  @nn.compact
  def __call__(self, x):
    b3 = BasicConv2d(384, (3, 3), stride=2, name='branch3x3')(x)
    bd = BasicConv2d(64, (1, 1), name='branch3x3dbl_1')(x)
    bd = BasicConv2d(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(bd)
    bd = BasicConv2d(96, (3, 3), stride=2, name='branch3x3dbl_3')(bd)
    return jnp.concatenate([b3, bd, _max_pool_3x3(x, 2)], axis=-1)


class InceptionC(nn.Module):
  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c7 = self.channels_7x7
    b1 = BasicConv2d(192, (1, 1), name='branch1x1')(x)
    b7 = BasicConv2d(c7, (1, 1), name='branch7x7_1')(x)
    b7 = BasicConv2d(c7, (1, 7), padding=(0, 3), name='branch7x7_2')(b7)
    b7 = BasicConv2d(192, (7, 1), padding=(3, 0), name='branch7x7_3')(b7)
    bd = BasicConv2d(c7, (1, 1), name='branch7x7dbl_1')(x)
    bd = BasicConv2d(c7, (7, 1), padding=(3, 0), name='branch7x7dbl_2')(bd)
    bd = BasicConv2d(c7, (1, 7), padding=(0, 3), name='branch7x7dbl_3')(bd)
    bd = BasicConv2d(c7, (7, 1), padding=(3, 0), name='branch7x7dbl_4')(bd)
    bd = BasicConv2d(192, (1, 7), padding=(0, 3), name='branch7x7dbl_5')(bd)
    bp = BasicConv2d(192, (1, 1), name='branch_pool')(_avg_pool_3x3_same(x))
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
  @nn.compact
  def __call__(self, x):
    b3 = BasicConv2d(192, (1, 1), name='branch3x3_1')(x)
    b3 = BasicConv2d(320, (3, 3), stride=2, name='branch3x3_2')(b3)
    b7 = BasicConv2d(192, (1, 1), name='branch7x7x3_1')(x)
    b7 = BasicConv2d(192, (1, 7), padding=(0, 3), name='branch7x7x3_2')(b7)
    b7 = BasicConv2d(192, (7, 1), padding=(3, 0), name='branch7x7x3_3')(b7)
    b7 = BasicConv2d(192, (3, 3), stride=2, name='branch7x7x3_4')(b7)
    return jnp.concatenate([b3, b7, _max_pool_3x3(x, 2)], axis=-1)


class InceptionE(nn.Module):
  max_pool_branch: bool = False   # the FID graph's last block pools with max, not average

  @nn.compact
  def __call__(self, x):
    b1 = BasicConv2d(320, (1, 1), name='branch1x1')(x)
    b3 = BasicConv2d(384, (1, 1), name='branch3x3_1')(x)
    b3 = jnp.concatenate([BasicConv2d(384, (1, 3), padding=(0, 1), name='branch3x3_2a')(b3),
                          BasicConv2d(384, (3, 1), padding=(1, 0), name='branch3x3_2b')(b3)], -1)
    bd = BasicConv2d(448, (1, 1), name='branch3x3dbl_1')(x)
    bd = BasicConv2d(384, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(bd)
    bd = jnp.concatenate([BasicConv2d(384, (1, 3), padding=(0, 1), name='branch3x3dbl_3a')(bd),
                          BasicConv2d(384, (3, 1), padding=(1, 0), name='branch3x3dbl_3b')(bd)],
                         -1)
    pooled = _max_pool_3x3(x, 1, padding=1) if self.max_pool_branch else _avg_pool_3x3_same(x)
    bp = BasicConv2d(192, (1, 1), name='branch_pool')(pooled)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
  """[B, H, W, 3] in [-1, 1] (H, W >= 75) -> {'pool': [B, 2048], 'logits': [B, 1008]}."""

  @nn.compact
  def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
    x = BasicConv2d(32, (3, 3), stride=2, name='Conv2d_1a_3x3')(x)
    x = BasicConv2d(32, (3, 3), name='Conv2d_2a_3x3')(x)
    x = BasicConv2d(64, (3, 3), padding=(1, 1), name='Conv2d_2b_3x3')(x)
    x = _max_pool_3x3(x, 2)
    x = BasicConv2d(80, (1, 1), name='Conv2d_3b_1x1')(x)
    x = BasicConv2d(192, (3, 3), name='Conv2d_4a_3x3')(x)
    x = _max_pool_3x3(x, 2)
    x = InceptionA(32, name='Mixed_5b')(x)
    x = InceptionA(64, name='Mixed_5c')(x)
    x = InceptionA(64, name='Mixed_5d')(x)
    x = InceptionB(name='Mixed_6a')(x)
    x = InceptionC(128, name='Mixed_6b')(x)
    x = InceptionC(160, name='Mixed_6c')(x)
    x = InceptionC(160, name='Mixed_6d')(x)
    x = InceptionC(192, name='Mixed_6e')(x)
    x = InceptionD(name='Mixed_7a')(x)
    x = InceptionE(name='Mixed_7b')(x)
    x = InceptionE(max_pool_branch=True, name='Mixed_7c')(x)
    pool = jnp.mean(x, axis=(1, 2))
    logits = nn.Dense(NUM_CLASSES, name='fc')(pool)
    return {'pool': pool, 'logits': logits}


def inception_variables_from_torch(state_dict: Mapping[str, np.ndarray]) -> dict:
  """pytorch-fid's state dict (name -> array, PyTorch layouts) -> Flax variables
  {'params': ..., 'batch_stats': ...} of FIDInceptionV3. Raises ValueError listing missing or
  unexpected names, or shapes that differ from the architecture."""
  params: dict = {}
  stats: dict = {}

  def put(tree, path, value):
    for key in path[:-1]:
      tree = tree.setdefault(key, {})
    tree[path[-1]] = np.asarray(value, np.float32)

  unexpected = []
  for name, value in state_dict.items():
    parts = name.split('.')
    if parts[-1] == 'num_batches_tracked':
      continue
    *path, leaf = parts
    if path == ['fc']:
      put(params, ['fc', 'kernel' if leaf == 'weight' else 'bias'],
          np.transpose(value) if leaf == 'weight' else value)
    elif path and path[-1] == 'conv' and leaf == 'weight':
      put(params, path + ['kernel'], np.transpose(value, (2, 3, 1, 0)))   # OIHW -> HWIO
    elif path and path[-1] == 'bn' and leaf in ('weight', 'bias'):
      put(params, path + ['scale' if leaf == 'weight' else 'bias'], value)
    elif path and path[-1] == 'bn' and leaf in ('running_mean', 'running_var'):
      put(stats, path + ['mean' if leaf == 'running_mean' else 'var'], value)
    else:
      unexpected.append(name)
  variables = {'params': params, 'batch_stats': stats}
  expected = jax.eval_shape(lambda: FIDInceptionV3().init(jax.random.key(0),
                                                          jnp.zeros((1, 299, 299, 3))))
  _check_tree_matches(expected, variables, unexpected)
  return variables


def _check_tree_matches(expected, got, unexpected) -> None:
  flat_expected = {jax.tree_util.keystr(k): v.shape
                   for k, v in jax.tree_util.tree_leaves_with_path(expected)}
  flat_got = {jax.tree_util.keystr(k): v.shape for k, v in jax.tree_util.tree_leaves_with_path(got)}
  missing = sorted(set(flat_expected) - set(flat_got))
  extra = sorted(set(flat_got) - set(flat_expected)) + sorted(unexpected)
  wrong = sorted(k for k in set(flat_expected) & set(flat_got) if flat_expected[k] != flat_got[k])
  if missing or extra or wrong:
    raise ValueError(
        'the weight file is not the FID Inception-v3 (pt_inception-2015-12-05): '
        f'{len(missing)} missing (first: {missing[:3]}), {len(extra)} unexpected '
        f'(first: {extra[:3]}), {len(wrong)} with other shapes (first: '
        f'{[(k, flat_got[k], flat_expected[k]) for k in wrong[:3]]})')


def random_torch_state(seed: int = 0) -> dict[str, np.ndarray]:
  """Random weights in pytorch-fid's names and PyTorch layouts (tests and speed benchmarks: the
  real weights are never downloaded here). Convolutions are He-scaled so activations stay finite.
  """
  rng = np.random.default_rng(seed)
  shapes = jax.eval_shape(lambda: FIDInceptionV3().init(jax.random.key(0),
                                                        jnp.zeros((1, 299, 299, 3))))
  state: dict[str, np.ndarray] = {}
  for path, leaf in jax.tree_util.tree_leaves_with_path(shapes['params']):
    names = [k.key for k in path]
    base = '.'.join(names[:-1])
    if names == ['fc', 'kernel']:
      state['fc.weight'] = rng.normal(0, 0.01, leaf.shape[::-1]).astype(np.float32)
    elif names[-1] == 'kernel':
      kh, kw, cin, cout = leaf.shape
      state[f'{base}.weight'] = rng.normal(0, (kh * kw * cin) ** -0.5,
                                           (cout, cin, kh, kw)).astype(np.float32)
    elif names[-1] == 'scale':
      state[f'{base}.weight'] = rng.uniform(0.5, 1.5, leaf.shape).astype(np.float32)
    else:
      state[f'{base}.bias'] = rng.normal(0, 0.1, leaf.shape).astype(np.float32)
  for path, leaf in jax.tree_util.tree_leaves_with_path(shapes['batch_stats']):
    base = '.'.join(k.key for k in path[:-1])
    if path[-1].key == 'mean':
      state[f'{base}.running_mean'] = rng.normal(0, 0.1, leaf.shape).astype(np.float32)
    else:
      state[f'{base}.running_var'] = rng.uniform(0.5, 1.5, leaf.shape).astype(np.float32)
      state[f'{base}.num_batches_tracked'] = np.asarray(0, np.int64)
  return state
