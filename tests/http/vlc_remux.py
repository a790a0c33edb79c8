"""Real VLC (libvlc through python-vlc) as its own process: play a URL to the end, writing what it
reads into an MPEG-TS file, so a test can count the frames VLC got and pause the player (SIGSTOP).

Usage: python -m tests.http.vlc_remux URL OUT.ts — prints VLC's final state, exits 0 when it ended.
"""

from __future__ import annotations

import sys
import time

END_STATES = ("Ended", "Error", "Stopped")
TIMEOUT_S = 120.0


def remux(url: str, out: str) -> str:
    """VLC's final state after playing `url` with its stream output writing `out`."""
    import vlc

    instance = vlc.Instance("--quiet", "--no-sout-display", "--adaptive-logic=highest")
    media = instance.media_new(url, f":sout=#std{{access=file,mux=ts,dst={out}}}", ":sout-keep")
    player = instance.media_player_new()
    player.set_media(media)
    player.play()
    deadline = time.monotonic() + TIMEOUT_S
    while (state := str(player.get_state()).split(".")[-1]) not in END_STATES:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    player.stop()
    player.release()
    instance.release()
    return state


if __name__ == "__main__":
    final = remux(sys.argv[1], sys.argv[2])
    print(final, flush=True)
    sys.exit(0 if final == "Ended" else 1)
