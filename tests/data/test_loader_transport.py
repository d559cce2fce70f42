"""How worker batches travel (gpugrad/data/transport.py): array bytes through a shared slot
when they fit, everything pickled in band otherwise; the same batch comes out either way."""
import numpy as np

import gpugrad as gg
from gpugrad.data.transport import SharedSlots, pack, unpack


def _batch(rows):
    return {"x": gg.arange(rows * 4).reshape(rows, 4).float(), "raw": np.arange(rows),
            "name": ["a"] * rows}


def _same(a, b):
    assert a["x"].tolist() == b["x"].tolist() and a["x"].dtype == b["x"].dtype
    np.testing.assert_array_equal(a["raw"], b["raw"])
    assert a["name"] == b["name"]


def test_small_batches_go_through_the_slot_and_free_it():
    slots = SharedSlots(2, size=1024)
    message = pack(_batch(3), slots, 1)
    assert message[1] and all(1024 <= start < 2048 for start, _ in message[1])
    out = unpack(message, slots)
    slots.view[1024:2048] = b"\0" * 1024  # the slot's next user: the batch is a copy
    _same(out, _batch(3))
    slots.close()


def test_large_or_slotless_batches_go_in_band_any_layout_round_trips():
    slots = SharedSlots(1, size=64)
    for data, kwargs in ((_batch(50), dict(slots=slots, slot=0)),
                         (_batch(2), dict(slots=None, slot=None))):
        message = pack(data, **kwargs)
        assert message[1] is None
        _same(unpack(message, slots), data)
    for layout in (np.arange(20.0).reshape(4, 5)[:, ::2], np.asfortranarray(np.eye(3))):
        np.testing.assert_array_equal(unpack(pack(layout, slots, 0), slots), layout)
    slots.close()
