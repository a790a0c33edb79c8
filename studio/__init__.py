"""MiniFlix Studio: the PySide6 desktop app; talks to the server only over HTTP and SSE."""
