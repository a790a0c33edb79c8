#!/bin/sh
# Add MiniFlix Studio (unpacked from the .tar.gz, wherever it now is) to the desktop menu of this user.
# Undo with: rm ~/.local/share/applications/miniflix.desktop ~/.local/share/icons/hicolor/256x256/apps/miniflix.png
set -eu
here=$(cd "$(dirname "$0")" && pwd)
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/256x256/apps"
mkdir -p "$apps" "$icons"
cp "$here/miniflix.png" "$icons/miniflix.png"
sed "s|^Exec=miniflix|Exec=\"$here/miniflix\"|" "$here/miniflix.desktop" > "$apps/miniflix.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$apps" || true
echo "MiniFlix Studio added to the menu ($apps/miniflix.desktop)."
