"""main.py end to end, as a user runs it (subprocesses, one CPU device)."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from tests.main_runner import run_main

@pytest.fixture(scope='module')
def trained_workdir(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('stargan_smoke'))
  result = run_main('--config=configs/stargan.py:smoke', f'--workdir={workdir}')
  assert result.returncode == 0, result.stderr[-3000:]
  return workdir


def test_train_smoke_writes_checkpoints_logs_and_samples(trained_workdir):
  assert sorted(os.listdir(os.path.join(trained_workdir, 'checkpoints'))) == ['2', '4']
  assert os.path.exists(os.path.join(trained_workdir, 'samples', 'step_0000004.png'))
  assert os.path.exists(os.path.join(trained_workdir, 'config.json'))
  with open(os.path.join(trained_workdir, 'metrics.jsonl')) as f:
    assert [json.loads(line)['step'] for line in f] == [2, 4]
  assert os.listdir(os.path.join(trained_workdir, 'tensorboard'))


def write_odd_inputs(folder):
  """Inputs of other sizes and modes than the model's: RGBA PNG, grayscale JPEG, wide RGB."""
  os.makedirs(folder)
  rng = np.random.default_rng(0)
  Image.fromarray(rng.integers(0, 255, (50, 40, 4), np.uint8), 'RGBA').save(f'{folder}/a.png')
  Image.fromarray(rng.integers(0, 255, (30, 30), np.uint8), 'L').save(f'{folder}/b.jpg')
  Image.fromarray(rng.integers(0, 255, (20, 64, 3), np.uint8)).save(f'{folder}/c.jpg')


def test_translate_writes_images_grids_and_targets(trained_workdir, tmp_path):
  inputs, output = str(tmp_path / 'in'), str(tmp_path / 'out')
  write_odd_inputs(inputs)
  result = run_main('--config=configs/stargan.py:smoke', f'--workdir={trained_workdir}',
                    '--mode=translate', f'--input={inputs}', f'--output={output}',
                    '--target=Blond_Hair=1,Male=0')
  assert result.returncode == 0, result.stderr[-3000:]
  for stem in ('a', 'b', 'c'):
    translated = np.asarray(Image.open(f'{output}/{stem}_translated.png'))
    assert translated.shape == (16, 16, 3)
    grid = np.asarray(Image.open(f'{output}/{stem}_grid.png'))
    assert grid.shape == (2 + 18, 2 + 18 * 6, 3)   # input + one column per attribute
  with open(f'{output}/translations.json') as f:
    records = json.load(f)['images']
  assert len(records) == 3
  for record in records:
    target, predicted = record['target'], record['predicted']
    assert target['Blond_Hair'] == 1.0 and target['Male'] == 0.0
    assert target['Black_Hair'] == 0.0 and target['Brown_Hair'] == 0.0   # exclusive group
    assert target['Young'] == predicted['Young']                        # untouched: D's view
    assert sum(predicted[h] for h in ('Black_Hair', 'Blond_Hair', 'Brown_Hair')) <= 1


def test_translate_without_checkpoint_is_a_clear_error(tmp_path):
  image = tmp_path / 'x.png'
  Image.new('RGB', (8, 8)).save(image)
  result = run_main('--config=configs/stargan.py:smoke', f'--workdir={tmp_path / "empty"}',
                    '--mode=translate', f'--input={image}', f'--output={tmp_path / "o"}')
  assert result.returncode == 2
  assert 'train first' in result.stderr
  assert 'Traceback' not in result.stderr


@pytest.mark.parametrize('args,message', [
    (['--config=configs/stargan.py:smoke', '--config.data.attrs=("Male","Bald_Nonsense")'],
     'Unknown attribute'),
    (['--config=configs/stargan.py:smoke', '--config.batch_size=7'], 'divisible by the number of devices (2)'),
    (['--config=configs/stargan.py:smoke', '--config.data.name=celeba_folder',
      '--config.data.path=/no/such/folder'], '/no/such/folder'),
    (['--config=configs/stargan.py:smoke', '--mode=nonsense'], 'has no --mode=nonsense'),
])
def test_bad_configs_fail_before_training(tmp_path, args, message):
  result = run_main(*args, f'--workdir={tmp_path}', devices=2)
  assert result.returncode != 0
  assert message in result.stderr
  assert not os.path.exists(tmp_path / 'checkpoints')


def test_default_config_offline_names_the_local_option(tmp_path):
  # The paper config reads tfds celeb_a, which cannot be downloaded here: fail fast and say what
  # to use instead.
  result = run_main('--config=configs/stargan.py', f'--workdir={tmp_path}', timeout=120)
  assert result.returncode == 2
  assert 'celeba_folder' in result.stderr


def test_eval_writes_json_and_report_and_reuses_reference_statistics(trained_workdir, smoke_judge,
                                                                     tmp_path):
  judge = smoke_judge
  args = ('--config=configs/stargan.py:smoke', f'--workdir={trained_workdir}', '--mode=eval',
          f'--config.eval.judge={judge}', f'--config.eval.cache_dir={tmp_path / "cache"}')
  first = run_main(*args)
  assert first.returncode == 0, first.stderr[-3000:]
  with open(os.path.join(trained_workdir, 'eval', '0000004.json')) as f:
    result = json.load(f)
  for key in ('fid', 'kid', 'kid_std', 'precision', 'recall', 'density', 'coverage',
              'transfer_accuracy', 'preservation', 'cycle_l1', 'cycle_psnr', 'cycle_ssim'):
    assert np.isfinite(result[key]), key
  assert result['num_images'] == 16 and not result['comparable_to_papers']
  assert result['extractor'].startswith('classifier ') and 'NOT' not in result['extractor']
  assert 'eval step 4: 16/16 images (100%)' in first.stderr           # progress with ETA
  assert 'ETA' in first.stderr
  with open(os.path.join(trained_workdir, 'eval', 'report.html')) as f:
    html = f.read()
  assert '<svg' in html and 'data:image/png;base64,' in html and 'NOT comparable' in html
  assert len(os.listdir(tmp_path / 'cache')) == 1
  second = run_main(*args)
  assert second.returncode == 0, second.stderr[-3000:]
  assert 'Reference statistics from cache' in second.stderr
  with open(os.path.join(trained_workdir, 'eval', '0000004.json')) as f:
    again = json.load(f)
  assert again['fid'] == result['fid'] and again['reference'].endswith('(cached)')


def test_eval_without_inception_weights_says_so(trained_workdir, tmp_path):
  result = run_main('--config=configs/stargan.py:smoke', f'--workdir={trained_workdir}',
                    '--mode=eval', '--config.eval.extractor=inception_v3',
                    f'--config.eval.inception_weights={tmp_path / "absent.pth"}')
  assert result.returncode == 2 and 'Traceback' not in result.stderr
  assert 'NOT comparable to FIDs in papers' in result.stderr
