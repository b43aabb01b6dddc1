"""A cap on concurrent work per event loop."""

import asyncio
from weakref import WeakKeyDictionary


class LoopGate:
    """A semaphore of `size` per running event loop (`async with gate():`):
    one per process in production; a fresh one for each test's loop."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.semaphores: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            WeakKeyDictionary()
        )

    def __call__(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop not in self.semaphores:
            self.semaphores[loop] = asyncio.Semaphore(self.size)
        return self.semaphores[loop]
