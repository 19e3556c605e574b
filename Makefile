# The README's two commands: `make run` (the demo federation, its resolver on
# 127.0.0.1:8000) and `make test`.
# Both create .venv, install tierid with its Cython extensions, and need nothing else
# prepared on a fresh Debian machine with Python 3.11 (system packages they need are
# installed with apt-get when missing and we are root).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := python3-venv python3-dev gcc

.PHONY: install run test bench lint clean

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "tierid needs Python 3.11+"'
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python venv support missing: installing $(APT_PACKAGES)"; \
	  rm -rf $(VENV); \
	  apt-get update -qq && apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	  $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip setuptools wheel

$(VENV)/.installed: $(PY) pyproject.toml setup.py $(wildcard ext/*.pyx)
	@command -v cc >/dev/null || { apt-get update -qq && apt-get install -y -qq gcc python3-dev >/dev/null; }
	$(PY) -m pip install -q -e '.[test]'
	TIERID_REQUIRE_EXTENSIONS=1 $(PY) -c 'import resolver.handle as h; print("tierid: hot paths use the", h.IMPLEMENTATION, "twins")'
	@touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/tierid demo

test: install
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
	@command -v dig >/dev/null && command -v kdig >/dev/null || { apt-get update -qq && apt-get install -y -qq bind9-dnsutils knot-dnsutils >/dev/null; }
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	$(VENV)/bin/ruff check .
	TIERID_REQUIRE_EXTENSIONS=1 $(PY) -m pytest -q
	TIERID_NO_EXTENSIONS=1 $(PY) -m pytest -q tests/test_compat.py

bench: install
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	@command -v redis-benchmark >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-tools redis-server >/dev/null; }
	@command -v dnsperf >/dev/null && command -v unbound >/dev/null && command -v kresd >/dev/null || { apt-get update -qq && apt-get install -y -qq dnsperf unbound knot-resolver >/dev/null; }
	$(PY) bench/http_resolve.py --readme
	$(PY) bench/cold_walk.py --readme
	$(PY) bench/cache_hit.py --readme
	$(PY) bench/dns_resolve.py --readme
	$(PY) bench/bulk_import.py --readme
	$(PY) bench/hdl_codec.py --readme
	$(PY) bench/hdl_resolve.py --readme

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info resolver/*.so ext/*.c
