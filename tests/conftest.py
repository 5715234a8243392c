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
