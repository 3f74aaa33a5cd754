# borderwatch: set-up and the two commands the README opens with.
# Works on a fresh Debian machine with Python 3.11 and access to PyPI/Debian only.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)
APT_PACKAGES := gdal-bin chromium

.PHONY: demo test test-fast install system-deps bench clean

demo: install                ## render the synthetic upper-Yalu stretch and run the pipeline on it
	$(BIN)/borderwatch demo --out borderwatch-demo

test: install system-deps    ## every test, slow and browser ones included
	$(BIN)/python -m pytest -q

test-fast: install           ## the fast tests only
	$(BIN)/python -m pytest -q -m "not slow"

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt   # constraints.txt: the versions tested (pyproject.toml: the ranges)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# ogrinfo (GDAL's own check of our GeoPackages) and Chromium (the web map test).
system-deps:
	@missing=""; \
	command -v ogrinfo >/dev/null 2>&1 || missing="$$missing gdal-bin"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || exit 1; \
	  else \
	    echo "note: install$$missing (apt-get) to run the GDAL and browser tests"; \
	  fi; \
	fi

bench: install               ## benchmarks (print figures; not tests)
	$(BIN)/python bench/bench_synth.py --km 0:2
	$(BIN)/python bench/bench_pipeline.py

clean:
	rm -rf borderwatch-demo .pytest_cache
