"""How the parent and a worker process exchange messages (pickled tuples), without deadlock.

Both sides may have a large message on the way at once: chunks of items going out, results
(with their payloads, under GZIP) coming back. Two processes each blocked writing to a full pipe
that the other is not reading would wait forever, so a worker always keeps reading what the
parent sends while its own send waits:

- `Channel` (forked workers): two raw pipes, length-prefixed pickles; the worker writes without
  blocking and, whenever its pipe is full, reads (and keeps) the parent's messages meanwhile.
  No `multiprocessing` import: it cost ~30 ms of every run.
- `InboxChannel` (spawned workers, any platform): two `multiprocessing` connections, and a
  thread in the worker that reads the parent's messages into an inbox as they come (`select`
  does not work on pipes on Windows). `PairChannel` is the parent's end of the same.
"""

from __future__ import annotations

import os
import pickle
import queue
import select
import struct
import threading
from collections import deque

_LENGTH = struct.Struct("<Q")


class Channel:
    """Pickled messages over two pipes, each prefixed with its length."""

    def __init__(self, read_fd: int, write_fd: int, *, worker: bool = False) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self._worker = worker
        self._inbox: deque = deque()
        if worker:
            os.set_blocking(write_fd, False)

    def send(self, message) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        if not self._worker:
            _write_all(self.write_fd, _LENGTH.pack(len(data)), data)
            return
        view = memoryview(_LENGTH.pack(len(data)) + data)
        while view:
            try:
                view = view[os.write(self.write_fd, view):]
                continue
            except BlockingIOError:
                pass
            readable, _writable, _ = select.select([self.read_fd], [self.write_fd], [])
            if readable:
                self._inbox.append(self._read_message())

    def recv(self):
        if self._inbox:
            return self._inbox.popleft()
        return self._read_message()

    def _read_message(self):
        (length,) = _LENGTH.unpack(_read_exact(self.read_fd, _LENGTH.size))
        return pickle.loads(_read_exact(self.read_fd, length))

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


class PairChannel:
    """Two one-way `multiprocessing` connections used as one channel (the parent's end)."""

    def __init__(self, incoming, outgoing) -> None:
        self.incoming = incoming
        self.outgoing = outgoing

    def send(self, message) -> None:
        self.outgoing.send(message)

    def recv(self):
        return self.incoming.recv()

    def close(self) -> None:
        for connection in (self.incoming, self.outgoing):
            try:
                connection.close()
            except OSError:
                pass


class InboxChannel(PairChannel):
    """A spawned worker's end: a thread drains the parent's messages, so `send` may block."""

    def __init__(self, incoming, outgoing) -> None:
        super().__init__(incoming, outgoing)
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._read, name="tfrconv-inbox", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                message = self.incoming.recv()
            except (EOFError, OSError):
                self._inbox.put(_Ended(EOFError()))        # the parent closed its end
                return
            except Exception as exc:  # noqa: BLE001 - e.g. an item this process cannot unpickle
                self._inbox.put(_Ended(exc))
                return
            self._inbox.put(message)

    def recv(self):
        message = self._inbox.get()
        if isinstance(message, _Ended):
            self._inbox.put(message)                       # every later recv ends the same way
            raise message.error
        return message


class _Ended:
    """What the inbox thread met instead of a message."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _write_all(fd: int, header: bytes, data: bytes) -> None:
    pieces = [header, data]
    while pieces:
        written = os.writev(fd, pieces)
        while pieces and written >= len(pieces[0]):
            written -= len(pieces[0])
            pieces.pop(0)
        if pieces and written:
            pieces[0] = memoryview(pieces[0])[written:]


def _read_exact(fd: int, size: int) -> bytes:
    data = os.read(fd, size)
    if len(data) == size:
        return data
    if not data:
        raise EOFError
    buffer = bytearray(data)
    while len(buffer) < size:
        more = os.read(fd, size - len(buffer))
        if not more:
            raise EOFError
        buffer += more
    return bytes(buffer)
