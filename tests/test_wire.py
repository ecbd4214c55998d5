"""The pool's pipe protocol: frames survive being split or packed together, and a closed end
is reported rather than read as an empty job."""

from __future__ import annotations

import ast
import multiprocessing
import os
import time

import pytest

from litequeue.worker.wire import Channel


@pytest.fixture
def ends():
    a, b = multiprocessing.Pipe()
    yield Channel(a), Channel(b)
    a.close()
    b.close()


def test_several_frames_sent_before_a_read_come_back_in_order_from_one_receive(ends):
    left, right = ends
    messages = [(1, "t", b"\x00body", None, 2.5), None, ("x" * 100_000,), (True, -7)]
    for message in messages:
        left.send(message)
    got = []
    while len(got) < len(messages):
        got += right.receive()
    assert got == messages


def test_a_frame_split_across_reads_is_returned_only_when_whole(ends):
    left, right = ends
    import marshal
    import struct

    data = marshal.dumps((42, "split"))
    frame = struct.pack("!I", len(data)) + data
    os.write(left.fd, frame[:3])
    assert right.receive(wait=False) == []
    os.write(left.fd, frame[3:9])
    assert right.receive(wait=False) == []
    os.write(left.fd, frame[9:])
    assert right.receive(wait=False) == [(42, "split")]


def test_a_closed_end_raises_eof(ends):
    left, right = ends
    left.send((1,))
    left.close()
    assert right.receive() == [(1,)]
    with pytest.raises(EOFError):
        right.receive()


def test_what_a_dead_process_left_in_the_pipe_is_read_whole_however_long(ends, monkeypatch):
    from litequeue.worker import wire

    monkeypatch.setattr(wire, "_READ_SIZE", 1000)  # the reply spans many reads
    left, right = ends
    big = ("r" * 60_000, b"\x01" * 30_000)
    left.send((1,))
    left.send(big)
    left.close()
    assert right.receive_rest() == [(1,), big]


def test_what_a_live_process_has_not_finished_writing_is_not_waited_for(ends):
    left, right = ends
    os.write(left.fd, b"\x00\x00\x10\x00partial")
    assert right.receive_rest() == []


def test_a_reply_carrying_str_and_float_subclasses_still_crosses_the_pipe(ends):
    from litequeue.worker.child import Reply, _send_reply

    class Markup(str):
        pass

    class Stamp(float):
        pass

    left, right = ends
    reply = Reply(7, 1, "RETRY", 0.5, exc_message=Markup("<b>busy</b>"), retry_at=Stamp(12.5))
    _send_reply(left, reply)  # what a child does with its reply
    assert Reply._make(right.receive()[0]) == reply


def test_replies_of_a_process_that_died_with_jobs_unread_are_still_read(ends):
    left, right = ends  # left: the child; right: the main process
    right.send((2, "a job the child never read"))
    left.send((1, "the reply it wrote before dying"))
    left.close()  # closing with unread data makes the other end's next read fail with ECONNRESET
    assert right.receive_rest() == [(1, "the reply it wrote before dying")]


def test_every_message_in_the_feed_is_taken_whole_by_exactly_one_of_several_readers(tmp_path):
    import multiprocessing

    from litequeue.worker.wire import Feed, FeedReader

    def drain(end, out_path):
        reader, got = FeedReader(end), []
        while (message := reader.take()) is not None:
            got.append(message)
        out_path.write_text(repr(got))

    feed = Feed()
    ctx = multiprocessing.get_context("fork")
    readers = [ctx.Process(target=drain, args=(feed.reader, tmp_path / f"r{i}")) for i in range(3)]
    for p in readers:
        p.start()
    sent = [(i, "x" * (i % 700)) for i in range(3000)]
    for message in [*sent, None, None, None]:
        while not feed.put(message):
            time.sleep(0.001)
    for p in readers:
        p.join(30)
    taken = [m for i in range(3) for m in ast.literal_eval((tmp_path / f"r{i}").read_text())]
    assert sorted(taken) == sent
    feed.close()
