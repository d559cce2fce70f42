"""Fetchers: what one ``DataLoader`` step reads from a dataset, in the main process or a
worker. A fetcher is called with one entry of the batch sampler (a list of indices, or one
index without batching) and returns the collated batch; ``StopIteration`` ends the data of an
iterable dataset."""
from .collate import default_collate
from .dataset_types import IterableDataset, TensorDataset


def make_fetcher(dataset, auto_collation, collate_fn, drop_last):
    """The fetcher for ``dataset``: from one fresh iterator for an ``IterableDataset``, by
    index otherwise."""
    if isinstance(dataset, IterableDataset):
        return iterable_fetcher(dataset, auto_collation, collate_fn, drop_last)
    return map_fetcher(dataset, auto_collation, collate_fn)


def map_fetcher(dataset, auto_collation, collate_fn):
    """A fetcher for a map-style dataset (``dataset[i]``)."""
    if not auto_collation:
        return lambda index: collate_fn(dataset[index])
    if isinstance(dataset, TensorDataset) and collate_fn is default_collate:
        return dataset.gather  # the same batch as collating rows, with one gather per tensor
    getitems = getattr(dataset, "__getitems__", None)
    if getitems is not None:
        return lambda indices: collate_fn(getitems(indices))
    return lambda indices: collate_fn([dataset[i] for i in indices])


def iterable_fetcher(dataset, auto_collation, collate_fn, drop_last):
    """A fetcher for an ``IterableDataset``: each call takes the next ``len(indices)`` examples
    from one iterator over ``dataset`` (the indices are placeholders); the last batch may be
    shorter unless ``drop_last``."""
    examples = iter(dataset)
    if not auto_collation:
        return lambda index: collate_fn(next(examples))

    def fetch(indices):
        batch = []
        for _ in indices:
            try:
                batch.append(next(examples))
            except StopIteration:
                break
        if not batch or (drop_last and len(batch) < len(indices)):
            raise StopIteration
        return collate_fn(batch)
    return fetch
