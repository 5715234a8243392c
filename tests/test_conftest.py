"""The suite's scheduling list names real files (a renamed file would silently drop out of it)."""

import os

from tests import conftest


def test_every_file_in_the_slow_first_list_exists_once():
  for path in conftest.SLOW_FILES_FIRST:
    assert os.path.isfile(os.path.join(conftest.ROOT, path)), path
  assert len(set(conftest.SLOW_FILES_FIRST)) == len(conftest.SLOW_FILES_FIRST)
