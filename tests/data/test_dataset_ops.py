"""Datasets made of datasets (gpugrad/data/dataset_ops.py): Subset, ConcatDataset and
random_split, as torch.utils.data's, and loading batches through them."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.utils import data


def test_subset_picks_examples_in_order_and_batches_through_the_dataset():
    full = data.TensorDataset(gg.arange(10), gg.arange(10) * 2)
    part = data.Subset(full, [9, 3, 4, 5])
    assert len(part) == 4 and [t.item() for t in part[0]] == [9, 18]
    batches = [x.tolist() for x, _ in data.DataLoader(part, batch_size=3)]
    assert batches == [[9, 3, 4], [5]]


def test_concat_dataset_indexes_across_its_parts():
    both = data.ConcatDataset([range(3), range(10, 14)])
    assert len(both) == 7 and both.cumulative_sizes == [3, 7]
    assert [both[i] for i in range(7)] == [0, 1, 2, 10, 11, 12, 13]
    assert both[-1] == 13 and both[-7] == 0
    with pytest.raises(IndexError, match="index 7 is out of range for a ConcatDataset of 7"):
        both[7]
    with pytest.raises(ValueError, match="should not exceed dataset length"):
        both[-8]
    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        data.ConcatDataset([data.IterableDataset()])


@pytest.mark.parametrize("n, lengths, sizes", [(10, [3, 7], [3, 7]), (10, [0.3, 0.7], [3, 7]),
                                              (11, [0.5, 0.25, 0.25], [6, 3, 2])])
def test_random_split_deals_every_example_once(n, lengths, sizes):
    gg.manual_seed(0)
    parts = data.random_split(range(n), lengths)
    assert [len(p) for p in parts] == sizes
    assert sorted(i for p in parts for i in p) == list(range(n))
    gg.manual_seed(0)
    assert [list(p) for p in data.random_split(range(n), lengths)] == [list(p) for p in parts]
    seeded = data.random_split(range(n), lengths, generator=np.random.default_rng(1))
    assert [len(p) for p in seeded] == sizes


def test_random_split_refuses_lengths_that_do_not_add_up():
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        data.random_split(range(10), [3, 4])
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        data.random_split(range(10), [1.5, -0.5])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        data.random_split(range(2), [1.0, 0.0])


def test_the_sizes_match_torch(torch):
    from torch.utils import data as torch_data
    for n, lengths in [(10, [0.3, 0.7]), (11, [0.5, 0.25, 0.25]), (7, [0.1, 0.1, 0.8])]:
        ours = [len(p) for p in data.random_split(range(n), lengths)]
        assert ours == [len(p) for p in torch_data.random_split(range(n), lengths)]
