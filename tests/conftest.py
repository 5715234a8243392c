"""Eight fake CPU devices for the whole test session (set before JAX runs anything), so every
test exercises the sharded path; tests that need one device build a one-device mesh."""

import os
import shutil
import sys
import tempfile

from tests.main_runner import TEST_XLA_FLAGS

# Tests compile many tiny programs and run each a few times: XLA's optimisations cost more than
# they save there (see TEST_XLA_FLAGS). Set before JAX starts its backend.
os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') + ' ' + TEST_XLA_FLAGS).strip()

# One JAX persistent compilation cache per test session, made by the first pytest process (the
# xdist controller) and inherited by the two workers and the main.py subprocesses they start
# (tests/main_runner.py passes the environment on): a program that several tests compile (a smoke
# config trained, then resumed; the same model in two files) compiles once. Removed at the end.
_OWN_CACHE_DIR = None
if 'PYTEST_XDIST_WORKER' not in os.environ and 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
  _OWN_CACHE_DIR = tempfile.mkdtemp(prefix='gan_jax_tests_xla_cache_')
  os.environ['JAX_COMPILATION_CACHE_DIR'] = _OWN_CACHE_DIR
  os.environ['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS'] = '0.2'

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
# `pytest --junitxml` on 2 cores of an AMD EPYC VM, 2026-12-07, with TEST_XLA_FLAGS; the whole
# suite is ~1,130 s of work there). `make test` runs with --dist loadfile --no-loadscope-reorder,
# so files are handed out in this order and the short ones fill in at the end: no long file is
# left running alone while the other worker idles.
SLOW_FILES_FIRST = (
    'tests/trainers/test_gan.py',                          # 126
    'tests/trainers/test_cyclegan.py',                     # 112
    'tests/trainers/test_gan_editing.py',                  # 77
    'tests/trainers/test_stargan_step.py',                 # 75
    'tests/trainers/test_encoder.py',                      # 70
    'tests/test_main.py',                                  # 53
    'tests/trainers/test_adain.py',                        # 44
    'tests/notebooks/test_style_transfer_notebook.py',     # 43
    'tests/notebooks/test_editing_notebook.py',            # 42
    'tests/test_finetune.py',                              # 39
    'tests/metrics/test_inception.py',                     # 38
    'tests/editing/test_inversion.py',                     # 34
    'tests/trainers/test_loop.py',                         # 31
    'tests/test_tiling.py',                                # 29
    'tests/editing/test_guided.py',                        # 26
    'tests/style/test_gatys.py',                           # 25
    'tests/trainers/test_classifier.py',                   # 24
    'tests/models/test_layers.py',                         # 23
    'tests/trainers/test_gatys_cli.py',                    # 17
    'tests/style/test_vgg_weights.py',                     # 17
    'tests/trainers/test_vae.py',                          # 16
    'tests/models/test_dcgan.py',                          # 16
    'tests/notebooks/test_stargan_quickstart_notebook.py', # 12
)


def pytest_collection_modifyitems(config, items):
  """Runs the files of SLOW_FILES_FIRST first, in that order; the rest keep pytest's order."""
  del config
  rank = {path: i for i, path in enumerate(SLOW_FILES_FIRST)}
  items.sort(key=lambda item: rank.get(item.nodeid.split('::')[0], len(rank)))


def pytest_sessionfinish(session, exitstatus):
  """Removes the session's compilation cache (in the process that made it)."""
  del session, exitstatus
  if _OWN_CACHE_DIR is not None:
    shutil.rmtree(_OWN_CACHE_DIR, ignore_errors=True)
