"""Playback backends (python-vlc, QtMultimedia) behind one interface."""
