"""Runs main.py as a user does: a subprocess on one (or more) fake CPU devices, offline."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# XLA:CPU options of every process of the test session (the pytest workers via tests/conftest.py,
# main.py subprocesses, notebook kernels). The tests compile hundreds of tiny programs and run
# each a few times, so compile time is most of the suite. Without LLVM's optimisation and
# expensive passes, and with XLA:CPU's older loop emitters instead of its MLIR fusion emitters,
# tests/trainers/test_gan.py alone runs in 109 s instead of 157 s (level 0 only), and the
# whole suite's work falls from ~1,950 s to ~1,130-1,250 s (2 cores of an AMD EPYC VM,
# 2026-12-07). Results differ from the default build only by float rounding.
TEST_XLA_FLAGS = ('--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true '
                  '--xla_cpu_use_fusion_emitters=false')


def run_main(*args, timeout=300, devices=1):
  """main.py with args in a subprocess on `devices` fake CPU devices, compiled with the
  tests' TEST_XLA_FLAGS."""
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  env['XLA_FLAGS'] = f'--xla_force_host_platform_device_count={devices} {TEST_XLA_FLAGS}'
  env['TFDS_DATA_DIR'] = env.get('TFDS_DATA_DIR', '/nonexistent-tfds-dir')
  return subprocess.run([sys.executable, 'main.py', *args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=timeout)
