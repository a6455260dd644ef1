"""The CLI's exit statuses: one per kind of fault, so scripts can tell them apart.

The rule: 70 means a bug in kiji and nothing else. Every fault of input, files, network or
environment ends as one line on stderr that says what to do, with the status of its kind below.
Exceptions that are not ``KijiError`` but plainly come from the environment (``OSError``: permission
denied, disk full, read-only file system; ``MemoryError``; an SQLite file that is damaged, locked or
unwritable) are translated here, so no command needs to wrap them one by one. The table in docs/cli.md is
checked against ``EXIT_CODES`` by a test.
"""

from __future__ import annotations

import errno
import re
import socket
import sqlite3
from dataclasses import dataclass

from kiji.errors import (
    BuildError,
    CorpusError,
    CredentialsRejected,
    FetchRefused,
    IndexUnavailable,
    InvalidInput,
    KijiError,
    ModelError,
    NotFound,
    RateLimited,
    ServiceUnreachable,
    SystemFault,
)


@dataclass(frozen=True, slots=True)
class ExitCode:
    status: int
    name: str
    meaning: str
    errors: tuple[type[KijiError], ...] = ()


OK = 0
BUG = 70
INTERRUPTED = 130
#: 128 + SIGPIPE, what a shell reports for a program whose reader went away (``kiji ... | head``).
OUTPUT_CLOSED = 141

EXIT_CODES: tuple[ExitCode, ...] = (
    ExitCode(OK, "ok", "success (also when the articles do not answer the question)"),
    ExitCode(1, "other", "a kiji error of no kind below (none is raised today; kept as a safety net)",
             (KijiError,)),
    ExitCode(2, "input", "bad input: question, option, setting, article id, or a line of `--json -`",
             (InvalidInput, NotFound)),
    ExitCode(3, "index", "no usable index: none built, damaged (CURRENT, a manifest, a file), "
                         "or built with another model", (IndexUnavailable,)),
    ExitCode(4, "model", "the embedding model cannot be loaded or prepared", (ModelError,)),
    ExitCode(5, "build", "a build or rollback did not publish (another build runs, validation failed, "
                         "nothing to roll back to); the served version and the corpus are unchanged",
             (BuildError,)),
    ExitCode(6, "corpus", "the corpus folder or an article file cannot be used (missing, unreadable, "
                          "too large, its id already taken)", (CorpusError,)),
    ExitCode(7, "network", "a service could not be reached (Discord's API or gateway, a web page or "
                           "feed: DNS, refused, timeout, 5xx), or the server's address could not be bound",
             (ServiceUnreachable,)),
    ExitCode(8, "refused", "a service refused kiji: the Discord token or gateway intents were rejected, "
                           "too many requests, or a site's robots.txt disallows the page",
             (CredentialsRejected, RateLimited, FetchRefused)),
    ExitCode(9, "system", "the system refused a file operation (permission, disk full, read-only), "
                          "a database file is damaged or locked, or memory ran out", (SystemFault,)),
    ExitCode(BUG, "bug", "an internal error: a bug in kiji (`KIJI_DEBUG=1` shows the traceback)"),
    ExitCode(INTERRUPTED, "interrupted", "stopped by Ctrl-C"),
    ExitCode(OUTPUT_CLOSED, "output closed", "the reader of stdout went away (output piped into `head`); "
                                             "nothing is printed"),
)

#: SQLite conditions that are the file's or the system's fault, not kiji's SQL.
_SQLITE_SYSTEM = {"SQLITE_NOTADB", "SQLITE_CORRUPT", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN",
                  "SQLITE_READONLY", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_PERM"}


_NETWORK_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EHOSTUNREACH,
                   errno.ENETUNREACH, errno.ETIMEDOUT, errno.EADDRINUSE, errno.EADDRNOTAVAIL}


#: numpy's ``tofile`` (under ``np.save``) reports a short write with no errno: a full disk or a
#: file-size limit, seen as "107136 requested and 25568 written".
_SHORT_WRITE = re.compile(r"^\d+ requested and \d+ written$")


def status_for(exc: KijiError) -> int:
    """The most specific class listed wins (``IndexCorrupt`` is an ``IndexUnavailable``: 3)."""
    best: tuple[int, int] | None = None  # (depth in the class tree, status)
    for code in EXIT_CODES:
        for cls in code.errors:
            if isinstance(exc, cls):
                depth = len(cls.__mro__)
                if best is None or depth > best[0]:
                    best = (depth, code.status)
    return best[1] if best else 1


def as_kiji_error(exc: BaseException) -> KijiError | None:
    """The ``KijiError`` an environmental exception stands for, or ``None`` when it is a bug."""
    if isinstance(exc, KijiError):
        return exc
    if isinstance(exc, MemoryError):
        return SystemFault("out of memory", hint="free memory, or lower KIJI_MAX_ARTICLE_BYTES / "
                                                 "KIJI_EMBED_BATCH_SIZE")
    if isinstance(exc, sqlite3.DatabaseError) and getattr(exc, "sqlite_errorname", "") in _SQLITE_SYSTEM:
        return SystemFault(f"a database file cannot be used: {exc}",
                           hint="check free space and permissions; move a damaged file away")
    if isinstance(exc, (ConnectionError, socket.gaierror, TimeoutError)) or \
            (isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS):
        return ServiceUnreachable(f"a network connection failed: {exc.strerror or exc}",
                                  hint="check the network and the addresses in the settings")
    if isinstance(exc, OSError) and exc.errno is None and _SHORT_WRITE.match(str(exc)):
        return SystemFault("cannot write a file: the disk is full (or a file-size limit was reached)",
                           hint="free space, then run the command again")
    if isinstance(exc, OSError) and exc.errno is not None:
        where = f" {exc.filename}" if exc.filename else ""
        reason = exc.strerror or errno.errorcode.get(exc.errno, "error")
        return SystemFault(f"cannot use{where}: {reason}",
                           hint="check permissions and free space, then run the command again")
    return None
