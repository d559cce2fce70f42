"""Grad-mode blocks and decorators leave the thread's mode exactly as they found it, and
``gg.is_grad_enabled()`` answers with a bool."""
import pytest

import gpugrad as gg


def leaf():
    return gg.tensor([1.0, 2.0], requires_grad=True)


def test_inference_mode_turns_recording_off_and_restores_it():
    x = leaf()
    with gg.inference_mode():
        assert gg.is_grad_enabled() is False
        assert (x * 2).requires_grad is False
    assert gg.is_grad_enabled() is True
    assert (x * 2).requires_grad is True


def test_inference_mode_false_changes_nothing():
    x = leaf()
    with gg.inference_mode(False):
        assert gg.is_grad_enabled() is True
        assert (x * 2).requires_grad is True
    assert gg.is_grad_enabled() is True
    with gg.no_grad():
        with gg.inference_mode(False):
            assert gg.is_grad_enabled() is False
        assert gg.is_grad_enabled() is False
    assert gg.is_grad_enabled() is True


def test_inference_mode_restores_an_off_mode():
    with gg.no_grad():
        with gg.inference_mode():
            assert gg.is_grad_enabled() is False
        assert gg.is_grad_enabled() is False
        with gg.enable_grad():
            assert gg.is_grad_enabled() is True
    assert gg.is_grad_enabled() is True


@pytest.mark.parametrize("decorate", [gg.inference_mode(), gg.inference_mode])
def test_inference_mode_as_decorator(decorate):
    x = leaf()

    @decorate
    def f():
        return gg.is_grad_enabled(), (x * 2).requires_grad

    assert f() == (False, False)
    assert gg.is_grad_enabled() is True


def test_inference_mode_false_as_decorator_keeps_recording():
    x = leaf()

    @gg.inference_mode(False)
    def f():
        return gg.is_grad_enabled(), (x * 2).requires_grad

    assert f() == (True, True)
    with gg.no_grad():
        assert f() == (False, False)


def test_set_grad_enabled_without_argument_turns_recording_on():
    with gg.no_grad():
        with gg.set_grad_enabled():
            assert gg.is_grad_enabled() is True
        assert gg.is_grad_enabled() is False
    assert gg.is_grad_enabled() is True


@pytest.mark.parametrize("flag", [True, False])
def test_set_grad_enabled_as_decorator_applies_inside_only(flag):
    x = leaf()

    @gg.set_grad_enabled(flag)
    def f():
        return gg.is_grad_enabled(), (x * 2).requires_grad

    assert gg.is_grad_enabled() is True  # decorating changes nothing outside
    assert f() == (flag, flag)
    with gg.no_grad():
        assert f() == (flag, flag)
        assert gg.is_grad_enabled() is False
    with gg.enable_grad():
        assert f() == (flag, flag)
    assert gg.is_grad_enabled() is True
