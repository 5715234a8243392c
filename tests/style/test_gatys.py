"""Gatys optimisation on a tiny random two-scale feature network (known receptive fields)."""

import dataclasses
from typing import Any

import jax
import numpy as np
import pytest

from gan_jax import errors
from gan_jax.style import color
from gan_jax.style import gatys


def _conv(x, kernel):
  return jax.lax.conv_general_dilated(x, kernel, (1, 1), 'SAME',
                                      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


@dataclasses.dataclass(frozen=True)
class TinyNet:
  """c1: 3x3 conv + ReLU (receptive field 3); c2: 2x2 avg-pool then 3x3 conv (field 8)."""
  params: Any
  name: str = 'tiny'
  description: str = 'tiny random filters'
  pretrained: bool = False
  layers: tuple = ('c1', 'c2')
  content_layers: tuple = ('c2',)
  style_layers: tuple = ('c1', 'c2')

  @staticmethod
  def features(params, images, layers):
    c1 = jax.nn.relu(_conv(images, params['k1']))
    pooled = jax.lax.reduce_window(c1, 0.0, jax.lax.add, (1, 2, 2, 1), (1, 2, 2, 1), 'VALID') / 4
    c2 = jax.nn.relu(_conv(pooled, params['k2']))
    out = {'c1': c1, 'c2': c2}
    return {name: out[name] for name in layers}


@pytest.fixture(scope='module')
def net():
  k1, k2 = jax.random.split(jax.random.key(0))
  return TinyNet({'k1': jax.random.normal(k1, (3, 3, 3, 16)) / 4,
                  'k2': jax.random.normal(k2, (3, 3, 16, 16)) / 12})


def _stripes(size, period, phase=0.0):
  x = np.arange(size[1])[None, :, None]
  y = np.arange(size[0])[:, None, None]
  red = np.sin(2 * np.pi * (x + y) / period + phase)
  return np.concatenate([0.8 * red, -0.5 * red, 0.2 * np.cos(2 * np.pi * y / 3) + 0 * x],
                        axis=-1).astype(np.float32)


def _smooth(size, seed):
  rng = np.random.default_rng(seed)
  base = rng.uniform(-0.5, 0.5, (4, 4, 3))
  return np.asarray(jax.image.resize(base, (*size, 3), 'linear'), np.float32)


def _settings(net, **kw):
  return gatys.GatysSettings(content_layers=net.content_layers, style_layers=net.style_layers,
                             steps=kw.pop('steps', 12), chunk=kw.pop('chunk', 4), **kw)


def test_lbfgs_lowers_style_and_content_loss_monotonically(net):
  content, style = _smooth((24, 24), 0), _stripes((24, 24), 4)

  def run(**kw):
    seen = []
    result = gatys.stylize(net, content, [style], _settings(net, init='noise', steps=12, chunk=1,
                                                            style_weight=1.0, **kw),
                           progress=lambda scale, done, n, parts: seen.append(parts))
    totals = np.asarray(result.history + [result.losses['total']])
    assert np.all(np.diff(totals) <= 1e-6 * totals[:-1]), totals   # the line search's guarantee
    return result, seen

  both, seen = run()
  assert both.history[-1] < 0.5 * both.history[0]
  assert seen[-1]['style'] < seen[0]['style']
  assert seen[-1]['content'] < seen[0]['content']
  assert both.image.shape == (24, 24, 3) and np.all(np.abs(both.image) <= 1)
  # Each loss on its own (the other weight 0) falls at every single step.
  _, style_only = run(content_weight=0.0)
  _, content_only = run(strength=0.0)
  assert np.all(np.diff([p['style'] for p in style_only]) <= 0)
  assert np.all(np.diff([p['content'] for p in content_only]) <= 0)


def test_adam_lowers_the_total_loss(net):
  content, style = _smooth((16, 16), 1), _stripes((16, 16), 4)
  result = gatys.stylize(net, content, [style], _settings(net, optimizer='adam', steps=20,
                                                          learning_rate=0.05))
  assert result.history[-1] < 0.5 * result.history[0]


def test_strength_zero_returns_the_content(net):
  content, style = _smooth((16, 16), 2), _stripes((16, 16), 4)
  result = gatys.stylize(net, content, [style], _settings(net, strength=0.0, steps=4))
  np.testing.assert_allclose(result.image, content, atol=1e-6)
  stronger = [gatys.stylize(net, content, [style], _settings(net, strength=s, steps=12,
                                                           style_weight=1.0))
              for s in (0.2, 2.0)]
  # more strength: closer to the style, further from the content
  assert stronger[1].losses['style'] < stronger[0].losses['style']
  assert stronger[1].losses['content'] > stronger[0].losses['content']


def test_zero_blend_weight_equals_the_single_style(net):
  content, s1, s2 = _smooth((16, 16), 3), _stripes((16, 16), 4), _stripes((16, 16), 7, 1.0)
  alone = gatys.stylize(net, content, [s1], _settings(net, steps=6))
  blended = gatys.stylize(net, content, [s1, s2], _settings(net, steps=6), style_weights=[2, 0])
  np.testing.assert_allclose(blended.image, alone.image, atol=1e-5)
  mixed = gatys.stylize(net, content, [s1, s2], _settings(net, steps=6), style_weights=[1, 1])
  assert np.abs(mixed.image - alone.image).max() > 1e-3


def test_luminance_mode_keeps_the_content_chroma(net):
  content = 0.3 * _smooth((16, 16), 4)
  style = _stripes((16, 16), 4)
  result = gatys.stylize(net, content, [style], _settings(net, color='luminance', steps=8))
  yiq_out, yiq_content = color.rgb_to_yiq(result.image), color.rgb_to_yiq(content)
  inside = np.all(np.abs(result.image) < 0.999, axis=-1)      # pixels not clipped to the cube
  assert inside.mean() > 0.9
  np.testing.assert_allclose(yiq_out[inside][:, 1:], yiq_content[inside][:, 1:], atol=1e-4)
  assert np.abs(yiq_out[..., 0] - yiq_content[..., 0]).mean() > 1e-3   # the luminance changed


def test_a_region_mask_confines_the_style_to_its_region(net):
  content, style = _smooth((24, 48), 5), _stripes((24, 24), 4)
  mask = np.zeros((1, 24, 48), np.float32)
  mask[:, :, :16] = 1.0
  result = gatys.stylize(net, content, [style], _settings(net, steps=10), region_masks=mask)
  change = np.abs(result.image - content).max(axis=(0, 2))
  # c2's receptive field is 8 px and the mask is resized to c2's half resolution (a few px of
  # blur): columns from 16 + 16 on are out of reach of the style term, and content's gradient
  # is zero there at the start, so they never move.
  assert change[:16].mean() > 0.02
  assert change[32:].max() < 1e-5, change


def test_multiscale_sizes_and_output_size(net):
  content, style = _smooth((48, 32), 6), _stripes((30, 30), 5)
  result = gatys.stylize(net, content, [style], _settings(net, num_scales=2, steps=3,
                                                          coarse_steps=2))
  assert result.sizes == [(24, 16), (48, 32)]
  assert result.image.shape == (48, 32, 3)


def test_bad_settings_are_clear_errors(net):
  content, style = _smooth((16, 16), 7), _stripes((16, 16), 4)
  with pytest.raises(errors.ConfigError, match='style weights'):
    gatys.stylize(net, content, [style], _settings(net), style_weights=[0.5, 0.5])
  with pytest.raises(errors.ConfigError, match='optimizer'):
    gatys.stylize(net, content, [style], _settings(net, optimizer='sgd'))
  with pytest.raises(errors.ConfigError, match='region masks'):
    gatys.stylize(net, content, [style], _settings(net), region_masks=np.ones((2, 16, 16)))
