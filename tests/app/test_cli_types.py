"""minitorch_ser.app.cli_types and the range checks of both experiment scripts' options."""

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

from minitorch_ser.app.cli_types import nonnegative_float, nonnegative_int, positive_float, positive_int

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.mark.parametrize("convert, text, value", [
    (nonnegative_int, "0", 0), (nonnegative_int, "42", 42), (positive_int, "1", 1),
    (nonnegative_float, "0", 0.0), (nonnegative_float, "2.5", 2.5), (positive_float, "1e-3", 1e-3),
])
def test_values_in_range_are_returned_as_numbers(convert, text, value):
    result = convert(text)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize("convert, text, message", [
    (nonnegative_int, "-1", "-1 is not an integer >= 0"),
    (nonnegative_int, "1.5", "'1.5' is not an integer >= 0"),
    (positive_int, "0", "0 is not an integer >= 1"),
    (positive_int, "x", "'x' is not an integer >= 1"),
    (nonnegative_float, "-0.5", "-0.5 is not a number >= 0"),
    (nonnegative_float, "inf", "inf is not a finite number >= 0"),
    (positive_float, "0", "0 is not a number > 0"),
    (positive_float, "nan", "nan is not a finite number > 0"),
])
def test_values_out_of_range_say_the_constraint(convert, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as err:
        convert(text)
    assert str(err.value) == message


def _script(name):
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module            # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


BAD_OPTIONS = [("--seed", "-1", "-1 is not an integer >= 0"),
               ("--epochs", "0", "0 is not an integer >= 1"),
               ("--batch-size", "0", "0 is not an integer >= 1"),
               ("--patience", "-2", "-2 is not an integer >= 0"),
               ("--duration", "0", "0 is not a number > 0"),
               ("--duration", "-3", "-3 is not a number > 0")]


@pytest.mark.parametrize("name, option, value, message", [
    *[("baved_parallel", *bad) for bad in BAD_OPTIONS],
    ("baved_parallel", "--copies", "-1", "-1 is not a number >= 0"),
    *[("crema_d_crnn", *bad) for bad in BAD_OPTIONS],
])
def test_experiment_options_out_of_range_exit_2_naming_the_option(name, option, value, message,
                                                                   capsys):
    script = _script(name)
    with pytest.raises(SystemExit) as exit_info:
        script.parse_args([f"{option}={value}"])
    assert exit_info.value.code == 2
    assert f"error: argument {option}: {message}" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["baved_parallel", "crema_d_crnn"])
def test_experiment_options_in_range_are_kept(name):
    cfg = _script(name).parse_args(["--seed", "0", "--epochs", "1", "--batch-size", "1",
                                    "--patience", "0", "--duration", "2.5"])
    assert (cfg.seed, cfg.train.epochs, cfg.train.batch_size, cfg.train.patience,
            cfg.features.duration) == (0, 1, 1, 0, 2.5)
