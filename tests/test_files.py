import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from torchgeo_composition.files import (
    FileLockedError,
    atomic_path,
    file_lock,
    lock_path,
    remove_stale_temps,
    save_figure,
    write_text,
)


def test_atomic_path_moves_into_place_and_creates_folder(tmp_path: Path) -> None:
    target = tmp_path / "new" / "file.bin"
    with atomic_path(target) as temp:
        assert temp.parent == target.parent and temp.suffix == ".bin"
        temp.write_bytes(b"data")
        assert not target.exists()  # nothing under the final name until success
    assert target.read_bytes() == b"data"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]


def test_failure_leaves_target_and_no_temporary(tmp_path: Path) -> None:
    target = write_text(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as temp:
        temp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_save_figure_writes_png(tmp_path: Path) -> None:
    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    out = save_figure(fig, tmp_path / "plot.png", dpi=50)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lock_names_the_holder_and_is_reentrant(tmp_path: Path) -> None:
    target = tmp_path / "m.parquet"
    errors: list[BaseException] = []

    def contend() -> None:
        try:
            with file_lock(target, "manifest", timeout=0.05):
                pass  # pragma: no cover - must not get the lock
        except FileLockedError as err:
            errors.append(err)

    with file_lock(target, "manifest") as holder:
        assert holder is not None and holder.pid == os.getpid()
        with file_lock(target, "manifest"):  # re-entrant: no self-deadlock
            pass
        assert lock_path(target).exists()
        info = json.loads((tmp_path / "m.parquet.lock.info").read_text())
        assert info["pid"] == os.getpid() and info["command"]
        thread = threading.Thread(target=contend)
        thread.start()
        thread.join()
    assert len(errors) == 1
    message = str(errors[0])
    assert f"pid {os.getpid()} on {socket.gethostname()}" in message
    assert "manifest" in message and "since" in message
    assert not (tmp_path / "m.parquet.lock.info").exists()  # released
    with file_lock(target, "manifest", timeout=0):  # free again
        pass


def test_lock_waits_for_a_holder_in_another_process(tmp_path: Path) -> None:
    target = tmp_path / "index.parquet"
    script = (
        "import sys\n"
        "from torchgeo_composition.files import file_lock\n"
        f"with file_lock({str(target)!r}, 'index'):\n"
        "    print('locked', flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "locked\n"
        with pytest.raises(FileLockedError, match=rf"pid {child.pid} on .*-c"):
            with file_lock(target, "index", timeout=0.05):
                pass  # pragma: no cover
    finally:
        child.communicate("go\n")
    assert child.returncode == 0
    with file_lock(target, "index", timeout=5):  # released when the holder ends
        pass


def test_remove_stale_temps(tmp_path: Path) -> None:
    target = tmp_path / "m.parquet"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    orphan = tmp_path / f".tmp-{dead_pid}-0badcafe-m.parquet"
    live = tmp_path / f".tmp-{os.getppid()}-0badcafe-m.parquet"
    other = tmp_path / f".tmp-{dead_pid}-0badcafe-n.parquet"
    for path in (orphan, live, other):
        path.write_bytes(b"half")
        os.utime(path, (1, 1))
    fresh = tmp_path / f".tmp-{dead_pid}-12345678-m.parquet"
    fresh.write_bytes(b"half")
    removed = remove_stale_temps(target, before=time.time() - 60)
    assert removed == [orphan]
    assert live.exists() and other.exists() and fresh.exists()
