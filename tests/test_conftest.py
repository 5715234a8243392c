"""The suite's own set-up: the scheduling list names real files (a renamed file would silently
drop out of it), and every process of a session shares one compilation cache."""

import os

import jax

from tests import conftest
from tests import main_runner


def test_every_file_in_the_slow_first_list_exists_once():
  for path in conftest.SLOW_FILES_FIRST:
    assert os.path.isfile(os.path.join(conftest.ROOT, path)), path
  assert len(set(conftest.SLOW_FILES_FIRST)) == len(conftest.SLOW_FILES_FIRST)


def test_the_session_compilation_cache_reaches_jax_and_main_subprocesses(monkeypatch):
  cache_dir = os.environ['JAX_COMPILATION_CACHE_DIR']
  assert os.path.isdir(cache_dir)
  assert jax.config.jax_compilation_cache_dir == cache_dir
  seen = {}

  def fake_run(args, cwd, env, **kwargs):
    del args, cwd, kwargs
    seen.update(env)
  monkeypatch.setattr(main_runner.subprocess, 'run', fake_run)
  main_runner.run_main('--help', devices=2)
  assert seen['JAX_COMPILATION_CACHE_DIR'] == cache_dir
  assert '--xla_force_host_platform_device_count=2' in seen['XLA_FLAGS']
  assert main_runner.TEST_XLA_FLAGS in seen['XLA_FLAGS']
  assert main_runner.TEST_XLA_FLAGS in os.environ['XLA_FLAGS']
