"""Every notebook runs headless, top to bottom, at smoke size."""

import os

import nbclient
import nbformat
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(f for f in os.listdir(os.path.join(ROOT, 'notebooks')) if f.endswith('.ipynb'))


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_notebook_executes(name, tmp_path, monkeypatch):
  monkeypatch.setenv('GAN_JAX_NOTEBOOK_SMOKE', '1')
  monkeypatch.setenv('GAN_JAX_NOTEBOOK_WORKDIR', str(tmp_path / 'workdir'))
  monkeypatch.delenv('XLA_FLAGS', raising=False)
  with open(os.path.join(ROOT, 'notebooks', name)) as f:
    notebook = nbformat.read(f, as_version=4)
  client = nbclient.NotebookClient(notebook, timeout=300, kernel_name='python3',
                                   resources={'metadata': {'path': ROOT}})
  client.execute()
  errors = [o for cell in notebook.cells if cell.cell_type == 'code'
            for o in cell.get('outputs', []) if o.get('output_type') == 'error']
  assert not errors
  images = [o for cell in notebook.cells for o in cell.get('outputs', [])
            if 'image/png' in o.get('data', {})]
  assert images, 'the notebook should show its sample grid and translation'
