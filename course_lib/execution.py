"""Run a notebook in a fresh kernel, timing every cell, without the widget-cell stall.

Every tool that executes the course's notebooks (the book builds, ``make notebooks``, the
stall probe, the class grader) goes through this module, so they share one fix.

The stall it fixes: a cell that shows output inside an ipywidgets ``Output`` (every
``interact``) sometimes took exactly the runner's per-cell timeout and then went on as if
nothing had happened. The chain, each link checked on this project's pins:

1. nbclient mimics the front end's ``Output`` widget: for every output the kernel routes
   into it, it sends a ``comm_msg`` back **on the shell channel**, from inside its IOPub
   handler, while it is awaiting the cell's ``execute_reply`` on that same channel.
2. ``jupyter_client.Session.send`` sends on an asyncio socket through a plain synchronous
   shadow (``zmq.Socket.shadow(socket.underlying)``), bypassing pyzmq's asyncio layer.
3. libzmq's send processes the socket's pending commands, among them the one announcing
   the kernel's reply, and so empties the socket's edge-triggered ``ZMQ_FD``. The event
   loop never sees the reply arrive; pyzmq's own asyncio ``send`` re-reads ``ZMQ_EVENTS``
   afterwards for exactly this reason (pyzmq #1208), the shadow send does not.
4. The pending ``poll`` sleeps until its timer fires, then finds the reply and returns it.

:func:`install_shell_wakeup` makes every asynchronous channel re-read ``ZMQ_EVENTS``
through its asyncio socket after a send, which lets pyzmq schedule the waiting receive.
Explained in the instructor's guide (how the course is tested); upstream: nbclient #312.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path


def install_shell_wakeup() -> None:
    """Patch jupyter_client's asynchronous channels to re-arm their socket after a send.

    Idempotent; affects only the process that calls it (a notebook runner, never a kernel).
    """
    import zmq
    from jupyter_client.channels import AsyncZMQSocketChannel

    send = AsyncZMQSocketChannel.send
    if getattr(send, "rearms_after_send", False):
        return

    @functools.wraps(send)
    def send_then_rearm(self, msg):
        send(self, msg)
        # Reading EVENTS through the asyncio socket (not a shadow) makes pyzmq schedule any
        # receive or poll that is waiting; a plain read would drain the FD once more.
        self.socket.get(zmq.EVENTS)

    send_then_rearm.rearms_after_send = True
    AsyncZMQSocketChannel.send = send_then_rearm


@dataclass
class Execution:
    """What one run of a notebook took: wall-clock seconds per code cell, and in total."""

    cell_seconds: dict[int, float] = field(default_factory=dict)
    total_seconds: float = 0.0

    def slowest(self, k: int = 3) -> list[tuple[int, float]]:
        """The ``k`` slowest code cells as ``(cell index, seconds)``, slowest first."""
        return sorted(self.cell_seconds.items(), key=lambda item: -item[1])[:k]


def execute_notebook(notebook, cwd: str | Path, timeout: float, wakeup: bool = True) -> Execution:
    """Execute ``notebook`` in place in a fresh ``python3`` kernel started in ``cwd``.

    ``timeout`` bounds every cell (nbclient raises ``CellTimeoutError`` naming the cell);
    ``wakeup=False`` runs without :func:`install_shell_wakeup`, to measure the stall.
    """
    from nbclient import NotebookClient

    if wakeup:
        install_shell_wakeup()
    execution = Execution()

    class TimedClient(NotebookClient):
        async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
            start = time.perf_counter()
            try:
                return await super().async_execute_cell(cell, cell_index, *args, **kwargs)
            finally:
                if cell.cell_type == "code":
                    execution.cell_seconds[cell_index] = time.perf_counter() - start

    start = time.perf_counter()
    client = TimedClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    execution.total_seconds = time.perf_counter() - start
    return execution
