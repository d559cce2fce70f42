"""default_collate / default_convert against torch.utils.data: the same structure, shapes,
dtypes and values for tuples, dicts, lists, namedtuples, NumPy arrays, numbers, strings and
gg Tensors; and DataLoader over such datasets."""
import collections

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.data import DataLoader, default_collate, default_convert

Point = collections.namedtuple("Point", ["x", "label"])


def _examples():
    rng = np.random.default_rng(0)
    return {
        "tuples": [(rng.random(3).astype(np.float32), i) for i in range(4)],
        "dicts": [{"image": rng.random((2, 2)), "label": i, "name": f"n{i}", "w": 0.5 * i}
                  for i in range(3)],
        "lists": [[np.int32(i), float(i), True] for i in range(3)],
        "namedtuples": [Point(np.arange(3, dtype=np.int16) + i, i) for i in range(2)],
        "nested": [({"a": (i, [1.5, 2.5])}, b"raw") for i in range(2)],
        "numbers": [1, 2, 3],
        "floats": [0.25, 1.5],
        "numpy scalars": [np.float32(1.5), np.float32(2.5)],
    }


def _same(ours, theirs):
    """Ours (gg Tensors) has theirs' structure, container types, shapes, dtypes, values."""
    if hasattr(theirs, "numpy") and not isinstance(theirs, np.ndarray):
        assert isinstance(ours, gg.Tensor), type(ours)
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs)
        for key in theirs:
            _same(ours[key], theirs[key])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    else:
        assert ours == theirs


@pytest.mark.parametrize("kind", list(_examples()))
def test_default_collate_matches_pytorch(torch, kind):
    batch = _examples()[kind]
    _same(default_collate(batch), torch.utils.data.default_collate(batch))
    _same(default_convert(batch[0]), torch.utils.data.default_convert(batch[0]))


def test_tensors_are_stacked_on_their_device(device):
    rows = [gg.tensor([1.0, 2.0], device=device), gg.tensor([3.0, 4.0], device=device)]
    out = default_collate([(r, 1) for r in rows])
    assert out[0].device == device and out[0].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert out[1].dtype == gg.int64


def test_collate_errors_match_pytorch(torch):
    for batch, error in [([object(), object()], TypeError),
                         ([np.array(["a"]), np.array(["b"])], TypeError),
                         ([[1, 2], [3]], RuntimeError)]:
        with pytest.raises(error) as theirs:
            torch.utils.data.default_collate(batch)
        with pytest.raises(error) as ours:
            default_collate(batch)
        assert str(ours.value) == str(theirs.value)


def test_loader_over_dicts_and_unbatched(torch):
    class Records:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": np.full(2, i, np.float32), "y": i, "id": str(i)}

    for batch_size in (2, None):
        ours = list(DataLoader(Records(), batch_size=batch_size))
        theirs = list(torch.utils.data.DataLoader(Records(), batch_size=batch_size))
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)


def test_custom_collate_fn_and_getitems():
    class Batched:
        def __len__(self):
            return 6

        def __getitems__(self, indices):
            return [i * 10 for i in indices]

    loader = DataLoader(Batched(), batch_size=4, collate_fn=lambda b: b)
    assert list(loader) == [[0, 10, 20, 30], [40, 50]]
    assert DataLoader(Batched(), batch_size=4).__iter__().__next__().tolist() == [0, 10, 20, 30]
