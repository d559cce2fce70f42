"""Tensor basics: reading values, repr, metadata, dtypes, casts, in-place writes outside
autograd, and the errors a user can act on."""
import numpy as np
import pytest

import gpugrad as gg


def test_reading_values(device):
    x = gg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    assert x.shape == (2, 2) and x.size() == (2, 2) and x.size(1) == 2
    assert x.ndim == 2 and x.dim() == 2 and x.numel() == 4 and len(x) == 2
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert isinstance(x.numpy(), np.ndarray) and x.numpy().dtype == np.float32
    assert x[1, 0].item() == 3.0 and isinstance(x.sum().item(), float)
    assert float(x[0, 1]) == 2.0 and int(gg.tensor(7, device=device)) == 7
    assert x.device == gg.Device(device) and x.device == device


def test_item_needs_one_element(device):
    with pytest.raises(RuntimeError, match="4 elements cannot be converted"):
        gg.ones(2, 2, device=device).item()
    for convert in (float, int):  # Python's conversions raise ValueError, as PyTorch's
        with pytest.raises(ValueError, match="only one element tensors can be converted"):
            convert(gg.ones(2, device=device))


def test_a_0d_tensor_formats_as_its_value(device):
    assert f"{gg.tensor(2.5, device=device):.2f}" == "2.50"  # (it raised TypeError)
    assert f"{gg.tensor(7, device=device):>3d}" == "  7"
    assert f"{gg.ones(2, device=device)}" == str(gg.ones(2, device=device))
    with pytest.raises(TypeError, match="only a 0-d tensor formats as a number"):
        f"{gg.ones(1, device=device):.2f}"


def test_bool_of_many_elements_is_ambiguous(device):
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(gg.ones(2, device=device))
    assert bool(gg.ones(1, device=device))


def test_repr_shows_device_dtype_and_grad_fn(device):
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    dev = str(gg.Device(device))
    assert repr(x) == f"tensor([1., 2.], device='{dev}', requires_grad=True)"
    y = x * 2
    assert repr(y) == f"tensor([2., 4.], device='{dev}', grad_fn=<MulBackward0>)"
    z = gg.tensor([1.0], dtype=gg.float64, device=device)
    assert "dtype=gpugrad.float64" in repr(z)
    assert repr(gg.tensor([1, 2], device=device)) == f"tensor([1, 2], device='{dev}')"


def test_repr_of_wrapped_values_names_no_numpy_dtype():
    # NumPy puts its own dtype on a line of its own when the values wrap
    text = repr(gg.arange(12.0) / 7)
    assert "\n" in text and "float32" not in text and text.endswith("], device='cpu')")
    assert repr(gg.arange(12, dtype=gg.int16) * 1000).count("dtype=") == 1  # gpugrad's own


def test_dtypes_default_and_inference(device):
    assert gg.tensor([1.0], device=device).dtype == gg.float32
    assert gg.tensor([1], device=device).dtype == gg.int64
    assert gg.tensor([True], device=device).dtype == gg.bool
    assert gg.tensor([1.0], dtype=gg.float64, device=device).dtype == gg.float64
    assert gg.tensor(np.array([1.0]), device=device).dtype == gg.float64  # NumPy keeps its dtype
    assert gg.tensor([1.0], dtype="float64", device=device).dtype is gg.float64
    assert gg.float is gg.float32 and gg.double is gg.float64 and gg.long is gg.int64
    assert gg.float32.is_floating_point and not gg.int64.is_floating_point
    assert gg.float32 == "float32" and repr(gg.float64) == "gpugrad.float64"


def test_unsupported_dtype_is_an_error():
    for dtype in ("float8", "complex64", "uint16"):
        with pytest.raises(TypeError, match=f"unsupported dtype.*{dtype}.*gpugrad supports"):
            gg.tensor([1.0], dtype=dtype)


def test_mixed_float_precision_promotes_like_torch(device):
    a = gg.tensor([1.0], device=device)
    b = gg.tensor([1.0], dtype=gg.float64, device=device)
    assert (a + b).dtype == gg.float64 and (a * 2).dtype == gg.float32


def test_casts_between_dtypes(device):
    x = gg.tensor([1.5, -2.5], device=device)
    assert x.double().dtype == gg.float64 and x.float() is x
    assert x.long().tolist() == [1, -2] and x.int().dtype == gg.int32
    assert x.to(gg.float64).dtype == gg.float64 and x.type_as(gg.ones(1, dtype=gg.float64)).dtype \
        == gg.float64
    assert gg.tensor([0, 3], device=device).bool().tolist() == [False, True]


def test_clone_copies_and_keeps_the_graph(device):
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    c = x.clone()
    assert c.grad_fn is not None
    (c * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    d = x.detach().clone()
    d.fill_(0.0)
    assert x.tolist() == [1.0, 2.0]


def test_in_place_writes_outside_autograd(device):
    x = gg.zeros(2, 2, device=device)
    x.fill_(3.0)
    assert x.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    x.copy_(gg.tensor([1.0, 2.0], device=device))
    assert x.tolist() == [[1.0, 2.0], [1.0, 2.0]]
    x.zero_()
    assert x.sum().item() == 0.0
    x.copy_([[5, 6], [7, 8]])
    assert x.tolist() == [[5.0, 6.0], [7.0, 8.0]]


def test_data_setter_keeps_shape_and_device(device):
    x = gg.zeros(2, device=device)
    x.data = gg.ones(2, device=device)
    assert x.tolist() == [1.0, 1.0]
    with pytest.raises(RuntimeError, match="keep the shape and device"):
        x.data = gg.ones(3, device=device)


def test_any_all(device):
    x = gg.tensor([0.0, 1.0], device=device)
    assert (x > 0).any().item() and not (x > 0).all().item()


def test_tensor_constructor_matches_gg_tensor(device):
    x = gg.Tensor([[1, 2]], dtype=gg.float32, device=device, requires_grad=True)
    assert x.dtype == gg.float32 and x.requires_grad and x.shape == (1, 2)


def test_tensors_on_two_devices_name_both(device):
    other = "sim" if device == "cpu" else "cpu"
    if "sim" not in gg.device_registry.device_types():
        pytest.skip("the sim backend is not part of this installation")
    a = gg.ones(2, device=device)
    b = gg.ones(2, device=other)
    for expr in (lambda: a + b, lambda: a @ b, lambda: gg.cat([a, b]), lambda: a < b,
                 lambda: gg.where(a > 0, a, b)):
        with pytest.raises(RuntimeError) as info:
            expr()
        message = str(info.value)
        assert str(gg.Device(device)) in message and str(gg.Device(other)) in message
        assert ".to(" in message


def test_integer_arithmetic(device):
    i = gg.arange(4, device=device)
    assert (i * 2 + 1).tolist() == [1, 3, 5, 7] and (i * 2).dtype == gg.int64


def test_int_float_promotion_follows_pytorch(device, torch):
    i, f = gg.tensor([1, 2, 3], device=device), gg.tensor([0.5, 1.0, 2.0], device=device)
    ti, tf = torch.tensor([1, 2, 3]), torch.tensor([0.5, 1.0, 2.0])
    for got, expected in (((i / 2), ti / 2), ((i * 2.5), ti * 2.5), ((i + f), ti + tf),
                          ((i / i), ti / ti), (gg.where(i > 1, 1.0, 0.0),
                                               torch.where(ti > 1, 1.0, 0.0)),
                          ((i * 2), ti * 2)):
        assert str(got.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
        assert got.tolist() == pytest.approx(expected.tolist())
    assert (i + gg.tensor([1.0], dtype=gg.float64, device=device)).dtype == gg.float64
    w = gg.tensor([0.5, 0.5, 0.5], device=device, requires_grad=True)
    (w * i).sum().backward()
    assert w.grad.dtype == gg.float32 and w.grad.tolist() == [1.0, 2.0, 3.0]


def test_every_public_tensor_method_and_property_has_a_docstring():
    # The public API is documented (help(gg.Tensor) is enough to use it); dunders other than
    # indexing are covered by the operator they implement.
    public = [n for n in dir(gg.Tensor) if not n.startswith("_") or n in ("__getitem__", "__setitem__")]
    missing = []
    for name in public:
        attr = getattr(gg.Tensor, name)
        if callable(attr) or isinstance(attr, property):
            if not (attr.__doc__ or "").strip():
                missing.append(name)
    assert len(public) > 80 and not missing, f"Tensor attributes without a docstring: {missing}"


@pytest.mark.parametrize("cls", [gg.Tensor, gg.nn.Module], ids=["Tensor", "Module"])
def test_each_device_type_has_a_documented_method(cls, monkeypatch):
    # x.sim(), model.cuda(1)...: made from the device registry, one per type, cpu written by hand
    for type_ in gg.device_registry.device_types():
        method = getattr(cls, type_)
        doc = method.__doc__.replace('"', "'")
        assert type_ in dir(cls) and f"self.to('{type_}" in doc, (type_, doc)
    assert cls.sim.__qualname__ == f"{cls.__name__}.sim" and cls.sim.__name__ == "sim"
    monkeypatch.setattr(cls, "to", lambda self, device: device)  # what each one asks for
    obj = gg.ones(1) if cls is gg.Tensor else gg.nn.Linear(1, 1)
    assert (obj.cpu(), obj.sim(), obj.sim(1), obj.cuda(), obj.cuda(2)) == (
        "cpu", "sim", "sim:1", "cuda", "cuda:2")


def test_sim_method_moves_to_the_indexed_device():
    x = gg.ones(2)
    assert x.sim().device == "sim:0" and x.sim(1).device == "sim:1" and x.sim(1).cpu().device == "cpu"
    with pytest.raises(ValueError, match="Invalid device string"):
        x.cpu().to("cpu:1")


def test_users_may_set_their_own_attributes_as_in_pytorch():
    x = gg.ones(2, requires_grad=True)
    y = x * 2
    x.tag, y.note = "input", {"step": 1}  # PyTorch allows this on any tensor
    p = gg.nn.Parameter(gg.zeros(2))
    p.shared = True
    assert (x.tag, y.note, p.shared) == ("input", {"step": 1}, True)
    assert not hasattr(gg.ones(1), "tag")  # each tensor has its own
    with pytest.raises(AttributeError):
        gg.ones(1).tag


def test_comparing_with_a_non_number_leaves_it_to_python_as_pytorch():
    # (``t == None`` and ``t in [None, 3]`` raised TypeError)
    t = gg.tensor([1.0, 2.0])
    assert (t == None) is False and (t != None) is True  # noqa: E711
    assert t not in [None, "a", [1.0, 2.0]]
    assert (t == [1.0, 2.0]) is False  # a list is not read as a tensor, as in PyTorch
    with pytest.raises(TypeError, match="'<' not supported"):
        t < None  # noqa: B015
    with pytest.raises(TypeError, match="eq\\(\\): argument 'other' must be Tensor or Number"):
        t.eq(None)  # the method still names what it takes
    assert (t == np.float64(1.0)).tolist() == [True, False]


def test_to_takes_pytorchs_non_blocking_and_copy(device):
    x = gg.ones(2, requires_grad=True)
    moved = x.to(device, non_blocking=True)  # (non_blocking raised TypeError)
    assert moved.device == device and moved.tolist() == [1.0, 1.0]
    same = x.to(x.dtype, copy=True)
    assert same is not x and same.grad_fn is not None
    with gg.no_grad():
        same.add_(1.0)
    assert x.tolist() == [1.0, 1.0]  # its own memory
    assert x.to("cpu", gg.float64, True, True).dtype is gg.float64  # the flags positionally
    assert x.to(x.dtype) is x and x.to(x.dtype, copy=False) is x
    with pytest.raises(TypeError, match="at most two flags"):
        x.to("cpu", True, True, True)
    net = gg.nn.Linear(2, 1)
    assert net.to(device, non_blocking=True).weight.device == device
    assert net.to("cpu", gg.float64, True).weight.dtype is gg.float64
