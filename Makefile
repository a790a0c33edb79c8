# MiniFlix Studio: `make run` sets up and starts the studio, `make test` sets up and runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HLS_JS := resources/web/node_modules/hls.js/dist/hls.min.js
APT_PACKAGES := ffmpeg vlc-bin vlc-plugin-base vlc-plugin-video-output libvlc-dev xvfb xauth \
	libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
	libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 \
	libxcb-randr0 libxcb-render-util0 libxcb-image0 libglib2.0-0 \
	imagemagick wrk nginx-light \
	nodejs chromium openjdk-17-jre-headless
.PHONY: setup system-packages venv run test lint bench screenshots clean

setup: system-packages $(STAMP) $(HLS_JS)

system-packages:
	@./packaging/ensure_system_packages.sh $(APT_PACKAGES)

# The browser test page's player: hls.js from npm, served by our server (nothing fetched at run time).
$(HLS_JS): resources/web/package.json resources/web/package-lock.json
	@command -v npm >/dev/null || ./packaging/ensure_system_packages.sh npm
	cd resources/web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

run: setup
	$(PY) main.py $(ARGS)

test: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: setup
	$(PY) bench/encode_ladder.py

# Installers (issue 6): the one-folder app, .tar.gz and .deb in packaging/dist; not part of `make test`
# (the PyInstaller build takes ~5 minutes on 2 cores; on Linux the bundle's own FFmpeg is compiled
# first, ~15 minutes once, then cached: packaging/ffmpeg_build.py, its build-dependencies installed
# here). `package-test` runs the built app with the system's ffmpeg and VLC hidden.
.PHONY: package package-test
package: setup
	@./packaging/ensure_system_packages.sh nasm pkg-config libx264-dev libzimg-dev libdav1d-dev zlib1g-dev dpkg-dev
	@$(PY) -c 'import PyInstaller' 2>/dev/null || $(PY) -m pip install -q -e '.[package]'
	$(PY) packaging/build.py $(PACKAGE_ARGS)

package-test: package
	$(PY) packaging/smoke_test.py $(SMOKE_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
