# Two commands matter (see README):  `make book` builds the site, `make test` runs every test.
# Both create .venv with the pinned versions on first use; later runs reinstall nothing
# unless requirements-dev.txt or pyproject.toml changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LINTED := course_lib tests scripts benchmarks _ext notebooks

.PHONY: book test venv lint unit sync-check nbval book-ci site notebooks benchmark clean

$(STAMP): requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "need Python >= 3.10, found " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## The site, executed under the profile this machine gets (cpu here, gpu with CUDA).
book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "site: _build/html/index.html"

## Everything CI runs, in order of speed. Notebooks execute under the ci profile.
test: lint sync-check unit nbval book-ci site

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check course_lib tests scripts benchmarks _ext
	@# chapter code must fit 88 columns: the site shows that much without scrolling sideways
	$(BIN)/ruff check --line-length 88 --select E501 notebooks

sync-check: $(STAMP)
	$(BIN)/python scripts/notebooks.py check

unit: $(STAMP)
	$(BIN)/python -m pytest tests --ignore=tests/site

## nbval stops any cell that runs past the ci profile's cell_timeout and names it.
## notebooks/conftest.py keeps it off notebooks/student/ (no outputs to compare).
nbval: $(STAMP)
	COURSE_PROFILE=ci $(BIN)/python -m pytest --nbval --nbval-current-env -p no:cacheprovider \
		--nbval-cell-timeout=$$($(BIN)/python -c 'from course_lib.config import get_profile; print(get_profile("ci").cell_timeout)') \
		notebooks

book-ci: $(STAMP)
	COURSE_PROFILE=ci $(BIN)/jupyter-book build . -W -n --keep-going --path-output _build/ci

## The ci site's pages as files, then in Debian's Chromium over loopback (tests/site).
## Without Chromium the browser test is skipped and says why; in CI (CI=true) it fails.
site: $(STAMP)
	$(BIN)/python -m pytest tests/site -p no:cacheprovider

## Maintainer helpers.
notebooks: $(STAMP)   ## rebuild notebooks/*.ipynb (executed, ci) and notebooks/student/*.ipynb from book/*.md
	$(BIN)/python scripts/notebooks.py sync

benchmark: $(STAMP)   ## ratios against a reference measured in the same run
	$(BIN)/python benchmarks/bench_batching.py
	$(BIN)/python benchmarks/bench_conv.py
	$(BIN)/python benchmarks/bench_rnn.py

clean:
	rm -rf _build
