# Two commands do all the set-up on a fresh machine (Python 3.10+ with venv):
#   make run    create .venv from requirements.txt, then train StarGAN on the embedded faces
#   make test   create .venv if needed, then run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
WORKDIR ?= workdirs/stargan_synthetic

.PHONY: run test env
env: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements/base.txt requirements/data.txt requirements/dev.txt requirements/lock-cpu.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

run: env
	$(PY) main.py --config=configs/stargan.py:synthetic --workdir=$(WORKDIR)

test: env
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadfile --no-loadscope-reorder tests
