"""Runs a notebook headless, top to bottom, at smoke size, and checks what it printed.

One test file per notebook (tests/notebooks/test_*_notebook.py): with `--dist loadfile` each
notebook is then its own unit of work, so the notebooks (20-40 s each) run on both workers
instead of queueing on one."""

import ast
import math
import os
import re

import nbclient
import nbformat

from tests.main_runner import TEST_XLA_FLAGS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOKS = sorted(f for f in os.listdir(os.path.join(ROOT, 'notebooks')) if f.endswith('.ipynb'))


def _printed(outputs, pattern: str) -> str:
  text = ''.join(o.get('text', '') for o in outputs if o.get('output_type') == 'stream')
  found = re.search(pattern, text)
  assert found, f'the notebook should print {pattern!r}; it printed:\n{text[-3000:]}'
  return found.group(1)


def check_stargan_quickstart(outputs):
  """The quickstart trained, then translated its input to the asked target (predicted and
  target attribute dicts printed): Blond_Hair on, the other hair colours off (one exclusive
  group), Male off, every other attribute as predicted."""
  predicted = ast.literal_eval(_printed(outputs, r'predicted: (\{.*\})\n'))
  target = ast.literal_eval(_printed(outputs, r'target: +(\{.*\})\n'))
  assert set(target) == set(predicted) and target['Blond_Hair'] == 1 and target['Male'] == 0
  for name, value in target.items():
    if name.endswith('_Hair') and name != 'Blond_Hair':
      assert value == 0, (name, target)
    elif name not in ('Blond_Hair', 'Male'):
      assert value == predicted[name], (name, target, predicted)


def check_editing(outputs):
  """Inversion, slider edit, guided edit, masked edit and style mixing each showed their pictures (the widgets
  only record their state headless; the notebook calls the same functions once itself)."""
  assert any('application/vnd.jupyter.widget-view+json' in o.get('data', {}) for o in outputs)
  assert _printed(outputs, r'(sefa0) +sefa') and _printed(outputs, r'\n(Male) +interfacegan')
  assert math.isfinite(float(_printed(outputs, r'inversion PSNR: (\S+) dB')))
  for caption in ('target  |  reconstruction', 'before  |  after: Male +2.00, sefa0 -1.00',
                  'before  |  guided: Male:+3.0',
                  'before  |  after (masked)', 'A  |  B  |  A with layers 0..2 of B'):
    _printed(outputs, '(' + re.escape(caption) + ')')
  assert float(_printed(outputs, r'max change outside the mask: (\S+);')) < 1e-4
  assert float(_printed(outputs, r'max change inside: (\S+)\n')) > 1e-3


def check_style_transfer(outputs):
  """Gatys (a blend of two styles, colour preservation), CycleGAN and AdaIN (a strength slider,
  rendered headless at fixed strengths, and a two-style row) each showed their pictures; under
  colour='luminance' the chroma is the content's, and the feature networks say what they are."""
  assert any('application/vnd.jupyter.widget-view+json' in o.get('data', {}) for o in outputs)
  assert sum('image/png' in o.get('data', {}) for o in outputs) >= 8
  # 'VGG19 (... pooling ...), <weights>' with ImageNet weights; else '..., NOT VGG19: <why>'.
  assert 'VGG19' in _printed(outputs, r'Gatys feature network: (.+)\n')
  assert 'VGG19' in _printed(outputs, r'AdaIN encoder: (.+)\n')
  luminance = float(_printed(outputs, r'colour luminance: +(\S+) \(over'))
  assert int(_printed(outputs, r'colour luminance: +\S+ \(over (\d+)% of the pixels')) >= 50
  none = float(_printed(outputs, r'colour none: +(\S+) \(over'))
  assert luminance < 1e-5 and none > 1e-3, (luminance, none)
  assert int(_printed(outputs, r'CycleGAN .*: step (\d+),')) > 0
  assert int(_printed(outputs, r'AdaIN decoder .*: step (\d+),')) > 0
  for caption in ('content  |  style A  |  style B  |  blend 0.70 A + 0.30 B',
                  'content  |  colour: none  |  colour: luminance',
                  'A (Black_Hair)  |  A -> B  |  A -> B -> A',
                  'B (Blond_Hair)  |  B -> A  |  B -> A -> B',
                  'content  |  style A  |  AdaIN alpha 0.00',
                  'content  |  style A  |  AdaIN alpha 0.50',
                  'content  |  style A  |  AdaIN alpha 1.00',
                  'style A  |  1.00 A + 0.00 B  |  0.75 A + 0.25 B  |  0.50 A + 0.50 B  |  '
                  '0.25 A + 0.75 B  |  0.00 A + 1.00 B  |  style B'):
    _printed(outputs, '(' + re.escape(caption) + ')')


def execute(name: str, tmp_path, monkeypatch) -> list:
  """Runs notebooks/<name> with the smoke switch and a fresh workdir; returns every code cell's
  outputs after checking that none is an error and that the notebook showed pictures."""
  monkeypatch.setenv('GAN_JAX_NOTEBOOK_SMOKE', '1')
  monkeypatch.setenv('GAN_JAX_NOTEBOOK_WORKDIR', str(tmp_path / 'workdir'))
  # The kernel compiles with the suite's XLA options (faster for tiny programs) and gets no
  # other flags from the environment.
  monkeypatch.setenv('XLA_FLAGS', TEST_XLA_FLAGS)
  with open(os.path.join(ROOT, 'notebooks', name)) as f:
    notebook = nbformat.read(f, as_version=4)
  client = nbclient.NotebookClient(notebook, timeout=300, kernel_name='python3',
                                   resources={'metadata': {'path': ROOT}})
  client.execute()
  outputs = [o for cell in notebook.cells if cell.cell_type == 'code'
             for o in cell.get('outputs', [])]
  errors = [o for o in outputs if o.get('output_type') == 'error']
  assert not errors, errors[0].get('traceback', errors[0])
  images = [o for o in outputs if 'image/png' in o.get('data', {})]
  assert images, 'the notebook should show its pictures'
  return outputs
