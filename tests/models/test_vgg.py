"""VGG19 (gan_jax.models.vgg): the module, its parameters and the pure weight conversions. The
weight files are tested in tests/style/test_vgg_weights.py."""

import functools

import flax
import jax
import numpy as np
import pytest

from gan_jax import errors
from gan_jax.models import vgg


def random_torch_state(seed=0, with_classifier=True):
  """Random He-normal weights in torchvision's names and layouts, built here independently of
  the code under test (plus a small stand-in for the classifier that the loader must ignore)."""
  rng = np.random.default_rng(seed)
  widths = [64, 64, 128, 128, 256, 256, 256, 256] + [512] * 8
  indices = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
  state, cin = {}, 3
  for index, cout in zip(indices, widths):
    state[f'features.{index}.weight'] = rng.normal(
        0, np.sqrt(2 / (9 * cin)), (cout, cin, 3, 3)).astype(np.float32)
    state[f'features.{index}.bias'] = rng.normal(0, 0.1, cout).astype(np.float32)
    cin = cout
  if with_classifier:
    state['classifier.0.weight'] = rng.normal(size=(4, 6)).astype(np.float32)
    state['classifier.0.bias'] = np.zeros(4, np.float32)
  return state


@functools.lru_cache(maxsize=2)
def _random_params(seed):
  return vgg.params_from_torchvision(random_torch_state(seed, with_classifier=False))


def random_vgg_params(seed=0):
  """Random VGG19 params (numpy; a fresh outer dict, the arrays shared: do not modify them)."""
  return dict(_random_params(seed))


def images(size=32, batch=2, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)


def test_stops_after_last_requested_layer():
  full = random_vgg_params()
  block1 = {k: full[k] for k in ('conv1_1', 'conv1_2')}
  out = vgg.VGG19().apply({'params': block1}, images(16), ('relu1_1', 'pool1'))
  assert sorted(out) == ['pool1', 'relu1_1']
  assert out['pool1'].shape == (2, 8, 8, 64)
  with pytest.raises(flax.errors.ScopeParamNotFoundError):   # block 2 needs its parameters
    vgg.VGG19().apply({'params': block1}, images(16), ('relu2_1',))


def test_parameter_tree_layout():
  shapes = jax.eval_shape(lambda: vgg.VGG19().init(jax.random.key(0), np.zeros((1, 32, 32, 3)),
                                                   ('pool5',)))['params']
  assert list(shapes) == list(vgg.CONV_LAYERS)
  assert shapes['conv1_1']['kernel'].shape == (3, 3, 3, 64)
  assert shapes['conv3_1']['kernel'].shape == (3, 3, 128, 256)
  assert shapes['conv5_4']['bias'].shape == (512,)


def test_unknown_layers_and_settings_are_config_errors():
  params = random_vgg_params()
  with pytest.raises(errors.ConfigError, match='relu6_1'):
    vgg.VGG19().apply({'params': params}, images(8), ('relu6_1',))
  with pytest.raises(errors.ConfigError, match='tuple'):
    vgg.VGG19().apply({'params': params}, images(8), 'relu1_1')
  with pytest.raises(errors.ConfigError, match='pooling'):
    vgg.VGG19(pooling='min').apply({'params': params}, images(8), ('pool1',))
  with pytest.raises(errors.ConfigError, match='preprocess'):
    vgg.VGG19(preprocess='tf').apply({'params': params}, images(8), ('relu1_1',))


def test_torchvision_state_with_wrong_keys_lists_them():
  state = random_torch_state()
  del state['features.34.bias']
  state['features.2.weight'] = state['features.2.weight'][:, :32]
  state['features.99.weight'] = np.zeros(3, np.float32)
  with pytest.raises(vgg.VGGWeightsError) as e:
    vgg.params_from_torchvision(state)
  message = str(e.value)
  assert 'features.34.bias missing' in message
  assert 'features.2.weight has shape (64, 32, 3, 3)' in message
  assert 'features.99.weight unexpected' in message
  assert isinstance(e.value, errors.UserError)


def test_random_params_are_deterministic_and_keep_activations_of_order_one():
  a, b = vgg.random_params(0), vgg.random_params(0)
  for name in vgg.CONV_LAYERS:
    np.testing.assert_array_equal(a[name]['kernel'], b[name]['kernel'])
    np.testing.assert_allclose(a[name]['kernel'].mean(axis=(0, 1, 2)), 0, atol=1e-6)
  skimage_data = pytest.importorskip('skimage.data')
  photo = skimage_data.astronaut()[::8, ::8].astype(np.float32)[None] / 127.5 - 1   # 64 px
  out = vgg.VGG19().apply({'params': a}, photo, ('relu1_1', 'relu3_1', 'relu4_1', 'relu5_4'))
  for name, value in out.items():
    rms = float(np.sqrt(np.mean(np.square(value))))
    assert 0.2 < rms < 5, (name, rms)
