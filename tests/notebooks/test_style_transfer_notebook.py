"""notebooks/style_transfer.ipynb runs headless at smoke size and shows each method's pictures."""

from tests.notebooks import notebook_runner


def test_style_transfer_notebook_executes(tmp_path, monkeypatch):
  outputs = notebook_runner.execute('style_transfer.ipynb', tmp_path, monkeypatch)
  notebook_runner.check_style_transfer(outputs)
