"""The checksum of a checkpoint: CRC-32 of 8 MiB chunks, combined by a CRC-32 of their CRCs.

CRC-32 detects every single flipped bit and every burst of up to 32 bits, which is what a
storage or transfer fault does (it is not a defence against someone forging a file; nothing
stored beside the data can be). Chunking lets the chunks be summed by several threads at once
(``zlib.crc32`` releases the GIL), so verifying a large checkpoint costs a fraction of reading
it. The digest is written ``crc32c8m:`` and eight lowercase hex digits; ``PLACEHOLDER`` stands
in for the digits while the bytes it covers are summed, so a file can carry its own checksum.
"""
import concurrent.futures
import os
import re
import zlib

CHUNK = 8 << 20
SCHEME = "crc32c8m:"
PLACEHOLDER = SCHEME + "0" * 8
DIGEST_PATTERN = re.compile(r"crc32c8m:[0-9a-f]{8}\Z")
# below this many whole chunks one thread is quicker than handing work to a pool
_PARALLEL_FROM = 4


class ChunkedCrc32:
    """Feed bytes with ``update`` (any buffer, in any pieces); ``hexdigest()`` is the digest of
    everything fed, the same however it was split."""

    def __init__(self):
        self._chunk_crcs = []
        self._crc = 0
        self._filled = 0  # bytes of the current, unfinished chunk

    def update(self, data):
        """Add the bytes of ``data`` (bytes, bytearray, memoryview or a contiguous array)."""
        view = memoryview(data).cast("B")
        if self._filled:
            head = view[:CHUNK - self._filled]
            self._add_partial(head)
            view = view[len(head):]
        whole = len(view) // CHUNK * CHUNK
        self._chunk_crcs.extend(_chunk_crcs(view[:whole]))
        if whole < len(view):
            self._add_partial(view[whole:])

    def extend_chunks(self, crcs):
        """Add chunks by their CRC-32s (summed elsewhere); the bytes fed so far must end on a
        chunk boundary. The last may be a partial chunk that ends the data."""
        if self._filled:
            raise ValueError("extend_chunks: the bytes fed so far end inside a chunk")
        self._chunk_crcs.extend(crcs)

    def _add_partial(self, view):
        self._crc = zlib.crc32(view, self._crc)
        self._filled += len(view)
        if self._filled == CHUNK:
            self._chunk_crcs.append(self._crc)
            self._crc, self._filled = 0, 0

    def hexdigest(self):
        """``crc32c8m:`` and the CRC-32 of the chunks' CRC-32s (little-endian), in hex."""
        crcs = self._chunk_crcs + ([self._crc] if self._filled else [])
        combined = zlib.crc32(b"".join(c.to_bytes(4, "little") for c in crcs))
        return f"{SCHEME}{combined:08x}"


def _chunk_crcs(view):
    """The CRC-32 of each whole chunk of ``view``, summed by threads when there are many."""
    chunks = [view[i:i + CHUNK] for i in range(0, len(view), CHUNK)]
    workers = min(len(chunks), os.cpu_count() or 1, 8)
    if len(chunks) < _PARALLEL_FROM or workers < 2:
        return [zlib.crc32(chunk) for chunk in chunks]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(zlib.crc32, chunks))


def read_into(stream, buffer, sum_chunks):
    """Fill ``buffer`` from the binary ``stream``, chunk by chunk. With ``sum_chunks``, a
    second thread sums each chunk while the next one is read, and the CRC-32 of each chunk of
    ``buffer`` is returned (else None). Raises EOFError if the stream ends early."""
    view = memoryview(buffer).cast("B")
    futures = []
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        for start in range(0, len(view), CHUNK):
            piece = view[start:start + CHUNK]
            done = 0
            while done < len(piece):
                got = stream.readinto(piece[done:])
                if not got:
                    raise EOFError(f"the stream ended after {start + done} bytes")
                done += got
            if sum_chunks:
                futures.append(pool.submit(zlib.crc32, piece))
    return [future.result() for future in futures] if sum_chunks else None


def digest_with_gap(buffer, start, end, filler, chunk_crcs=None):
    """The digest of ``buffer`` with its bytes ``start:end`` read as ``filler`` (the zeros of a
    digest's placeholder, or nothing). ``chunk_crcs``, the CRC-32 of each chunk of ``buffer``
    as ``read_into`` gives them, saves summing again the chunks the gap leaves as they are."""
    view = memoryview(buffer).cast("B")
    crc = ChunkedCrc32()
    first = start // CHUNK  # the chunk the gap starts in
    if chunk_crcs is None:
        crc.update(view[:first * CHUNK])
    else:
        crc.extend_chunks(chunk_crcs[:first])
    crc.update(view[first * CHUNK:start])
    crc.update(filler)
    boundary = -(-end // CHUNK) * CHUNK  # where the chunk holding the gap's end ends
    if chunk_crcs is None or len(filler) != end - start or boundary >= len(view):
        crc.update(view[end:])
    else:  # chunks after the gap lie where they were: reuse their sums
        crc.update(view[end:boundary])
        crc.extend_chunks(chunk_crcs[boundary // CHUNK:])
    return crc.hexdigest()
