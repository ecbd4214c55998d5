"""The wake-up directory cannot be turned against its user (issue 21, items 2 and 13).

Attacks by another local user run as real users (made with useradd; skipped unless root), in
forked processes that drop to each user's uid. The rest runs in a private $XDG_RUNTIME_DIR.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import traceback
from pathlib import Path

import pytest

from litequeue import LiteQueue
from litequeue.store.wakeup import Wakeup, wake_dir


@pytest.fixture
def runtime_dir(monkeypatch):
    """A private $XDG_RUNTIME_DIR with a short path, as /run/user/UID is (a socket's path is short)."""
    run = Path(tempfile.mkdtemp(prefix="lqrun-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    yield run
    shutil.rmtree(run, ignore_errors=True)


def test_a_runtime_dir_too_long_for_socket_paths_is_passed_over_for_tmp(monkeypatch, tmp_path):
    from litequeue.store.private_dir import MAX_RUNTIME_PATH

    monkeypatch.setenv("XDG_RUNTIME_DIR", "/" + "r" * MAX_RUNTIME_PATH)
    assert wake_dir(str(tmp_path / "a.sqlite")).startswith(f"/tmp/litequeue-{os.geteuid()}/")


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_wake_directory_is_private_and_in_the_runtime_dir(runtime_dir, tmp_path):
    db = str(tmp_path / "a.sqlite")
    w = Wakeup(db)
    listener = w.listen("w1")
    assert listener is not None and listener.path.startswith(str(runtime_dir / "litequeue"))
    assert mode(runtime_dir / "litequeue") == 0o700 and mode(os.path.dirname(listener.path)) == 0o700
    listener.close()
    w.close()


def test_a_loose_directory_of_our_own_is_tightened(runtime_dir, tmp_path):
    os.mkdir(runtime_dir / "litequeue")
    os.chmod(runtime_dir / "litequeue", 0o755)  # as older versions left /tmp/litequeue-UID
    w = Wakeup(str(tmp_path / "a.sqlite"))
    w.listen("w1").close()
    assert mode(runtime_dir / "litequeue") == 0o700
    w.close()


def test_notify_never_removes_anything_but_a_dead_socket(runtime_dir, tmp_path):
    db = str(tmp_path / "a.sqlite")
    worker = Wakeup(db)
    dead = worker.listen("dead")
    dead.sock.close()  # a worker killed without cleaning up: its socket file stays
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    directory = Path(wake_dir(db))
    (directory / "notes.txt").write_text("keep me too")
    os.symlink(outside, directory / "link")
    producer = Wakeup(db)
    producer.notify()
    assert outside.read_text() == "keep me" and (directory / "notes.txt").read_text() == "keep me too"
    assert (directory / "link").is_symlink()
    assert not os.path.exists(dead.path)  # the dead socket was cleaned up
    producer.close()
    worker.close()


def test_a_symlink_in_place_of_the_wake_directory_is_refused(runtime_dir, tmp_path, caplog):
    db = str(tmp_path / "a.sqlite")
    folder = tmp_path / "victim"
    folder.mkdir()
    for n in range(3):
        (folder / f"file{n}").write_text("data")
    (runtime_dir / "litequeue").mkdir(mode=0o700)
    os.symlink(folder, wake_dir(db))
    w = Wakeup(db)
    with caplog.at_level(logging.WARNING, logger="litequeue.wakeup"):
        assert w.listen("w") is None  # no wake-ups: the worker polls
        w.notify()
    assert sorted(p.name for p in folder.iterdir()) == ["file0", "file1", "file2"]
    assert "symbolic link" in caplog.text and "polling" in caplog.text
    w.close()


def test_wake_directories_of_stores_that_are_gone_are_removed(runtime_dir, tmp_path, monkeypatch):
    from litequeue.store import wakeup

    gone_db, live_db, kept_db = (str(tmp_path / f"{n}.sqlite") for n in ("gone", "live", "kept"))
    for path in (gone_db, live_db, kept_db):
        Path(path).touch()
    gone = Wakeup(gone_db)
    gone.listen("w").close()
    still_listening = Wakeup(live_db).listen("w")  # its database is gone too, but a worker listens
    Wakeup(kept_db).listen("w").close()
    os.remove(gone_db)
    os.remove(live_db)
    monkeypatch.setattr(wakeup, "_swept", False)  # as in a newly started worker
    Wakeup(str(tmp_path / "new.sqlite")).listen("w").close()
    assert not os.path.exists(wake_dir(gone_db))
    assert os.path.exists(wake_dir(live_db)) and os.path.exists(wake_dir(kept_db))
    still_listening.close()


# -- another local user ------------------------------------------------------------------------

def local_user(name: str) -> tuple[int, int]:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a second local user (useradd) and act as it")
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not installed")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       check=False, capture_output=True)
        entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def as_user(user: tuple[int, int], action) -> None:
    """Run ``action()`` in a forked process with the uid and gid of ``user``; fail on its failure."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(user[1])
            os.setuid(user[0])
            os.environ.pop("XDG_RUNTIME_DIR", None)
            action()
            code = 0
        except BaseException:  # noqa: BLE001 - reported, then the child exits
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.fixture
def users(monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    victim, attacker = local_user("lq-test-victim"), local_user("lq-test-attacker")
    base = f"/tmp/litequeue-{victim[0]}"
    shutil.rmtree(base, ignore_errors=True) if not os.path.islink(base) else os.remove(base)
    home = tempfile.mkdtemp(prefix="lq-victim-")
    os.chown(home, *victim)
    yield victim, attacker, Path(home), base
    shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(base, ignore_errors=True) if not os.path.islink(base) else os.remove(base)


@pytest.mark.parametrize("planted", ["directory", "symlink"])
def test_another_user_cannot_make_a_victims_enqueue_delete_its_files(users, tmp_path, planted):
    victim, attacker, home, base = users
    db = str(home / "jobs.sqlite")
    scratch = LiteQueue(str(tmp_path / "scratch.sqlite"))  # imports everything the victim's call needs
    scratch.send_task("t", args=[1])
    scratch.close()
    attackers_dir = f"/tmp/lq-attacker-{os.getpid()}"

    def plant() -> None:  # the attack of the issue: a folder (or link) at the guessable name
        if planted == "directory":
            os.mkdir(base, 0o777)
            os.chmod(base, 0o777)
            os.symlink(str(home), os.path.join(base, os.path.basename(wake_dir(db))))
        else:
            os.mkdir(attackers_dir, 0o777)
            os.symlink(attackers_dir, base)

    def victim_works() -> None:
        os.umask(0o077)
        for n in range(3):
            (home / f"file{n}.txt").write_text("mine")
        app = LiteQueue(db)
        app.send_task("tests.support.tasks.add", args=[1, 2])  # notifies "workers" in the planted folder
        assert sorted(p.name for p in home.iterdir() if p.name.startswith("file")) == [
            "file0.txt", "file1.txt", "file2.txt"]
        assert app.store.listener("w") is None  # wake-ups refused, not hijacked
        app.close()

    try:
        as_user(attacker, plant)
        as_user(victim, victim_works)
        assert sorted(p.name for p in home.iterdir() if p.name.startswith("file")) == [
            "file0.txt", "file1.txt", "file2.txt"]
        assert os.path.exists(db)
        if planted == "symlink":
            assert os.listdir(attackers_dir) == []  # nothing of the victim's went there
    finally:
        shutil.rmtree(attackers_dir, ignore_errors=True)


def test_another_users_wake_directory_is_never_entered(users, tmp_path):
    victim, attacker, home, base = users

    def victim_listens() -> None:
        w = Wakeup(str(home / "jobs.sqlite"))
        listener = w.listen("w")
        assert listener is not None
        assert mode(base) == 0o700 and os.stat(base).st_uid == victim[0]

    def attacker_tries() -> None:
        with pytest.raises(PermissionError):
            os.listdir(base)
        w = Wakeup(str(home / "jobs.sqlite"))  # the attacker's own directory is another one
        assert not w.dir.startswith(base + "/")

    as_user(victim, victim_listens)
    as_user(attacker, attacker_tries)
