"""gg.finfo and gg.iinfo (gpugrad/finfo.py) report PyTorch's limits for every dtype."""
import pytest

import gpugrad as gg

FLOATS = ["float16", "bfloat16", "float32", "float64"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]


@pytest.mark.parametrize("name", FLOATS)
def test_finfo_matches_torch(name, torch):
    ours, theirs = gg.finfo(getattr(gg, name)), torch.finfo(getattr(torch, name))
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert ours.dtype == theirs.dtype
    assert gg.finfo(name) == ours


def test_finfo_defaults_to_the_default_dtype(torch):
    assert gg.finfo().dtype == "float32" == torch.finfo().dtype
    for module in (gg, torch):
        with pytest.raises(TypeError, match="iinfo"):
            module.finfo(module.int32)


@pytest.mark.parametrize("name", INTS)
def test_iinfo_matches_torch(name, torch):
    ours, theirs = gg.iinfo(getattr(gg, name)), torch.iinfo(getattr(torch, name))
    assert (ours.bits, ours.min, ours.max, ours.dtype) == (theirs.bits, theirs.min, theirs.max,
                                                           theirs.dtype)


def test_iinfo_refuses_floats_and_bool(torch):
    for module in (gg, torch):
        with pytest.raises(TypeError):
            module.iinfo(module.float32)
        with pytest.raises(TypeError, match="bool"):
            module.iinfo(module.bool)
