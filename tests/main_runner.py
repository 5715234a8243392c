"""Runs main.py as a user does: a subprocess on one (or more) fake CPU devices, offline."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_main(*args, timeout=300, devices=1):
  """main.py with args in a subprocess on `devices` fake CPU devices, compiled at XLA backend
  optimisation level 0 like the tests themselves (tests/conftest.py: tiny programs compile
  faster than they run)."""
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  env['XLA_FLAGS'] = (f'--xla_force_host_platform_device_count={devices} '
                      '--xla_backend_optimization_level=0')
  env['TFDS_DATA_DIR'] = env.get('TFDS_DATA_DIR', '/nonexistent-tfds-dir')
  return subprocess.run([sys.executable, 'main.py', *args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=timeout)
