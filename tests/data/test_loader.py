"""DataLoader: batching, shuffling, seeding, drop_last, generic datasets."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.data import DataLoader, TensorDataset


def _data(device="cpu", n=10):
    x = gg.arange(n * 2, device=device).reshape(n, 2).float()
    y = gg.arange(n, device=device)
    return TensorDataset(x, y)


def test_batches_in_order_without_shuffle(device):
    loader = DataLoader(_data(device), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].shape == (4, 2) and batches[0][0].device == device
    assert batches[2][0].tolist() == [[16.0, 17.0], [18.0, 19.0]]


def test_drop_last():
    loader = DataLoader(_data(), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [len(b[1]) for b in loader] == [4, 4]


def test_shuffle_covers_everything_and_is_seeded(device):
    first = [b[1].tolist() for b in DataLoader(_data(device), batch_size=3, shuffle=True, seed=5)]
    again = [b[1].tolist() for b in DataLoader(_data(device), batch_size=3, shuffle=True, seed=5)]
    other = [b[1].tolist() for b in DataLoader(_data(device), batch_size=3, shuffle=True, seed=6)]
    assert first == again != other
    flat = sorted(v for batch in first for v in batch)
    assert flat == list(range(10))


def test_rows_stay_paired_after_shuffle():
    for x, y in DataLoader(_data(), batch_size=4, shuffle=True, seed=0):
        np.testing.assert_array_equal(x.numpy()[:, 0], 2 * y.numpy())


def test_epochs_differ_and_follow_manual_seed():
    def two_epochs():
        loader = DataLoader(_data(), batch_size=10, shuffle=True)
        return [next(iter(loader))[1].tolist() for _ in range(2)]

    gg.manual_seed(1)
    a = two_epochs()
    gg.manual_seed(1)
    assert two_epochs() == a
    assert a[0] != a[1]


def test_generator_argument():
    loader = DataLoader(_data(), batch_size=10, shuffle=True, generator=np.random.default_rng(3))
    expected = np.random.default_rng(3).permutation(10).tolist()
    assert next(iter(loader))[1].tolist() == expected


def test_generic_dataset_is_collated():
    class Squares:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return gg.tensor([float(i), float(i * i)]), i

    batches = list(DataLoader(Squares(), batch_size=2))
    assert batches[1][0].tolist() == [[2.0, 4.0], [3.0, 9.0]]
    assert batches[1][1].tolist() == [2, 3] and batches[2][1].tolist() == [4]


def test_errors():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_data(), batch_size=0)
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(gg.zeros(3, 2), gg.zeros(4))
    with pytest.raises(TypeError, match="gg.tensor"):
        TensorDataset(np.zeros(3))
    with pytest.raises(TypeError, match="argument 0 is a list"):
        TensorDataset([1.0, 2.0, 3.0], gg.zeros(3))
    with pytest.raises(ValueError, match="tensor 1 is 0-d"):
        TensorDataset(gg.zeros(3), gg.tensor(1.0))
