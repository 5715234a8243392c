import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import errors
from gan_jax import torch_weights
from gan_jax.metrics.features import MissingWeightsError
from gan_jax.models import vgg
from gan_jax.style import feature_net
from gan_jax.style import vgg_weights


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
  """A HOME without weight files and no $GAN_JAX_VGG19_WEIGHTS."""
  monkeypatch.setenv('HOME', str(tmp_path))
  monkeypatch.delenv(vgg_weights.WEIGHTS_ENV, raising=False)
  return tmp_path


@pytest.fixture
def warnings_logged(monkeypatch):
  logged = []
  monkeypatch.setattr(feature_net.logging, 'warning',
                      lambda message, *args: logged.append(message % args))
  return logged


def images(size=32, batch=2, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)


def gram(maps):
  b, h, w, c = maps.shape
  flat = maps.reshape(b, h * w, c)
  return jnp.einsum('bnc,bnd->bcd', flat, flat) / (h * w)


# ------------------------------------------------------------------ random multi-scale filters


def test_random_multiscale_is_deterministic():
  a, b = feature_net.multiscale_params(0), feature_net.multiscale_params(0)
  for name in feature_net.MULTISCALE_LAYERS:
    np.testing.assert_array_equal(a[name]['kernel'], b[name]['kernel'])
    np.testing.assert_allclose(a[name]['kernel'].sum(axis=(0, 1, 2)), 0, atol=1e-5)
  assert not np.array_equal(feature_net.multiscale_params(1)['ms1']['kernel'], a['ms1']['kernel'])
  net1 = feature_net.load_feature_net('random_multiscale')
  net2 = feature_net.load_feature_net('random_multiscale')
  x = images()
  out1 = net1.features(net1.params, x, ('ms1', 'ms3'))
  out2 = net2.features(net2.params, x, ('ms1', 'ms3'))
  assert sorted(out1) == ['ms1', 'ms3']
  np.testing.assert_array_equal(out1['ms3'], out2['ms3'])


def test_random_multiscale_shapes_and_jit():
  net = feature_net.load_feature_net('random_multiscale')
  x = images(size=40, batch=1)
  out = jax.jit(lambda p, v: net.features(p, v, net.style_layers))(net.params, x)
  assert [out[n].shape for n in net.layers] == [
      (1, 40, 40, 64), (1, 20, 20, 96), (1, 10, 10, 128), (1, 5, 5, 128), (1, 2, 2, 128)]
  eager = net.features(net.params, x, ('ms5',))
  np.testing.assert_allclose(out['ms5'], eager['ms5'], rtol=1e-5, atol=1e-6)
  with pytest.raises(errors.ConfigError, match='at least 16 px'):
    net.features(net.params, images(size=8, batch=1), ('ms5',))
  with pytest.raises(errors.ConfigError, match='relu4_2'):
    net.features(net.params, x, ('relu4_2',))


def test_fast_input_gradient_equals_autodiff():
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(2, 13, 11, 3)), jnp.float32)
  kernel = jnp.asarray(rng.normal(size=(7, 7, 3, 5)), jnp.float32)
  target = jnp.asarray(rng.normal(size=(2, 7, 5, 5)), jnp.float32)

  def loss(conv):
    return lambda v, k: jnp.sum(jnp.square(jax.nn.relu(conv(v, k)) - target))

  plain = lambda v, k: jax.lax.conv_general_dilated(   # pylint: disable=g-long-lambda
      v, k, (1, 1), 'VALID', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  np.testing.assert_allclose(feature_net.conv_few_inputs(x, kernel), plain(x, kernel),
                             rtol=1e-5, atol=1e-5)
  fast = jax.grad(loss(feature_net.conv_few_inputs), argnums=(0, 1))(x, kernel)
  reference = jax.grad(loss(plain), argnums=(0, 1))(x, kernel)
  for a, b in zip(fast, reference):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def texture_crops(size=128):
  """{name: (crop A, crop B)} of scikit-image's bundled textures, as RGB in [-1, 1]."""
  skimage_data = pytest.importorskip('skimage.data')
  crops = {}
  for name in ('brick', 'grass', 'gravel'):
    gray = getattr(skimage_data, name)().astype(np.float32) / 127.5 - 1
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    crops[name] = (rgb[:size, :size], rgb[-size:, -size:])   # opposite corners: no overlap
  return crops


def test_random_multiscale_gram_matrices_tell_textures_apart():
  net = feature_net.load_feature_net('random_multiscale')
  crops = texture_crops()
  names = list(crops)
  batch = np.stack([crop for name in names for crop in crops[name]])
  grams = jax.jit(lambda p, v: {k: gram(m) for k, m in net.features(
      p, v, net.style_layers).items()})(net.params, batch)
  grams = {k: np.asarray(v) for k, v in grams.items()}

  def distance(i, j):
    return sum(np.sum((g[i] - g[j]) ** 2) / np.sum(g[i] ** 2 + g[j] ** 2) for g in grams.values())

  for a, name in enumerate(names):
    same = distance(2 * a, 2 * a + 1)
    for b in range(len(names)):
      if b != a:
        for i in (2 * a, 2 * a + 1):
          for j in (2 * b, 2 * b + 1):
            assert same < distance(i, j), (name, names[b], same, distance(i, j))


# ---------------------------------------------------------------------------------- loading


def test_auto_without_weights_falls_back_with_one_warning(no_weights, warnings_logged):
  net = feature_net.load_feature_net('auto')
  assert net.name == 'random_multiscale' and not net.pretrained
  assert len(warnings_logged) == 1
  warning = warnings_logged[0]
  assert str(no_weights / '.cache' / 'gan_jax' / vgg_weights.TORCHVISION_WEIGHTS_NAME) in warning
  assert vgg_weights.WEIGHTS_ENV in warning and vgg_weights.KERAS_WEIGHTS_NAME in warning
  assert 'NOT VGG19' in net.description and 'looked at' in net.description
  assert set(net.style_layers) <= set(net.layers) and set(net.content_layers) <= set(net.layers)


def test_auto_picks_vgg19_from_the_environment(no_weights, monkeypatch, warnings_logged):
  state = vgg.torchvision_state_from_params(vgg.random_params(0))
  path = str(no_weights / 'my-vgg19.pth')
  torch_weights.save_state_dict(path, state)
  monkeypatch.setenv(vgg_weights.WEIGHTS_ENV, path)
  net = feature_net.load_feature_net('auto', pooling='max')
  assert not warnings_logged
  assert net.name == 'vgg19' and net.pretrained
  assert 'my-vgg19.pth' in net.description and 'torch preprocessing' in net.description
  assert net.content_layers == ('relu4_2',) and net.adain_layer == 'relu4_1'
  assert net.style_layers == ('relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1')
  x = images()
  got = net.features(net.params, x, ('relu2_1',))['relu2_1']
  expected = vgg.VGG19(pooling='max').apply({'params': vgg.random_params(0)}, x, ('relu2_1',))
  np.testing.assert_allclose(got, expected['relu2_1'], rtol=1e-5, atol=1e-5)
  # The same file through the AdaIN helper: also VGG19, no warning.
  assert feature_net.adain_encoder_net().name == 'vgg19' and not warnings_logged


def test_vgg19_without_weights_says_where_to_put_them(no_weights):
  with pytest.raises(MissingWeightsError) as e:
    feature_net.load_feature_net('vgg19')
  message = str(e.value)
  assert isinstance(e.value, errors.UserError)
  assert vgg_weights.TORCHVISION_WEIGHTS_NAME in message
  assert vgg_weights.KERAS_WEIGHTS_NAME in message
  assert str(no_weights / '.keras' / 'models' / vgg_weights.KERAS_WEIGHTS_NAME) in message
  assert 'random_multiscale' in message


def test_bad_choices_are_config_errors(no_weights):
  with pytest.raises(errors.ConfigError, match="'vgg16'.*random_multiscale"):
    feature_net.load_feature_net('vgg16')
  with pytest.raises(errors.ConfigError, match='pooling'):
    feature_net.load_feature_net('vgg19_random', pooling='mean')
  with pytest.raises(errors.ConfigError, match='ignored'):
    feature_net.load_feature_net('random_multiscale', weights='/some/vgg19.pth')
  with pytest.raises(errors.InputNotFoundError, match='does not exist'):
    feature_net.load_feature_net('auto', weights=str(no_weights / 'typo.pth'))


def test_adain_encoder_falls_back_to_random_multiscale(no_weights, warnings_logged):
  net = feature_net.adain_encoder_net()
  assert net.name == 'random_multiscale' and not net.pretrained
  assert len(warnings_logged) == 1 and 'AdaIN' in warnings_logged[0]
  assert 'NOT VGG19' in net.description
  out = net.features(net.params, images(), net.adain_style_layers + (net.adain_layer,))
  assert sorted(out) == ['ms1', 'ms2', 'ms3']
  assert out['ms3'].shape[1:3] == (images().shape[1] // 4, images().shape[2] // 4)
  random_vgg = feature_net.adain_encoder_net('vgg19_random')
  assert 'max pooling' in random_vgg.description
  assert random_vgg.features(random_vgg.params, images(), ('relu4_1',))['relu4_1'].shape == (
      2, 4, 4, 512)