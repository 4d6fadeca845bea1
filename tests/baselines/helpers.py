"""A toy plural task for the tiny random Llama."""

from __future__ import annotations

from apeopt.tasks.task import Example, Task

WORDS = ["cat", "dog", "box", "fox", "pen", "cup", "hat", "bed", "car", "bus", "map", "egg", "key", "toy", "sun",
         "ant", "bat", "cow", "pig", "owl"]


def toy_task(with_test: bool = True) -> Task:
    ex = [Example(f"{w}{i}", (f"{w}{i}s",)) for i in range(3) for w in WORDS]
    splits = {"train": tuple(ex[:30]), "dev": tuple(ex[30:40])}
    if with_test:
        splits.update(test=tuple(ex[40:52]), test_shift=tuple(ex[52:60]))
    return Task("toy", "Write the plural form of the word.", splits, max_tokens=4)
