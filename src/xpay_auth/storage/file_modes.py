"""Files that hold secrets are readable by their owner only.

The SQLite database and its ``-wal`` and ``-shm`` files hold argon2 hashes, key HMACs and
encrypted signing keys; the development secret file holds the server secret. The database is
created 0600 before SQLite first opens it, and SQLite gives its WAL and shared-memory files
the mode of the database. Files that already exist are checked at start: in production a
file that group or others can read, write or run refuses the start, as OpenSSH refuses a
private key with such a mode, with the ``chmod`` that fixes it.
"""

from __future__ import annotations

import logging
import os
import shlex
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from xpay_auth.logs import log_event
from xpay_auth.settings import SECRET_FILE_NAME, Environment, Settings, SettingsError

_OTHERS = stat.S_IRWXG | stat.S_IRWXO
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite`` URL, or None for another database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (SQLite takes an empty file
    as a new database)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # The umask covers any file made while it is set; 0o600 alone would already do for
    # this one, the umask keeps a looser default of the process from widening it.
    previous = os.umask(0o077)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except FileExistsError:
        pass  # another process created it first; its mode is checked like any other
    finally:
        os.umask(previous)


def secret_files(settings: Settings) -> list[Path]:
    """The files of ``settings`` that hold secrets: database, its companions, secret file."""
    database = sqlite_file(settings.database_url)
    files: list[Path] = []
    if database is not None:
        files.append(database)
        files.extend(database.with_name(database.name + suffix) for suffix in _SQLITE_COMPANIONS)
    folder = database.parent if database is not None else Path.cwd()
    files.append(folder / SECRET_FILE_NAME)
    return files


def loose_files(paths: list[Path]) -> list[tuple[Path, int]]:
    """Each existing file of ``paths`` that its group or others may use, with its mode."""
    found = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & _OTHERS:
            found.append((path, mode))
    return found


def check_secret_files(settings: Settings) -> None:
    """Refuse to start in production when a secret-holding file is open to other users;
    elsewhere log a warning with the same fix."""
    loose = loose_files(secret_files(settings))
    if not loose:
        return
    names = " ".join(shlex.quote(str(path)) for path, _ in loose)
    modes = ", ".join(f"{path} is {mode:04o}" for path, mode in loose)
    message = (
        f"files holding hashes or secrets can be read by other users ({modes}); "
        f"run `chmod 600 {names}`"
    )
    if settings.env is Environment.PRODUCTION:
        raise SettingsError(message)
    log_event(
        "storage.files_exposed",
        level=logging.WARNING,
        files=[str(path) for path, _ in loose],
        fix=f"chmod 600 {names}",
    )
