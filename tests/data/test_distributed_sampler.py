"""DistributedSampler (PyTorch's padding, drop_last, striding and set_epoch) and DataLoader's
``sampler=``."""
import pytest

import gpugrad as gg
from gpugrad.data import DataLoader, DistributedSampler, TensorDataset

CASES = [(10, 3, False), (10, 3, True), (12, 4, False), (12, 4, True), (2, 5, False),
         (7, 1, False), (9, 2, True)]


def shares(size, replicas, **kwargs):
    return [list(DistributedSampler(range(size), replicas, rank, **kwargs))
            for rank in range(replicas)]


@pytest.mark.parametrize("size,replicas,drop_last", CASES)
def test_shares_match_pytorch_in_order(torch, size, replicas, drop_last):
    for rank in range(replicas):
        ours = DistributedSampler(range(size), replicas, rank, shuffle=False,
                                  drop_last=drop_last)
        theirs = torch.utils.data.DistributedSampler(range(size), replicas, rank, shuffle=False,
                                                     drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("size,replicas,drop_last", CASES)
def test_shuffled_shares_pad_and_stride_as_pytorch(torch, monkeypatch, size, replicas,
                                                   drop_last):
    # The permutations come from different generators; given ours, PyTorch's sampler must cut
    # it into the same shares.
    for epoch in (0, 3):
        whole = DistributedSampler(range(size), num_replicas=1, rank=0, seed=7)
        whole.set_epoch(epoch)
        order = list(whole)  # one replica: the permutation itself
        monkeypatch.setattr(torch, "randperm", lambda n, generator=None: torch.tensor(order))
        for rank in range(replicas):
            ours = DistributedSampler(range(size), replicas, rank, seed=7, drop_last=drop_last)
            ours.set_epoch(epoch)
            theirs = torch.utils.data.DistributedSampler(range(size), replicas, rank, seed=7,
                                                         drop_last=drop_last)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs)


def test_shares_are_disjoint_cover_the_data_and_pad_evenly():
    parts = shares(10, 4, seed=1)
    assert [len(p) for p in parts] == [3, 3, 3, 3]  # 12 = 10 + 2 repeated
    flat = [i for p in parts for i in p]
    assert sorted(set(flat)) == list(range(10)) and len(flat) == 12
    dropped = shares(10, 4, seed=1, drop_last=True)
    assert [len(p) for p in dropped] == [2, 2, 2, 2]
    assert len({i for p in dropped for i in p}) == 8


def test_set_epoch_reshuffles_the_same_way_on_every_replica():
    first = shares(20, 2, seed=3)
    assert shares(20, 2, seed=3) == first  # every replica computes the same order
    samplers = [DistributedSampler(range(20), 2, rank, seed=3) for rank in range(2)]
    for sampler in samplers:
        sampler.set_epoch(1)
    later = [list(s) for s in samplers]
    assert later != first
    assert sorted(later[0] + later[1]) == list(range(20))
    assert shares(20, 2, seed=4) != first


def test_bad_rank_and_replicas_are_named():
    with pytest.raises(ValueError,
                       match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(range(4), num_replicas=2, rank=-1)
    with pytest.raises(ValueError, match="num_replicas should be a positive integer"):
        DistributedSampler(range(4), num_replicas=0, rank=0)


def test_dataloader_reads_its_sampler_every_epoch(device):
    x = gg.arange(20, device=device).reshape(10, 2).float()
    data = TensorDataset(x, gg.arange(10, device=device))
    sampler = DistributedSampler(data, num_replicas=3, rank=1, shuffle=False)
    loader = DataLoader(data, batch_size=2, sampler=sampler)
    batches = [y.tolist() for _, y in loader]
    assert batches == [[1, 4], [7, 0]] and len(loader) == 2  # 10 padded to 12, every 3rd from 1
    rows = [xb.tolist() for xb, _ in loader]
    assert rows[0] == [[2.0, 3.0], [8.0, 9.0]]
    shuffled = DistributedSampler(data, num_replicas=2, rank=0, seed=0)
    loader = DataLoader(data, batch_size=5, sampler=shuffled)
    epoch0 = [y.tolist() for _, y in loader]
    assert epoch0 == [list(shuffled)]
    shuffled.set_epoch(1)
    assert [y.tolist() for _, y in loader] == [list(shuffled)] != epoch0


def test_dataloader_sampler_excludes_shuffle():
    data = TensorDataset(gg.arange(4))
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(data, sampler=range(4), shuffle=True)
    assert [b[0].tolist() for b in DataLoader(data, batch_size=3, sampler=[3, 1, 2, 0])] == \
        [[3, 1, 2], [0]]


def test_torch_path_names_the_same_class():
    assert gg.utils.data.DistributedSampler is DistributedSampler
