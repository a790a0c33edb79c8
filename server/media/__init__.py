"""Media pipeline pieces: find ffmpeg, probe, plan the ladder and chunks, encode, package, verify."""
