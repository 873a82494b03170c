"""Tests for publisher.helper (the second process that encodes) and its use by publisher.audio.

The helper is a real process here. Functions sent to it are the standard
library's or the publisher's own, so that they pickle by reference.
"""

from __future__ import annotations

import operator
import os
import pickle
import signal
import time

import numpy as np
import psutil
import pytest

from publisher import audio
from publisher.audio.master import MasterFile
from publisher.errors import AudioError, ConfigError, OutputError
from publisher.helper import Helper
from tests.test_audio import TAGS, make_items


def test_calls_come_back_in_order_and_errors_keep_their_message():
    with Helper() as helper:
        first = helper.submit(operator.add, 2, 3)
        failing = helper.submit(audio.get_profile, "no-such-profile")
        last = helper.submit(operator.mul, 4, 5)
        assert last.result() == 20  # waits for the calls before it too
        assert first.done and failing.done
        assert first.result() == 5
        with pytest.raises(ConfigError, match="no-such-profile") as raised:
            failing.result()
        # The helper's own traceback is chained, for a bug report.
        assert "get_profile" in str(raised.value.__cause__)


def test_a_helper_that_dies_is_an_audio_error_naming_the_work_and_a_way_out():
    helper = Helper()
    try:
        dying = helper.submit(os._exit, 3, description="encoding section 'sec-02'")
        with pytest.raises(AudioError, match=r"died \(exit code 3\) during encoding "
                                             r"section 'sec-02'.*--workers 1"):
            dying.result()
    finally:
        helper.close(kill=True)


def test_the_helper_ignores_ctrl_c_and_yields_the_cores_to_the_build():
    with Helper() as helper:
        child = psutil.Process(helper._child.process.pid)  # noqa: SLF001
        assert helper.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN
        # A terminal's Ctrl-C reaches the whole process group: the helper
        # stays up (the build stops it), and still answers.
        os.kill(child.pid, signal.SIGINT)
        assert helper.submit(operator.add, 1, 1).result() == 2
        assert child.nice() > psutil.Process().nice()


def test_closing_with_kill_stops_a_long_call_at_once():
    helper = Helper()
    pid = helper._child.process.pid  # noqa: SLF001
    helper.submit(time.sleep, 60)
    started = time.monotonic()
    helper.close(kill=True)
    assert time.monotonic() - started < 5
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(RuntimeError):
        helper.submit(operator.add, 1, 2)


def test_an_exception_in_the_block_kills_the_helper():
    with pytest.raises(KeyError), Helper() as helper:
        process = helper._child.process  # noqa: SLF001
        helper.submit(time.sleep, 60)
        raise KeyError("stop")
    assert not process.is_alive()


# --------------------------------------------------------------------------- publisher.audio


def test_files_made_with_a_helper_are_the_files_made_without(tmp_path):
    items = make_items(6, seed=41)
    outputs = (("podcast", "p.mp3"), ("compact", "c.mp3"))
    alone = audio.assemble_section_files(
        items, [(profile, tmp_path / "alone" / name) for profile, name in outputs],
        tags=TAGS, section_id="both")
    first_done: list[tuple[str, bool]] = []

    def then(first):
        # Called with the podcast file while the helper still has the compact one.
        first_done.append((first.extra["profile"], first.path.is_file()))

    with Helper(warm_up=audio.preload) as helper:
        helped = audio.assemble_section_files(
            items, [(profile, tmp_path / "helped" / name) for profile, name in outputs],
            tags=TAGS, section_id="both", executor=helper, then=then)
    assert first_done == [("podcast", True)]
    assert [r.path.read_bytes() for r in helped] == [r.path.read_bytes() for r in alone]
    assert [(r.timings, r.duration_ms, r.loudness_lufs, r.extra) for r in helped] == \
        [(r.timings, r.duration_ms, r.loudness_lufs, r.extra) for r in alone]
    # The master the helper read is gone; only the two files are left.
    assert sorted(p.name for p in (tmp_path / "helped").iterdir()) == ["c.mp3", "p.mp3"]


def test_a_failure_in_the_helper_is_raised_here_and_leaves_no_master(tmp_path):
    items = make_items(5, seed=42)
    (tmp_path / "c.mp3").mkdir()  # the compact file cannot take this name
    with Helper(warm_up=audio.preload) as helper, \
            pytest.raises(OutputError, match=r"section 'both'.*c\.mp3"):
        audio.assemble_section_files(
            items, (("podcast", tmp_path / "p.mp3"), ("compact", tmp_path / "c.mp3")),
            tags=TAGS, section_id="both", executor=helper)
    assert not list(tmp_path.glob("*.f32"))


def test_a_master_file_reads_back_as_the_array(tmp_path):
    signal_ = np.linspace(-1, 1, 300_001, dtype=np.float32)
    master = MasterFile.write(signal_, tmp_path / "x.mp3")
    assert len(master) == len(signal_)
    assert np.array_equal(master[1000:2000], signal_[1000:2000])
    assert np.array_equal(master[299_990:400_000], signal_[299_990:])
    assert np.array_equal(master.copy(), signal_)
    master.remove()
    assert not master.path.exists()


@pytest.mark.parametrize("error", [
    ConfigError(["Unknown audio profile 'x'."], where="book.md"),
    ConfigError(["One.", "Two."]),
    AudioError("Could not encode."),
    OutputError("Disk full."),
])
def test_errors_cross_processes_unchanged(error):
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error) and str(again) == str(error)


def test_a_master_that_cannot_be_written_is_a_clear_output_error(tmp_path):
    items = make_items(5, seed=43)
    (tmp_path / "epub").write_text("a file where the folder should be")
    with Helper() as helper, pytest.raises(OutputError, match=r"Could not write .*"
                                                              r"master\.f32.*writable"):
        audio.assemble_section_files(
            items, (("podcast", tmp_path / "p.mp3"), ("compact", tmp_path / "epub" / "c.mp3")),
            tags=TAGS, section_id="both", executor=helper)

