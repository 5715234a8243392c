"""notebooks/stargan_quickstart.ipynb runs headless at smoke size; every notebook has a test."""

import os

from tests.notebooks import notebook_runner

HERE = os.path.dirname(os.path.abspath(__file__))


def test_stargan_quickstart_notebook_executes(tmp_path, monkeypatch):
  outputs = notebook_runner.execute('stargan_quickstart.ipynb', tmp_path, monkeypatch)
  notebook_runner.check_stargan_quickstart(outputs)


def test_every_notebook_has_its_own_test_file():
  """A new notebook gets tests/notebooks/test_<name>_notebook.py (its own unit of work)."""
  tested = {f[len('test_'):-len('_notebook.py')] + '.ipynb' for f in os.listdir(HERE)
            if f.startswith('test_') and f.endswith('_notebook.py')}
  assert set(notebook_runner.NOTEBOOKS) == tested, (notebook_runner.NOTEBOOKS, tested)
