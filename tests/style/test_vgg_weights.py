"""VGG19 weight files (gan_jax.style.vgg_weights): torchvision's .pth, Keras applications' .h5
and our .npz, read back to the features of their frameworks; missing and broken files; where
find_weights looks."""

import os

import h5py
import numpy as np
import pytest

from gan_jax import errors
from gan_jax import torch_weights
from gan_jax.models import vgg
from gan_jax.style import vgg_weights
from tests.models.test_vgg import images
from tests.models.test_vgg import random_torch_state
from tests.models.test_vgg import random_vgg_params

TORCH_MEAN = np.array(vgg.TORCH_MEAN, np.float32)[:, None, None]
TORCH_STD = np.array(vgg.TORCH_STD, np.float32)[:, None, None]


def conv3x3_nchw(x, weight, bias):
  """torch.nn.Conv2d(k=3, padding=1) by definition: x [N, C, H, W], weight [O, C, 3, 3]."""
  padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
  patches = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
  return np.einsum('nchwij,ocij->nohw', patches, weight, optimize=True) + bias[:, None, None]


def reference_features(state, images, pooling):
  """torchvision's vgg19.features by definition, in numpy float64, NCHW / OIHW on the raw torch
  arrays: {'reluB_I' | 'poolB': NHWC array}."""
  x = np.transpose((images.astype(np.float64) + 1) / 2, (0, 3, 1, 2))
  x = (x - TORCH_MEAN) / TORCH_STD
  out, index = {}, 0
  for block, convs in enumerate((2, 2, 4, 4, 4), start=1):
    for i in range(1, convs + 1):
      w, b = state[f'features.{index}.weight'], state[f'features.{index}.bias']
      x = np.maximum(conv3x3_nchw(x, w, b), 0)
      out[f'relu{block}_{i}'] = x
      index += 2
    n, c, h, w_ = x.shape
    windows = x[:, :, :h // 2 * 2, :w_ // 2 * 2].reshape(n, c, h // 2, 2, w_ // 2, 2)
    x = windows.max(axis=(3, 5)) if pooling == 'max' else windows.mean(axis=(3, 5))
    out[f'pool{block}'] = x
    index += 1
  return {k: np.transpose(v, (0, 2, 3, 1)) for k, v in out.items()}


@pytest.fixture(scope='module')
def torch_file(tmp_path_factory):
  state = random_torch_state()
  path = str(tmp_path_factory.mktemp('vgg') / vgg_weights.TORCHVISION_WEIGHTS_NAME)
  torch_weights.save_state_dict(path, state)
  return path, state


@pytest.mark.parametrize('pooling', ['max', 'avg'])
def test_torchvision_file_gives_torchvision_features(torch_file, pooling):
  path, state = torch_file
  params = vgg_weights.load_torchvision(path)
  x = images()
  layers = ('relu1_1', 'pool1', 'relu2_2', 'relu3_1', 'pool3', 'relu4_2', 'relu5_4', 'pool5')
  got = vgg.VGG19(pooling=pooling).apply({'params': params}, x, layers)
  expected = reference_features(state, x, pooling)
  assert set(got) == set(layers)
  for name in layers:
    scale = np.abs(expected[name]).max()
    np.testing.assert_allclose(got[name], expected[name], rtol=1e-4, atol=1e-4 * scale,
                               err_msg=name)
  assert got['pool5'].shape == (2, 1, 1, 512)


def test_load_weights_describes_torchvision_file(torch_file):
  weights = vgg_weights.load_weights(torch_file[0])
  assert (weights.format, weights.preprocess) == ('torchvision', 'torch')
  assert 'vgg19-dcbb9e9d.pth' in weights.description
  assert 'NOT the standard torchvision file' in weights.description   # random weights


def test_missing_and_truncated_files_are_clear_errors(tmp_path, torch_file):
  with pytest.raises(errors.InputNotFoundError, match='does not exist'):
    vgg_weights.load_weights(str(tmp_path / 'nothing.pth'))
  truncated = tmp_path / 'vgg19.pth'
  truncated.write_bytes(open(torch_file[0], 'rb').read()[:100_000])
  with pytest.raises(vgg.VGGWeightsError, match='download it again|truncated'):
    vgg_weights.load_weights(str(truncated))
  h5 = tmp_path / 'vgg19.h5'
  vgg_weights.save_keras_h5(str(h5), vgg.params_from_torchvision(torch_file[1]))
  cut = tmp_path / 'cut.h5'
  cut.write_bytes(h5.read_bytes()[:1_000_000])
  with pytest.raises(vgg.VGGWeightsError, match='truncated'):
    vgg_weights.load_weights(str(cut))
  other = tmp_path / 'weights.txt'
  other.write_text('x')
  with pytest.raises(vgg.VGGWeightsError, match='unknown VGG19 weight format'):
    vgg_weights.load_weights(str(other))


def test_conversion_errors_name_the_standard_files():
  """gan_jax.models.vgg spells the file names out in its messages (it does no file IO, so it
  does not import them from here): they must be these."""
  with pytest.raises(vgg.VGGWeightsError) as e:
    vgg.params_from_torchvision({})
  assert vgg_weights.TORCHVISION_WEIGHTS_NAME in str(e.value)
  with pytest.raises(vgg.VGGWeightsError) as e:
    vgg.params_from_keras_layers([])
  assert vgg_weights.KERAS_WEIGHTS_NAME in str(e.value)


# ------------------------------------------------------------------------------ Keras h5


@pytest.mark.parametrize('style', ['keras1', 'keras2'])
def test_keras_h5_round_trip_is_bit_identical(tmp_path, style):
  params = random_vgg_params()
  path = str(tmp_path / vgg_weights.KERAS_WEIGHTS_NAME)
  vgg_weights.save_keras_h5(path, params, weight_name_style=style)
  back = vgg_weights.load_weights(path)
  assert (back.format, back.preprocess) == ('keras_h5', 'caffe')
  for name in vgg.CONV_LAYERS:
    for leaf in ('kernel', 'bias'):
      assert back.params[name][leaf].dtype == np.float32
      np.testing.assert_array_equal(back.params[name][leaf], params[name][leaf])


def test_keras_h5_layout_is_the_released_files(tmp_path):
  path = str(tmp_path / 'w.h5')
  vgg_weights.save_keras_h5(path, random_vgg_params())
  with h5py.File(path, 'r') as f:
    assert list(f.attrs) == ['layer_names']
    names = f.attrs['layer_names']
    assert names.dtype.kind == 'S' and len(names) == 21
    assert list(names[:4]) == [b'block1_conv1', b'block1_conv2', b'block1_pool', b'block2_conv1']
    assert names[-1] == b'block5_pool'
    group = f['block3_conv4']
    assert list(group.attrs['weight_names']) == [b'block3_conv4_W_1:0', b'block3_conv4_b_1:0']
    assert group['block3_conv4_W_1:0'].shape == (3, 3, 256, 256)
    assert group['block3_conv4_W_1:0'].dtype == np.float32
    assert len(f['block3_pool'].attrs['weight_names']) == 0


def test_keras_h5_with_wrong_layers_is_a_clear_error(tmp_path):
  params = random_vgg_params()
  path = str(tmp_path / 'w.h5')
  vgg_weights.save_keras_h5(path, params)
  with h5py.File(path, 'r+') as f:   # VGG16-like: drop one convolution of block 5
    f.attrs['layer_names'] = np.array([n for n in f.attrs['layer_names'] if n != b'block5_conv4'])
  with pytest.raises(vgg.VGGWeightsError, match='15 convolution layers'):
    vgg_weights.load_keras_h5(path)
  with h5py.File(path, 'r+') as f:
    f.attrs['layer_names'] = np.array([n.encode() for n in
                                       ['block1_conv1', 'block1_conv2', 'block1_pool']])
    del f['block1_conv2']['block1_conv2_b_1:0']
  with pytest.raises(vgg.VGGWeightsError, match='not stored'):
    vgg_weights.load_keras_h5(path)


def test_keras_reads_our_h5_and_we_read_keras_h5(tmp_path, monkeypatch):
  """Keras 3's own legacy .h5 loader and writer agree with ours: the exact format. (Imports
  keras with the JAX backend unless it is already imported.)"""
  monkeypatch.setenv('KERAS_BACKEND', os.environ.get('KERAS_BACKEND', 'jax'))
  keras = pytest.importorskip('keras')
  legacy_h5 = pytest.importorskip('keras.src.legacy.saving.legacy_h5_format')
  params = random_vgg_params(seed=1)
  ours = str(tmp_path / vgg_weights.KERAS_WEIGHTS_NAME)
  vgg_weights.save_keras_h5(ours, params)
  model = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
  model.load_weights(ours)
  np.testing.assert_array_equal(model.get_layer('block4_conv3').get_weights()[0],
                                params['conv4_3']['kernel'])
  x = images(seed=3)
  names = {'relu1_2': 'block1_conv2', 'pool2': 'block2_pool', 'relu3_4': 'block3_conv4',
           'relu5_1': 'block5_conv1', 'pool5': 'block5_pool'}
  probe = keras.Model(model.input, [model.get_layer(n).output for n in names.values()])
  expected = probe(keras.applications.vgg19.preprocess_input((x + 1) * 127.5))
  got = vgg.VGG19(preprocess='caffe').apply({'params': params}, x, tuple(names))
  for name, want in zip(names, expected):
    want = np.asarray(want)
    np.testing.assert_allclose(got[name], want, rtol=1e-4, atol=1e-4 * np.abs(want).max(),
                               err_msg=name)
  # Keras 3's writer: an input layer first, weights named 'block1_conv1/kernel' (nested groups).
  theirs = str(tmp_path / 'keras3.h5')
  with h5py.File(theirs, 'w') as f:
    legacy_h5.save_weights_to_hdf5_group(f, model)
  back = vgg_weights.load_keras_h5(theirs)
  for name in vgg.CONV_LAYERS:
    np.testing.assert_array_equal(back[name]['kernel'], params[name]['kernel'])
    np.testing.assert_array_equal(back[name]['bias'], params[name]['bias'])


# ------------------------------------------------------------------------------ npz, find


def test_npz_round_trip_keeps_preprocessing(tmp_path):
  params = random_vgg_params()
  path = str(tmp_path / 'vgg19.npz')
  vgg_weights.save_npz(path, params, 'caffe',
                       source='vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5')
  weights = vgg_weights.load_weights(path)
  assert (weights.format, weights.preprocess) == ('npz', 'caffe')
  assert 'notop.h5' in weights.description
  np.testing.assert_array_equal(weights.params['conv2_2']['kernel'], params['conv2_2']['kernel'])
  del params['conv5_4']
  vgg_weights.save_npz(path, params, 'torch')
  with pytest.raises(vgg.VGGWeightsError, match='conv5_4'):
    vgg_weights.load_weights(path)


def test_find_weights_order(tmp_path, monkeypatch):
  monkeypatch.setenv('HOME', str(tmp_path))
  monkeypatch.delenv(vgg_weights.WEIGHTS_ENV, raising=False)
  assert vgg_weights.find_weights() is None
  keras_file = tmp_path / '.keras' / 'models' / vgg_weights.KERAS_WEIGHTS_NAME
  keras_file.parent.mkdir(parents=True)
  keras_file.write_bytes(b'')
  assert vgg_weights.find_weights() == str(keras_file)
  hub_dir = tmp_path / '.cache' / 'torch' / 'hub' / 'checkpoints'
  hub_file = hub_dir / vgg_weights.TORCHVISION_WEIGHTS_NAME
  hub_file.parent.mkdir(parents=True)
  hub_file.write_bytes(b'')
  assert vgg_weights.find_weights() == str(hub_file)
  env_file = tmp_path / 'mine.pth'
  env_file.write_bytes(b'')
  monkeypatch.setenv(vgg_weights.WEIGHTS_ENV, str(env_file))
  assert vgg_weights.find_weights() == str(env_file)
  assert vgg_weights.find_weights(str(keras_file)) == str(keras_file)
  with pytest.raises(errors.InputNotFoundError, match='given path'):
    vgg_weights.find_weights(str(tmp_path / 'typo.pth'))
  monkeypatch.setenv(vgg_weights.WEIGHTS_ENV, str(tmp_path / 'gone.pth'))
  with pytest.raises(errors.InputNotFoundError, match=vgg_weights.WEIGHTS_ENV):
    vgg_weights.find_weights()
