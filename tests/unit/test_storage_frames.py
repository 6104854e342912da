"""The pipe between the listener and its storage process: frames split anywhere arrive whole."""

from __future__ import annotations

import os

from app.server.storage import encode_frame, serve_requests, take_frames


def test_frames_cut_at_every_byte_come_out_whole_and_in_order():
    values = [(1, "store", b"x" * 70_000, ("a@b.c",), None), (2, "addresses"), []]
    stream = b"".join(encode_frame(value) for value in values)
    for cut in range(0, len(stream), 997):
        buffer = bytearray(stream[:cut])
        first = take_frames(buffer)
        buffer += stream[cut:]
        assert first + take_frames(buffer) == values
        assert buffer == bytearray()


def test_a_partial_frame_stays_in_the_buffer():
    frame = encode_frame((7, "addresses"))
    buffer = bytearray(frame[:-1])
    assert take_frames(buffer) == [] and bytes(buffer) == frame[:-1]


def test_the_storage_loop_answers_after_commit_and_stops_when_the_listener_closes(database, user):
    from app.core.configfile import import_config

    import_config(database, user, '[[source]]\nname = "n"\naddress = "n@alerts.example.com"\n')
    raw = b"Subject: disk full\r\nMessage-ID: <1@m>\r\n\r\nDISK CRITICAL\r\n"
    requests_read, requests_write = os.pipe()
    answers_read, answers_write = os.pipe()
    os.write(requests_write, encode_frame((1, "store", raw, ("N@alerts.example.com",), None)))
    os.write(requests_write, encode_frame((2, "store", raw, ("other@x.y",), None)))
    os.write(requests_write, encode_frame((3, "addresses")))
    os.write(requests_write, encode_frame((4, "store", raw, ("n@alerts.example.com",), None))[:9])
    os.close(requests_write)  # the listener went away in the middle of mail 4
    serve_requests(database, requests_read, answers_write)
    os.close(answers_write)
    buffer = bytearray()
    while chunk := os.read(answers_read, 65536):
        buffer += chunk
    answers = [answer for batch in take_frames(buffer) for answer in batch]
    assert answers[0][:2] == (1, True) and isinstance(answers[0][2], int)
    assert answers[1] == (2, True, None)  # no source for that address: nothing stored
    assert answers[2] == (3, True, frozenset({"n@alerts.example.com"}))
    assert len(answers) == 3  # mail 4 never arrived whole, so it got no answer
