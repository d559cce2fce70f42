"""Array backends. ``base.py`` holds the contract every backend implements; ``events.py`` and
``launch_plans.py`` are shared by the devices; each package (``cpu/``, ``sim/``, ``cuda/``)
serves one device type.

Adding a device type is adding one package here, ``gpugrad/backends/T/``, and nothing else:
``gpugrad.device_registry`` finds it by looking in this folder. Its ``__init__.py`` answers the device
protocol (documented in ``gpugrad/device_registry.py``): ``create_backend(device)`` (required), and where
the defaults do not fit ``INDEXED = False`` (one device, like cpu), ``NEEDS_GPU = True`` (like
cuda), ``unavailable_reason()`` and ``device_rows()`` (its rows of ``gg.devices()``). A package
must not import the tensor, ops, nn, engine or tool layers.
"""
