"""python main.py --config=configs/gatys.py:smoke --mode=stylize end to end."""

import json

import numpy as np
from PIL import Image
import pytest

from configs import gatys as gatys_config
from gan_jax import errors
from gan_jax.trainers import gatys as gatys_cli
from tests.main_runner import run_main


def _write(path, seed, size=(40, 30)):
  rng = np.random.default_rng(seed)
  Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), np.uint8)).save(path)
  return path


def test_stylize_with_two_blended_styles_and_region_masks(tmp_path):
  content = _write(str(tmp_path / 'content.png'), 0)
  styles = [_write(str(tmp_path / f'style{i}.jpg'), i + 1, (24, 24)) for i in range(2)]
  masks = []
  for i in range(2):
    mask = np.zeros((30, 40), np.uint8)
    mask[:, :20] = 255 if i == 0 else 0
    mask[:, 20:] = 0 if i == 0 else 255
    masks.append(str(tmp_path / f'mask{i}.png'))
    Image.fromarray(mask).save(masks[-1])
  out = str(tmp_path / 'out' / 'result.png')
  result = run_main('--config=configs/gatys.py:smoke', f'--workdir={tmp_path / "w"}',
                    '--mode=stylize', f'--content={content}', f'--style={",".join(styles)}',
                    '--style_weights=0.7,0.3', f'--output={out}',
                    f'--config.masks={",".join(masks)}', '--config.color=histogram',
                    '--config.num_scales=1')   # coarse-to-fine: tests/style/test_gatys.py
  assert result.returncode == 0, result.stderr[-3000:]
  with Image.open(out) as image:
    assert image.size == (32, 24)          # longer side = config.size, aspect kept
  with open(tmp_path / 'w' / 'stylize.json', encoding='utf-8') as f:
    report = json.load(f)
  np.testing.assert_allclose(report['style_weights'], [0.7, 0.3], rtol=1e-6)
  assert report['feature_network'] == 'random_multiscale' and not report['pretrained_features']
  assert 'NOT VGG19' in report['feature_network_description']
  assert all(np.isfinite(v) for v in report['losses'].values())
  assert 'Final losses' in result.stderr and 'NOT VGG19' in result.stderr


def test_stylize_input_errors_are_clear(tmp_path):
  # The same function main.py calls; main turns these UserErrors into exit code 2 + the message.
  config = gatys_config.get_config('smoke')
  content = _write(str(tmp_path / 'content.png'), 0)
  style = _write(str(tmp_path / 'style.png'), 1)
  workdir = str(tmp_path / 'w')
  with pytest.raises(errors.ConfigError, match='--style=IMG'):
    gatys_cli.stylize(config, workdir, content=content)
  with pytest.raises(errors.ConfigError, match='2 style weights for 1 style images'):
    gatys_cli.stylize(config, workdir, content=content, style=style, style_weights='1,2')
  with pytest.raises(errors.ConfigError, match='numbers separated by commas'):
    gatys_cli.stylize(config, workdir, content=content, style=style, style_weights='a,b')
  with pytest.raises(errors.InputNotFoundError, match='does not exist'):
    gatys_cli.stylize(config, workdir, content=str(tmp_path / 'nope.png'), style=style)
  config.masks = content
  with pytest.raises(errors.ConfigError, match='one mask image per style'):
    gatys_cli.stylize(config, workdir, content=content, style=f'{style},{style}')
  config.masks = ''
  config.content_layers = 'relu4_2'
  with pytest.raises(errors.ConfigError, match='unknown layer'):
    gatys_cli.stylize(config, workdir, content=content, style=style)
