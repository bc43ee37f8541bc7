"""The one parser of llama-server args (llamaprof.server_args) and what reads it back."""

from __future__ import annotations

from llamaprof.analyze.configs import settings_labels
from llamaprof.capture.command import config_labels
from llamaprof.capture.config import Variant
from llamaprof.record import parse_record
from llamaprof.server_args import (
    args_texts,
    difference_labels,
    flag_text,
    is_flag,
    parse_server_args,
)

# Negative numbers in every form llama-server takes them, a bare flag between values.
ARGV = ["-ngl", "-1", "--temp", "-0.5", "-fa", "on", "--metrics", "--seed", "-.5", "-lv", "-1e3"]


def test_negative_numbers_are_values_not_flags():
    """`-1`, `-0.5`, `-.5` and `-1e3` are values; `-fa` and `--metrics` start flags."""
    assert parse_server_args(ARGV) == {
        "-ngl": "-1",
        "--temp": "-0.5",
        "-fa": "on",
        "--metrics": True,
        "--seed": "-.5",
        "-lv": "-1e3",
    }
    assert [is_flag(t) for t in ("-1", "-0.5", "-.5", "-1e3", "-fa", "--metrics", "on")] == [
        False,
        False,
        False,
        False,
        True,
        True,
        False,
    ]


def test_a_bare_flag_before_a_flag_and_at_the_end():
    """A flag followed by a flag, or by nothing, is a bare flag (True)."""
    assert parse_server_args(["--metrics", "-fa", "on", "--no-mmap"]) == {
        "--metrics": True,
        "-fa": "on",
        "--no-mmap": True,
    }
    assert parse_server_args(["-1"]) == {"_positional": ["-1"]}


def test_capture_and_comparison_read_args_alike():
    """The record's argv list and its parsed dict give the same config table rows."""
    from_list = parse_record({"server_args": ARGV}, "a.llamaprof.json").settings
    from_dict = parse_record({"server_args": parse_server_args(ARGV)}, "b.llamaprof.json").settings
    assert (
        from_list
        == from_dict
        == {
            "arg -ngl": "-1",
            "arg --temp": "-0.5",
            "arg -fa": "on",
            "arg --metrics": "(set)",
            "arg --seed": "-.5",
            "arg -lv": "-1e3",
        }
    )


def test_labels_agree_between_capture_and_comparison():
    """A capture's config labels and the comparison's labels of its records are the same."""
    a = ("-ngl", "-1", "--temp", "-0.5", "--metrics")
    b = ("-ngl", "-1", "--temp", "-0.25", "--metrics")
    assert config_labels([Variant(a), Variant(b)]) == ["--temp -0.5", "--temp -0.25"]
    records = {
        "x": parse_record({"server_args": list(a)}, "x.llamaprof.json"),
        "y": parse_record({"server_args": parse_server_args(b)}, "y.llamaprof.json"),
    }
    assert settings_labels(records) == {"x": "--temp -0.5", "y": "--temp -0.25"}


def test_flag_texts_and_difference_labels():
    """Flags are written back as typed; only differing keys label, absent ones as told."""
    assert flag_text("--lora", ["a", "b"]) == "--lora a --lora b"
    assert args_texts(parse_server_args(["-ngl", "-1", "--metrics"])) == {
        "-ngl": "-ngl -1",
        "--metrics": "--metrics",
    }
    configs = [{"-fa": "-fa on", "-ngl": "-ngl 99"}, {"-ngl": "-ngl 99"}, {"-fa": "-fa off"}]
    assert difference_labels(configs) == ["-fa on -ngl 99", "-ngl 99", "-fa off"]
    assert difference_labels(configs, absent=lambda k: f"no {k}") == [
        "-fa on -ngl 99",
        "no -fa -ngl 99",
        "-fa off no -ngl",
    ]
    assert difference_labels([{"-fa": "-fa on"}]) == [""]
