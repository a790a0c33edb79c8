"""Labs: what-if questions answered from the studio's own record (the CDN replay lab first).

Each lab is a pure engine module (no flask, no PySide6) with a CLI command (`main.py lab …`), an HTTP
route and a tab in the studio's Lab view.
"""
