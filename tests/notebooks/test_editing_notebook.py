"""notebooks/editing.ipynb runs headless at smoke size and shows each of its edits."""

from tests.notebooks import notebook_runner


def test_editing_notebook_executes(tmp_path, monkeypatch):
  outputs = notebook_runner.execute('editing.ipynb', tmp_path, monkeypatch)
  notebook_runner.check_editing(outputs)
