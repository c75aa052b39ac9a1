"""The device a model loads on by default: each launched process its own, else GPU, else CPU."""

from __future__ import annotations

import accelerate
import pytest
import torch

from gcop.lm import local_folder
from gcop.lm.device import default_device
from gcop.lm.local import LocalLM
from gcop.lm.tiny import tiny_model

LAUNCHER_VARIABLES = ("LOCAL_RANK", "WORLD_SIZE", "ACCELERATE_USE_CPU")


class LaunchedState:
    """Stands in for accelerate's ``PartialState`` on a two-GPU box, as process 1 sees it."""

    asked_cpu: list[bool] = []

    def __init__(self, cpu: bool = False) -> None:
        LaunchedState.asked_cpu.append(cpu)
        self.device = torch.device("cpu") if cpu else torch.device("cuda", 1)


@pytest.fixture
def second_of_two_processes(monkeypatch):
    """The environment ``accelerate launch --num_processes 2`` gives its second process."""
    for name in LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(accelerate, "PartialState", LaunchedState)
    LaunchedState.asked_cpu = []


@pytest.mark.parametrize("gpu", [True, False])
def test_a_single_process_takes_the_gpu_when_there_is_one(monkeypatch, gpu):
    for name in LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert default_device() == ("cuda" if gpu else "cpu")


def test_a_launched_process_takes_the_device_accelerate_gave_it(second_of_two_processes):
    assert default_device() == "cuda:1"
    assert LaunchedState.asked_cpu == [False]


def test_a_launch_on_cpu_keeps_every_process_on_the_cpu(second_of_two_processes, monkeypatch):
    monkeypatch.setenv("ACCELERATE_USE_CPU", "true")  # accelerate launch --cpu
    assert default_device() == "cpu"
    assert LaunchedState.asked_cpu == [True]


def test_a_local_lm_in_a_launched_process_loads_on_that_process_device(
    second_of_two_processes, monkeypatch
):
    placed = []

    def load_model(source, device, dtype):
        placed.append(device)
        return tiny_model()

    monkeypatch.setattr(local_folder, "load_model", load_model)
    assert LocalLM("tiny", dtype="float32").model is not None
    assert LocalLM("tiny", dtype="float32", device="cpu").model is not None  # a named one wins
    assert placed == ["cuda:1", "cpu"]
