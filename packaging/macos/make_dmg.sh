#!/usr/bin/env bash
# macOS: build "MiniFlix Studio.app" with PyInstaller and wrap it in a .dmg (run on a Mac).
#   brew install ffmpeg && brew install --cask vlc     # what gets bundled
#   packaging/macos/make_dmg.sh                         # -> packaging/dist/miniflix-<version>-macos-<arch>.dmg
# Needs the venv with the `package` extra (pip install -e '.[package]') and resources/web installed
# (npm ci in resources/web). Signing/notarisation: set CODESIGN_IDENTITY to sign the .app.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${PYTHON:-"$root/.venv/bin/python"}
version=$("$py" -c "import sys; sys.path.insert(0, '$root/packaging'); import bundle; print(bundle.version())")
res="$root/packaging/resources"

# The .icns icon from the PNG (sips and iconutil ship with macOS).
iconset=$(mktemp -d)/miniflix.iconset
mkdir -p "$iconset"
for size in 16 32 64 128 256; do
  sips -z $size $size "$res/miniflix.png" --out "$iconset/icon_${size}x${size}.png" >/dev/null
  sips -z $((size * 2)) $((size * 2)) "$res/miniflix.png" --out "$iconset/icon_${size}x${size}@2x.png" >/dev/null
done
iconutil -c icns "$iconset" -o "$res/miniflix.icns"

# Homebrew's ffmpeg is a small binary linking Homebrew dylibs; PyInstaller collects those.
export MINIFLIX_BUNDLE_FFMPEG=${MINIFLIX_BUNDLE_FFMPEG:-$(command -v ffmpeg)}
export MINIFLIX_BUNDLE_FFPROBE=${MINIFLIX_BUNDLE_FFPROBE:-$(command -v ffprobe)}
"$py" "$root/packaging/build.py"

app="$root/packaging/dist/MiniFlix Studio.app"
[ -d "$app" ] || { echo "error: $app was not built" >&2; exit 1; }
if [ -n "${CODESIGN_IDENTITY:-}" ]; then
  codesign --deep --force --options runtime --sign "$CODESIGN_IDENTITY" "$app"
fi
"$app/Contents/MacOS/miniflix" --version

out="$root/packaging/dist/miniflix-$version-macos-$(uname -m).dmg"
stage=$(mktemp -d)
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
rm -f "$out"
hdiutil create -volname "MiniFlix Studio $version" -srcfolder "$stage" -fs HFS+ -format UDZO "$out"
rm -rf "$stage"
echo "built $out"
