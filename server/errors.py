"""One small exception tree; each error carries a user message and the HTTP status it maps to."""

from __future__ import annotations


class MiniflixError(Exception):
    """Base of every error the engine raises on purpose; `message` is written for the user."""

    status = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_dict(self) -> dict[str, str | int | None]:
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint,
                "status": self.status}


class InvalidRequest(MiniflixError):
    """The caller asked for something malformed (bad argument, bad field)."""

    status = 400


class Forbidden(MiniflixError):
    """A signature is wrong or expired, or a path tries to leave its root."""

    status = 403


class NotFound(MiniflixError):
    """No such title, job, object or query."""

    status = 404


class Conflict(MiniflixError):
    """The object exists in a state that forbids the action (e.g. retrying a running job)."""

    status = 409


class TooLarge(MiniflixError):
    """An upload or request body is over the configured limit."""

    status = 413


class MediaError(MiniflixError):
    """The input file cannot become a title: not media, unreadable, truncated, no usable stream."""

    status = 422


class JobError(MiniflixError):
    """A job failed while running (an encode that kept failing, a failed verification)."""

    status = 500


class Cancelled(MiniflixError):
    """The user stopped the job; its state is kept so it can resume."""

    status = 409


class ToolMissing(MiniflixError):
    """A required external program (ffmpeg, ffprobe, libvlc) is missing or too old."""

    status = 503


class DiskFull(MiniflixError):
    """The data dir's disk ran out of space; what failed can be retried once space is freed."""

    status = 507
