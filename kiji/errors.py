"""Every error kiji raises on purpose, in one tree.

Each edge translates these once: the API into an HTTP status and a JSON error body, the CLI into a
one-line message and an exit status, the Discord bot into an ephemeral reply. Anything that is not a
``KijiError`` is a bug: edges log it and answer with a generic message, never a traceback.

    KijiError
    ├── InvalidInput            bad question or option (API 422, CLI exit 2, Discord ephemeral)
    ├── NotFound                unknown article id (API 404)
    ├── CorpusError             the corpus cannot be read at all
    │   └── ArticleError        one file is broken; a build skips it and reports it
    ├── ModelError              the embedding model cannot be loaded or prepared
    ├── IndexUnavailable        no usable index (API 503, CLI exit 3)
    │   ├── IndexMissing        nothing built yet: run `kiji index build`
    │   ├── IndexCorrupt        a file is truncated, unreadable or inconsistent
    │   └── IndexIncompatible   built with another model, dimension or runtime
    ├── BuildError              a build could not publish a new version (the old one stays)
    │   └── BuildLocked         another build holds the lock
    ├── RateLimited             too many requests (API 429, Discord cooldown)
    ├── ServiceUnreachable      a service (Discord's API or gateway) could not be reached
    │   └── FetchFailed         a web page or feed could not be fetched (DNS, refused, timeout, 5xx)
    ├── PageUnusable            a URL or what it serves cannot be an article (4xx, not HTML, no text,
    │                           too large, redirect loop, an address kiji may not fetch)
    ├── FetchRefused            a site's robots.txt disallows the page
    ├── CredentialsRejected     a service refused kiji's credentials or permissions
    └── SystemFault             the operating system refused a file operation, or memory ran out

Each class has its own CLI exit status (``kiji/exit_codes.py``, the table in docs/cli.md).

Messages never contain secrets: tokens and keys are read from the environment and never formatted
into an exception.
"""

from __future__ import annotations


class KijiError(Exception):
    """Base of every deliberate kiji error; ``str(err)`` is safe to show to a user."""

    #: Machine-readable code used in API error bodies and logs.
    code: str = "kiji_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InvalidInput(KijiError):
    code = "invalid_input"


class NotFound(KijiError):
    code = "not_found"


class CorpusError(KijiError):
    code = "corpus_error"


class ArticleError(CorpusError):
    """One article could not be read; carries the file so build summaries can name it."""

    code = "article_error"

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source


class ModelError(KijiError):
    code = "model_error"


class IndexUnavailable(KijiError):
    code = "index_unavailable"


class IndexMissing(IndexUnavailable):
    code = "index_missing"


class IndexCorrupt(IndexUnavailable):
    code = "index_corrupt"


class IndexIncompatible(IndexUnavailable):
    code = "index_incompatible"


class BuildError(KijiError):
    code = "build_error"


class BuildLocked(BuildError):
    code = "build_locked"


class RateLimited(KijiError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnreachable(KijiError):
    """A network failure: the message names what could not be reached (never a token)."""

    code = "service_unreachable"


class CredentialsRejected(KijiError):
    code = "credentials_rejected"


class SystemFault(KijiError):
    """Permission denied, disk full, a read-only file system, out of memory: fix the environment."""

    code = "system_fault"


class FetchFailed(ServiceUnreachable):
    """A page or feed could not be fetched: the host is unknown or unreachable, it timed out, or the
    server failed (5xx). The message names the URL and the cause."""

    code = "fetch_failed"


class PageUnusable(InvalidInput):
    """A URL that cannot become an article: invalid, refused by the address rule, answered 4xx,
    not HTML, over the size limit, without main text, or redirecting in a loop."""

    code = "page_unusable"


class FetchRefused(KijiError):
    """The site's robots.txt disallows kiji from fetching the page."""

    code = "fetch_refused"
