"""Photo I/O overlapped with the model (pixelwise.overlap_io): same order, same files, errors neither lost nor
reordered, a write in flight always finished."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from pixelwise.inference import translate_files
from pixelwise.overlap_io import WriteBehind, read_ahead
from pixelwise.registry import create_model


def test_read_ahead_keeps_the_order_and_loads_the_next_item_in_a_worker():
    threads: dict[int, str] = {}

    def load(item: int) -> int:
        threads[item] = threading.current_thread().name
        return item * item

    seen = []
    for item, value in read_ahead(range(5), load):
        seen.append((item, value))
    assert seen == [(i, i * i) for i in range(5)]
    assert all(name.startswith("pixelwise-read") for name in threads.values())
    sequential = {}
    list(read_ahead(range(3), lambda i: sequential.setdefault(i, threading.current_thread().name), enabled=False))
    assert set(sequential.values()) == {threading.current_thread().name}


def test_read_ahead_raises_a_failed_load_at_its_turn():
    def load(item: int) -> int:
        if item == 2:
            raise ValueError("bad item 2")
        return item

    seen = []
    with pytest.raises(ValueError, match="bad item 2"):
        for item, _ in read_ahead(range(4), load):
            seen.append(item)
    assert seen == [0, 1]


def test_write_behind_keeps_results_in_order_and_raises_a_failed_write():
    with WriteBehind() as writer:
        for i in range(4):
            writer.submit(lambda i: (time.sleep(0.005), i)[1], i)
    assert writer.results == [0, 1, 2, 3]

    def fail(i: int) -> int:
        if i == 1:
            raise OSError("disk full")
        return i

    writer = WriteBehind()
    writer.submit(fail, 0)
    writer.submit(fail, 1)
    with pytest.raises(OSError, match="disk full"):  # raised before the next write starts
        writer.submit(fail, 2)
    assert writer.results == [0]
    # and at the end, if it was the last one
    with pytest.raises(OSError, match="disk full"), WriteBehind() as last:
        last.submit(fail, 1)


def test_write_behind_finishes_the_write_in_flight_when_the_caller_fails(tmp_path):
    target = tmp_path / "out.txt"

    def slow_write(text: str) -> None:
        time.sleep(0.05)
        target.write_text(text)

    with pytest.raises(RuntimeError, match="model failed"), WriteBehind() as writer:
        writer.submit(slow_write, "done")
        raise RuntimeError("model failed")
    assert target.read_text() == "done"


def test_folder_inference_writes_the_same_files_with_and_without_background_io(tmp_path):
    torch.manual_seed(0)
    model = create_model("deblurgan", ngf=4, n_blocks=1).eval()
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for name, (h, w) in {"a": (37, 50), "b": (20, 28), "c": (16, 16), "d": (24, 40)}.items():
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(photos / f"{name}.png")
    overlapped = translate_files(model, [photos], tmp_path / "overlapped", device="cpu", progress=False,
                                 background_io=True)
    sequential = translate_files(model, [photos], tmp_path / "sequential", device="cpu", progress=False,
                                 background_io=False)
    assert [p.name for p in overlapped] == [p.name for p in sequential] == ["a.png", "b.png", "c.png", "d.png"]
    for a, b in zip(overlapped, sequential, strict=True):
        assert a.parent.name == "overlapped" and b.parent.name == "sequential"
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
