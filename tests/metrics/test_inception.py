"""The FID Inception-v3: architecture against published counts, the weight loaders (PyTorch
.pth in both torch.save formats, converted .npz) and the extractor, on random weights."""

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import evaluation
from gan_jax import torch_weights
from gan_jax.metrics import features
from gan_jax.models import inception

import scripts.convert_inception_weights as convert


def _shapes():
  return jax.eval_shape(lambda: inception.FIDInceptionV3().init(
      jax.random.key(0), jnp.zeros((1, 299, 299, 3))))


def test_architecture_matches_published_parameter_counts():
  # torchvision's inception_v3 without the aux head has 23,834,568 parameters at 1000 classes;
  # the FID graph has 1008 classes (+8 x 2049). Keras counts 34,432 BatchNorm moving statistics.
  shapes = _shapes()
  count = lambda tree: sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))
  assert count(shapes['params']) == 23_834_568 + 8 * 2048 + 8
  assert count(shapes['batch_stats']) == 34_432
  convs = [p for p, _ in jax.tree_util.tree_leaves_with_path(shapes['params'])
           if jax.tree_util.keystr(p).endswith("['conv']['kernel']")]
  assert len(convs) == 94                      # Inception-v3's 94 convolutions


def test_average_pool_ignores_padding_like_tensorflow():
  x = jnp.arange(16.0).reshape(1, 4, 4, 1)
  pooled = inception._avg_pool_3x3_same(x)
  assert pooled[0, 0, 0, 0] == pytest.approx(np.mean([0, 1, 4, 5]))        # 4 real pixels
  assert pooled[0, 1, 1, 0] == pytest.approx(np.mean([0, 1, 2, 4, 5, 6, 8, 9, 10]))
  maxed = inception._max_pool_3x3(-x - 1.0, 1, padding=1)
  assert maxed[0, 0, 0, 0] == -1.0             # padding never wins a max


@pytest.fixture(scope='module')
def torch_state():
  return inception.random_torch_state()


def _torch_conv_reference(x_chw, weight_oihw, padding):
  """PyTorch Conv2d semantics written out: out[o, y, x] = sum w[o, i, ky, kx] in[i, y+ky-ph, x+kx-pw]."""
  cout, cin, kh, kw = weight_oihw.shape
  ph, pw = padding
  xp = np.pad(x_chw, ((0, 0), (ph, ph), (pw, pw)))
  h, w = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
  out = np.zeros((cout, h, w))
  for ky in range(kh):
    for kx in range(kw):
      out += np.einsum('oi,ihw->ohw', weight_oihw[:, :, ky, kx], xp[:, ky:ky + h, kx:kx + w])
  return out


@pytest.mark.parametrize('legacy', [False, True], ids=['zip', 'legacy'])
def test_pth_loader_maps_every_tensor_with_pytorch_layouts(tmp_path, torch_state, legacy):
  path = str(tmp_path / 'weights.pth')
  torch_weights.save_state_dict(path, torch_state, legacy=legacy)
  variables = features.load_inception_variables(path)
  chex_tree = jax.tree.map(lambda a, b: a.shape == b.shape, variables, _shapes())
  assert all(jax.tree.leaves(chex_tree))
  conv = variables['params']['Mixed_6b']['branch7x7_2']          # an asymmetric 1x7 kernel
  np.testing.assert_array_equal(conv['conv']['kernel'],
                                torch_state['Mixed_6b.branch7x7_2.conv.weight'].transpose(2, 3, 1, 0))
  np.testing.assert_array_equal(variables['batch_stats']['Mixed_7c']['branch_pool']['bn']['var'],
                                torch_state['Mixed_7c.branch_pool.bn.running_var'])
  np.testing.assert_array_equal(variables['params']['fc']['kernel'], torch_state['fc.weight'].T)
  # The loaded 1x7 conv computes what PyTorch's Conv2d computes with that weight.
  x = np.random.default_rng(1).normal(size=(1, 9, 11, 128)).astype(np.float32)
  got = nn.Conv(128, (1, 7), padding=((0, 0), (3, 3)), use_bias=False).apply(
      {'params': conv['conv']}, x)
  want = _torch_conv_reference(x[0].transpose(2, 0, 1),
                               torch_state['Mixed_6b.branch7x7_2.conv.weight'], (0, 3))
  np.testing.assert_allclose(np.asarray(got[0]).transpose(2, 0, 1), want, rtol=1e-4, atol=1e-4)


def test_loader_rejects_another_network_and_broken_files(tmp_path, torch_state):
  wrong = dict(torch_state)
  wrong['Conv2d_1a_3x3.conv.weight'] = np.zeros((16, 3, 3, 3), np.float32)
  del wrong['fc.bias']
  wrong['extra.weight'] = np.zeros(3, np.float32)
  path = str(tmp_path / 'wrong.pth')
  torch_weights.save_state_dict(path, wrong)
  with pytest.raises(ValueError, match=r'1 missing .* 1 unexpected .* 1 with other shapes'):
    features.load_inception_variables(path)
  truncated = str(tmp_path / 'truncated.pth')
  torch_weights.save_state_dict(truncated, {'a': np.zeros(1000, np.float32)}, legacy=True)
  with open(truncated, 'r+b') as f:
    f.truncate(os.path.getsize(truncated) - 100)
  with pytest.raises(torch_weights.WeightFileError, match='truncated'):
    torch_weights.load_state_dict(truncated)


def test_missing_weights_say_what_to_do(tmp_path, monkeypatch):
  monkeypatch.delenv(features.INCEPTION_WEIGHTS_ENV, raising=False)
  monkeypatch.setenv('HOME', str(tmp_path))
  with pytest.raises(features.MissingWeightsError, match='NOT comparable to FIDs in papers'):
    evaluation.make_extractor('inception_v3')
  with pytest.raises(ValueError, match='unknown feature extractor'):
    evaluation.make_extractor('vgg')


def test_extractor_on_random_weights_and_npz_conversion(tmp_path, torch_state):
  pth = str(tmp_path / 'random.pth')
  torch_weights.save_state_dict(pth, torch_state)
  npz = str(tmp_path / 'random.npz')
  convert.main(['convert', pth, npz])
  from_pth = evaluation.make_extractor('inception_v3', inception_weights=pth)
  from_npz = evaluation.make_extractor('inception_v3', inception_weights=npz)
  assert not from_pth.comparable_to_papers and 'NOT the standard' in from_pth.description
  assert from_pth.weights_hash == from_npz.weights_hash == features.file_sha256(pth)
  images = np.random.default_rng(2).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
  out = from_pth(images)
  assert out['features'].shape == (2, 2048) and out['logits'].shape == (2, 1008)
  assert np.all(np.isfinite(out['features'])) and np.all(out['features'] >= 0)   # after ReLU
  np.testing.assert_array_equal(out['features'], from_npz(images)['features'])


def test_clean_resize_antialiases_and_legacy_aliases():
  # A one-pixel checkerboard shrunk 3x: an antialiased resize gives its mean (0) away from the
  # border; bilinear sampling without antialiasing lands on pixel centres: all +-1, pure alias.
  board = np.indices((63, 63)).sum(0) % 2 * 2.0 - 1.0
  images = jnp.asarray(np.repeat(board[None, :, :, None], 3, axis=-1), jnp.float32)
  clean = features.resize_images(images, 21, 'clean')
  legacy = features.resize_images(images, 21, 'legacy_pytorch')
  assert float(jnp.abs(clean[:, 2:-2, 2:-2]).max()) < 1e-3
  np.testing.assert_allclose(jnp.abs(legacy), 1.0, atol=1e-6)
  constant = jnp.full((1, 40, 30, 3), 0.25)
  np.testing.assert_allclose(features.resize_images(constant, 299, 'clean'), 0.25, atol=1e-5)
