"""Facts the serving analyses need from an export: GPU peak bandwidth, session start."""

from __future__ import annotations

import pytest
from nsys_builder import ExportBuilder, Gpu

from llamaprof.sources import load_report

from conftest import shared_file

KERNEL = "void k<float>(float *)"


def test_memory_bandwidth_per_gpu(write_export):
    """TARGET_INFO_GPU.memoryBandwidth (bytes/s) is read per GPU, in device order; an empty
    value reads None."""
    b = ExportBuilder(gpus=[Gpu("B", None, device=1), Gpu("A", 3_352_000_000_000, device=0)])
    b.kernel(KERNEL, 0, 10)
    run = load_report(write_export(b))
    assert run.info.gpus == ["A", "B"]
    assert run.info.memory_bandwidth_bps == [3_352_000_000_000, None]
    assert run.events.session_start_utc_ns == 1_767_323_045_000_000_000


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("0x822a5b87__test-cuda__report1.sqlite", [288_032_000_000]),
        ("Pandananana__python-hpc__q1_1.sqlite", [898_048_000_000, 898_048_000_000]),
        (
            "RajaATAli__SC23_Programming-Your-GPU-with-OpenMP_Tutorial__report3.sqlite",
            [320_064_000_000],
        ),
        ("martisu1631998__kmeans-parallel__report2@81dae01.sqlite", []),  # no such column
    ],
)
def test_memory_bandwidth_of_real_exports(name, expected, tmp_path):
    """Real exports: an RTX 4060 Ti reads 288 GB/s, two V100s 898 GB/s each, a T4 320 GB/s;
    a 2021 export without the column reads nothing."""
    import shutil

    copy = tmp_path / name
    shutil.copy(shared_file(f"sqlite/{name}"), copy)  # never write beside ../shared
    assert load_report(copy).info.memory_bandwidth_bps == expected


def test_graph_nodes_traced(write_export):
    """A kernel with a graphNodeId means CUDA graphs were traced per node; none means not."""
    b = ExportBuilder()
    b.kernel(KERNEL, 0, 10)
    assert load_report(write_export(b, "plain")).info.graph_nodes_traced is False
    graph = b.api("cudaGraphLaunch_v10000", 15, 18)
    assert load_report(write_export(b, "graph")).info.graph_nodes_traced is False  # graph level
    b.kernel(KERNEL, 20, 30, correlation=graph, graph_node=7)
    assert load_report(write_export(b, "nodes")).info.graph_nodes_traced is True


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("GindaChen__nsys-ai__mfu_2gpu_before.sqlite", False),
        ("martisu1631998__kmeans-parallel__report2@81dae01.sqlite", False),
    ],
)
def test_graph_nodes_traced_of_real_exports(name, expected, tmp_path):
    """Real exports without graphs read False (their kernel tables have the column)."""
    import shutil

    copy = tmp_path / name
    shutil.copy(shared_file(f"sqlite/{name}"), copy)
    assert load_report(copy).info.graph_nodes_traced is expected
