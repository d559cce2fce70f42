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
    rng = np.random.default_rng(3)
    rng.integers(1 << 62)  # each epoch first draws the workers' base seed, as PyTorch does
    expected = rng.permutation(10).tolist()
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


class _Squares(gg.data.Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return i * i


class _Stream(gg.data.IterableDataset):
    def __init__(self, n=7):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


def _torch_stream(torch, n=7):
    """The same stream as a torch IterableDataset."""
    return type("Stream", (torch.utils.data.IterableDataset,),
                {"__iter__": lambda self: iter(range(n))})()


def test_conflicting_options_raise_pytorchs_errors(torch):
    data = _Squares()
    cases = [dict(shuffle=True, sampler=[0, 1]), dict(batch_sampler=[[0]], batch_size=2),
             dict(batch_sampler=[[0]], shuffle=True), dict(batch_sampler=[[0]], sampler=[0]),
             dict(batch_sampler=[[0]], drop_last=True), dict(batch_size=None, drop_last=True),
             dict(prefetch_factor=2), dict(persistent_workers=True), dict(num_workers=-1),
             dict(timeout=-1), dict(num_workers=1, prefetch_factor=-1),
             dict(multiprocessing_context="fork")]
    for kwargs in cases:
        with pytest.raises(ValueError) as theirs:
            torch.utils.data.DataLoader(data, **kwargs)
        with pytest.raises(ValueError) as ours:
            DataLoader(data, **kwargs)
        assert str(ours.value) == str(theirs.value), kwargs
    for kwargs in (dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError) as theirs:
            torch.utils.data.DataLoader(_torch_stream(torch), **kwargs)
        with pytest.raises(ValueError) as ours:
            DataLoader(_Stream(), **kwargs)
        assert str(ours.value).split(", but")[0] == str(theirs.value).split(", but")[0]
    with pytest.raises(ValueError, match="timeout option needs num_workers > 0"):
        DataLoader(data, timeout=1)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        DataLoader(data, shuffle=True, generator=torch.Generator())
    loader = DataLoader(data)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after"):
        loader.batch_size = 3


def test_iterable_dataset_and_unbatched_loading_match_pytorch(torch):
    for kwargs in (dict(batch_size=3), dict(batch_size=3, drop_last=True),
                   dict(batch_size=None)):
        ours = DataLoader(_Stream(), **kwargs)
        theirs = torch.utils.data.DataLoader(_torch_stream(torch), **kwargs)
        plain = [b.tolist() if hasattr(b, "tolist") else b for b in ours]
        assert plain == [b.tolist() if hasattr(b, "tolist") else b for b in theirs]
    unbatched = list(DataLoader(_Squares(), batch_size=None))
    assert unbatched == [0, 1, 4, 9, 16]  # plain ints stay ints, as default_convert does
    assert len(DataLoader(_Squares(), batch_size=2, drop_last=True)) == 2


def test_pin_memory_pins_cpu_batches():
    loader = DataLoader(_data(), batch_size=4, pin_memory=True)
    x, y = next(iter(loader))
    assert x.is_pinned() and y.is_pinned()
    assert not next(iter(DataLoader(_data(), batch_size=4)))[0].is_pinned()
    with pytest.raises(RuntimeError, match="only cpu tensors can be pinned"):
        next(iter(DataLoader(_data("sim"), batch_size=4, pin_memory=True)))


def test_pinned_batches_copy_to_sim_faster():
    dataset = TensorDataset(gg.ones(64, 1 << 14))  # one 4 MiB batch
    costs = {}
    for pin in (False, True):
        (batch,) = next(iter(DataLoader(dataset, batch_size=64, pin_memory=pin)))
        start = gg.sim.stats("sim").host_us
        batch.to("sim")
        costs[pin] = gg.sim.stats("sim").host_us - start
    assert costs[True] < costs[False]
