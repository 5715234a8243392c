"""Eight fake CPU devices for the whole test session (set before JAX runs anything), so every
test exercises the sharded path; tests that need one device build a one-device mesh."""

import os
import sys

# Tests compile many tiny programs and run each a few times: XLA's backend optimisation costs
# more than it saves there (about 25 % of the suite's time). Set before JAX starts its backend.
os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_backend_optimization_level=0').strip()

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

jax.config.update('jax_num_cpu_devices', 8)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)


@pytest.fixture(scope='session')
def smoke_judge(tmp_path_factory):
  """A configs/classifier.py:smoke workdir (trained once per session): a judge and extractor."""
  from tests.main_runner import run_main   # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path_factory.mktemp('judge'))
  result = run_main('--config=configs/classifier.py:smoke', f'--workdir={workdir}')
  assert result.returncode == 0, result.stderr[-3000:]
  return workdir


# The slowest test files, slowest first (seconds of one worker, summed over the file's tests,
# `pytest --junitxml` on 2 cores, 2026-11-27; the whole suite is ~1,100 s of work). `make test`
# runs with --dist loadfile --no-loadscope-reorder, so files are handed out in this order and the
# short ones fill in at the end: no long file is left running alone while the other worker idles.
SLOW_FILES_FIRST = (
    'tests/trainers/test_gan.py',                          # 140
    'tests/trainers/test_stargan_step.py',                 # 100
    'tests/trainers/test_cyclegan.py',                     # 88
    'tests/test_main.py',                                  # 62
    'tests/trainers/test_encoder.py',                      # 62
    'tests/trainers/test_gan_editing.py',                  # 61
    'tests/test_finetune.py',                              # 51
    'tests/trainers/test_loop.py',                         # 49
    'tests/trainers/test_adain.py',                        # 44
    'tests/notebooks/test_editing_notebook.py',            # 39
    'tests/editing/test_inversion.py',                     # 37
    'tests/notebooks/test_style_transfer_notebook.py',     # 37
    'tests/style/test_gatys.py',                           # 29
    'tests/trainers/test_classifier.py',                   # 27
    'tests/notebooks/test_stargan_quickstart_notebook.py', # 21
)


def pytest_collection_modifyitems(config, items):
  """Runs the files of SLOW_FILES_FIRST first, in that order; the rest keep pytest's order."""
  del config
  rank = {path: i for i, path in enumerate(SLOW_FILES_FIRST)}
  items.sort(key=lambda item: rank.get(item.nodeid.split('::')[0], len(rank)))
