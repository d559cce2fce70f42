"""A new device type is one new package in gpugrad/backends/ and no edit elsewhere.

The test copies gpugrad, adds two device packages that nothing else in the code knows of, and
checks in a fresh interpreter that ``Device``, ``Tensor.<type>()``, ``Module.<type>()``,
``gg.<type>``, ``gg.devices()`` and the tests' device list all find them through the device
protocol (``gpugrad/device_registry.py``): ``fake`` defines only ``create_backend``; ``fakehost`` is a
single device (``INDEXED = False``) that needs a GPU and is not usable here."""
import ast
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import gpugrad as gg

ROOT = Path(__file__).resolve().parents[1]

FAKE = '''"""The ``fake`` device: NumPy arrays under another name (the device-protocol test)."""
from ..cpu.backend import NumpyBackend


def create_backend(device):
    return NumpyBackend(device)
'''

FAKEHOST = '''"""The ``fakehost`` device: one device that needs a GPU and is never usable."""
INDEXED = False
NEEDS_GPU = True


def create_backend(device):
    raise AssertionError("fakehost is unavailable: nothing may create its backend")


def unavailable_reason():
    return "no fakehost on this machine"
'''

CHECK = '''
import sys
import gpugrad as gg
from gpugrad.errors import InvalidDeviceError

assert gg.__file__.startswith(COPY), gg.__file__  # the copy with the new packages, not the checkout
assert {"fake", "fakehost"} <= set(gg.device_registry.device_types())

d = gg.Device("fake:2")
assert (d.type, d.index, str(d)) == ("fake", 2, "fake:2") and str(gg.Device("fake")) == "fake:0"
h = gg.Device("fakehost")
assert (h.type, h.index, str(h)) == ("fakehost", 0, "fakehost")
for bad in ("fakehost:1", "fake:x", "fakes"):
    try:
        gg.Device(bad)
    except InvalidDeviceError as exc:
        message = str(exc)
    else:
        raise AssertionError(f"{bad!r} parsed")
    assert '"fake", "fake:N"' in message and '"fakehost"' in message, message
    assert '"fakehost:N"' not in message, message

x = gg.tensor([1.0, 2.0], requires_grad=True)
y = x.fake()
assert y.device == "fake:0" and x.fake(1).device == "fake:1"
(y * y).sum().backward()
assert x.grad.tolist() == [2.0, 4.0]
for cls in (gg.Tensor, gg.nn.Module):
    assert "fake" in dir(cls) and "fakehost" in dir(cls), cls
    assert "fake:N" in cls.fake.__doc__, cls.fake.__doc__
model = gg.nn.Linear(2, 1).fake(3)
assert model.weight.device == "fake:3" and model.bias.device == "fake:3"
try:
    x.fakehost(1)
except InvalidDeviceError:
    pass
else:
    raise AssertionError("fakehost:1 exists")
assert gg.fake is sys.modules["gpugrad.backends.fake"]

rows = {r.name: r for r in gg.devices()}
fake, fakehost = rows["fake"], rows["fakehost"]
assert fake.available and fake.device == "fake" and fake.profile is None
assert fake.detail.startswith("The ``fake`` device"), fake.detail
assert not fakehost.available and fakehost.detail == "no fakehost on this machine"
assert rows["cpu"] == gg.devices()[0]
assert "fakehost     unavailable  no fakehost on this machine" in str(gg.devices())

sys.path.insert(0, TESTS)
import conftest

assert conftest.DEVICES == ["cpu", "fake", "sim", "fakehost", "cuda"], conftest.DEVICES
assert conftest.device_unavailable_reason("fake") is None
assert "no fakehost on this machine" in conftest.device_unavailable_reason("fakehost")
marks = {name: [m.name for m in conftest._device_param(name).marks] for name in conftest.DEVICES}
assert marks["fakehost"] == ["cuda"] and marks["fake"] == [] and marks["cpu"] == [], marks
print("ok")
'''


def test_a_new_device_type_is_one_package(tmp_path):
    copy = tmp_path / "gpugrad"
    shutil.copytree(ROOT / "gpugrad", copy, ignore=shutil.ignore_patterns("__pycache__"))
    for name, source in (("fake", FAKE), ("fakehost", FAKEHOST)):
        (copy / "backends" / name).mkdir()
        (copy / "backends" / name / "__init__.py").write_text(source)
    code = f"COPY = {str(copy)!r}\nTESTS = {str(ROOT / 'tests')!r}\n" + textwrap.dedent(CHECK)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))  # the copy comes before the installed one
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("ok")


def test_the_protocol_as_the_shipped_packages_answer_it():
    device = gg.device_registry
    assert device.ordered_device_types() == ["cpu", "sim", "cuda"]
    assert not device.is_indexed("cpu") and device.is_indexed("sim") and device.is_indexed("cuda")
    assert [device.needs_gpu(t) for t in ("cpu", "sim", "cuda")] == [False, False, True]
    assert device.unavailable_reason("cpu") is None and device.unavailable_reason("sim") is None
    assert device.unavailable_reason("cuda") == gg.cuda.unavailable_reason()
    for type_ in device.device_types():
        rows = device.device_rows(type_)
        assert rows and all(len(row) == 4 and isinstance(row[2], str) for row in rows)


def device_names_in_code(path, names):
    """``[(line, text)]`` for each string in ``path``'s code (docstrings aside) that is one of
    ``names`` or starts with ``name:``."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings
            and any(node.value == n or node.value.startswith(f"{n}:") for n in names)]


def test_no_device_name_is_written_outside_the_device_packages():
    # Tensor.sim()/Module.cuda() are generated, gg.devices() asks the packages, Device asks the
    # package whether an index is allowed: none of them spells a device name in its code.
    package = ROOT / "gpugrad"
    found = {rel: device_names_in_code(package / rel, ("cpu", "sim", "cuda"))
             for rel in ("device_registry.py", "device_info.py")}
    found.update({rel: device_names_in_code(package / rel, ("sim", "cuda"))
                  for rel in ("tensor_conversions.py", "nn/module.py")})
    offenders = {rel: hits for rel, hits in found.items() if hits}
    assert not offenders, offenders
    # the reader sees names where they are written
    assert device_names_in_code(package / "backends" / "cuda" / "availability.py", ("cuda",))
