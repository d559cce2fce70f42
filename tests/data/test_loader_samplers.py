"""Samplers (gg.data.Sampler and friends) against torch.utils.data: lengths, grouping,
coverage, seeding and error messages."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.data import (BatchSampler, DataLoader, DistributedSampler, RandomSampler, Sampler,
                          SequentialSampler, SubsetRandomSampler, TensorDataset,
                          WeightedRandomSampler)


@pytest.mark.parametrize("size,batch,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True),
                                                  (2, 5, False), (2, 5, True)])
def test_batch_sampler_groups_as_pytorch(torch, size, batch, drop_last):
    ours = BatchSampler(SequentialSampler(range(size)), batch, drop_last)
    theirs = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(size)),
                                           batch, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_random_sampler_lengths_and_coverage_match_pytorch(torch):
    data = range(7)
    for kwargs in ({}, {"num_samples": 3}, {"num_samples": 17},
                   {"replacement": True, "num_samples": 40}):
        ours = RandomSampler(data, generator=np.random.default_rng(0), **kwargs)
        theirs = torch.utils.data.RandomSampler(data, **kwargs)
        drawn, their_drawn = list(ours), list(theirs)
        assert len(ours) == len(theirs) == len(drawn) == len(their_drawn)
        assert set(drawn) <= set(data)
        if not kwargs.get("replacement"):  # whole permutations first, then a partial one
            whole = len(drawn) // len(data) * len(data)
            assert sorted(drawn[:whole]) == sorted(list(data) * (whole // len(data)))
            assert len(set(drawn[whole:])) == len(drawn) - whole


def test_random_samplers_are_seeded():
    def draw(**kwargs):
        return [list(RandomSampler(range(20), **kwargs)),
                list(SubsetRandomSampler([5, 6, 7, 8], **kwargs)),
                list(WeightedRandomSampler([1.0, 2.0, 3.0, 0.5], 10, **kwargs))]

    assert draw(generator=np.random.default_rng(4)) == draw(generator=np.random.default_rng(4))
    gg.manual_seed(2)
    first = draw()
    gg.manual_seed(2)
    assert draw() == first
    sampler = RandomSampler(range(20))
    assert list(sampler) != list(sampler)  # a new order on every pass
    assert sorted(first[1]) == [5, 6, 7, 8]


def test_weighted_sampler_follows_the_weights():
    drawn = list(WeightedRandomSampler([0.0, 1.0, 3.0], 4000,
                                       generator=np.random.default_rng(1)))
    counts = np.bincount(drawn, minlength=3)
    assert counts[0] == 0 and 2.6 < counts[2] / counts[1] < 3.4
    unique = list(WeightedRandomSampler([1, 1, 1, 5], 4, replacement=False))
    assert sorted(unique) == [0, 1, 2, 3]


def test_sampler_errors_match_pytorch(torch):
    cases = [(lambda m: m.RandomSampler(range(3), replacement=1), TypeError),
             (lambda m: m.RandomSampler(range(3), num_samples=0), ValueError),
             (lambda m: m.WeightedRandomSampler([1.0, 2.0], 0), ValueError),
             (lambda m: m.WeightedRandomSampler([1.0, 2.0], 2, replacement="yes"), ValueError),
             (lambda m: m.WeightedRandomSampler([[1.0], [2.0]], 2), ValueError),
             (lambda m: m.BatchSampler(range(3), 0, False), ValueError),
             (lambda m: m.BatchSampler(range(3), 2, 1), ValueError)]
    for make, error in cases:
        with pytest.raises(error) as theirs:
            make(torch.utils.data)
        with pytest.raises(error) as ours:
            make(gg.data)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        list(RandomSampler(range(3), generator=3))


def test_samplers_drive_the_loader():
    x = gg.arange(12)
    loader = DataLoader(TensorDataset(x), batch_size=2,
                        sampler=SubsetRandomSampler([1, 3, 5, 7], np.random.default_rng(0)))
    assert sorted(v for (b,) in loader for v in b.tolist()) == [1, 3, 5, 7]
    batches = DataLoader(TensorDataset(x), batch_sampler=[[0, 11], [4], [2, 2, 3]])
    assert [b.tolist() for (b,) in batches] == [[0, 11], [4], [2, 2, 3]]
    assert isinstance(DistributedSampler(range(4), 2, 0), Sampler)
