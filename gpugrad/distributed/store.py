"""The rendezvous of ranks that MPI does not connect (``nccl`` under ``torchrun``): rank 0 hands
a few bytes (NCCL's unique id) to every other rank over TCP at ``MASTER_ADDR:MASTER_PORT``,
with the standard library's sockets. Each other rank connects and says its rank; rank 0 answers
nobody until every rank has arrived, then sends each the payload and closes. So a rank that
never arrives fails every rank within the timeout here, and none of them enters NCCL's
initialization, which would wait for it forever."""
import os
import socket
import time

from .work import DistBackendError

_HEADER = b"gpugrad-rendezvous-2\n"  # tells a gpugrad rank from anything else on the port
_HELLO_MAX = 64  # bytes of a rank's greeting: the header, its rank and a newline


def address(init_method):
    """``(host, port)`` from ``init_method="tcp://host:port"``, else ``MASTER_ADDR`` and
    ``MASTER_PORT``; ValueError naming what is missing."""
    if init_method and init_method.startswith("tcp://"):
        host, _, port = init_method[len("tcp://"):].rpartition(":")
        where = f"init_method={init_method!r}"
    else:
        host, port = os.environ.get("MASTER_ADDR", ""), os.environ.get("MASTER_PORT", "")
        where = "MASTER_ADDR and MASTER_PORT"
    if not host or not port.isdigit():
        raise ValueError(f"ranks that MPI does not connect meet at a TCP address: set "
                         f"MASTER_ADDR and MASTER_PORT (torchrun does) or pass "
                         f"init_method='tcp://host:port' ({where} give none)")
    return host, int(port)


def share(where, rank, size, payload, timeout):
    """Rank 0's ``payload`` (bytes) on every rank, once all ``size`` ranks have arrived: rank 0
    passes it, the others None. Raises DistBackendError when not every rank has arrived within
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    if rank == 0:
        return _serve(where, size, payload, deadline, timeout)
    hello = _HEADER + f"{rank}\n".encode()
    while True:
        try:
            with socket.create_connection(where, timeout=_left(deadline)) as connection:
                connection.sendall(hello)
                data = _read_all(connection, deadline)
            if data.startswith(_HEADER):
                return data[len(_HEADER):]
        except OSError:  # refused (rank 0 not listening yet), reset, or timed out
            pass
        if time.monotonic() > deadline:
            raise DistBackendError(
                f"rank {rank} could not reach rank 0 at {where[0]}:{where[1]}, or not every "
                f"rank of {size} arrived, within {timeout:g} s: a rank may have died or not "
                f"started, or MASTER_ADDR/MASTER_PORT differ between ranks")
        time.sleep(0.05)


def _left(deadline):
    return max(deadline - time.monotonic(), 0.01)


def _read_all(connection, deadline, limit=None):
    """The bytes the peer sends until it closes (or, with ``limit``, until a newline or
    ``limit`` bytes), waiting until ``deadline`` at most."""
    chunks, received = [], 0
    while True:
        connection.settimeout(_left(deadline))
        chunk = connection.recv(4096 if limit is None else limit - received)
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
        if limit is not None and (chunk.endswith(b"\n") or received >= limit):
            break
    return b"".join(chunks)


def _serve(where, size, payload, deadline, timeout):
    """Rank 0: wait until every other rank has connected and said its rank, then answer all."""
    waiting = {}  # rank -> its open connection (a rank that reconnects replaces its old one)
    try:
        with socket.create_server(where) as server:
            while len(waiting) < size - 1:
                server.settimeout(max(deadline - time.monotonic(), 0.001))
                try:
                    connection, _ = server.accept()
                except TimeoutError:
                    raise DistBackendError(
                        f"rank 0: only {len(waiting)} of {size - 1} other ranks reached "
                        f"{where[0]}:{where[1]} within {timeout:g} s; a rank may have died or "
                        f"been launched with another MASTER_ADDR/MASTER_PORT") from None
                rank = _greeting(connection, deadline, size)
                if rank is None:
                    connection.close()
                    continue
                if rank in waiting:
                    waiting[rank].close()
                waiting[rank] = connection
            for rank, connection in waiting.items():
                connection.settimeout(_left(deadline))
                try:
                    connection.sendall(_HEADER + payload)
                except OSError as exc:
                    raise DistBackendError(f"rank 0: rank {rank} left the rendezvous at "
                                           f"{where[0]}:{where[1]} before it ended ({exc}); "
                                           f"it may have died") from None
    finally:
        for connection in waiting.values():
            connection.close()
    return payload


def _greeting(connection, deadline, size):
    """The rank a connecting peer says it is, or None for anything that is not a gpugrad rank
    of this world."""
    try:
        hello = _read_all(connection, deadline, limit=_HELLO_MAX)
    except OSError:
        return None
    text = hello[len(_HEADER):].strip() if hello.startswith(_HEADER) else b""
    if not text.isdigit() or not 0 < int(text) < size:
        return None
    return int(text)
