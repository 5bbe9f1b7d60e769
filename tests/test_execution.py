"""course_lib.execution: the widget-cell stall reproduced on purpose, and its fix."""

from __future__ import annotations

import asyncio
import select
import time

import nbformat
import pytest
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import start_new_async_kernel
from nbclient.exceptions import CellTimeoutError

from course_lib.execution import execute_notebook, install_shell_wakeup

POLL_TIMEOUT = 20.0  # seconds the client waits for the reply, as nbclient's cell timeout


async def reply_wait_after_a_send(send) -> float:
    """Seconds a pending ``get_msg`` waits for a reply that arrived before ``send`` ran.

    The order nbclient produces with an ``Output`` widget: the client is polling the shell
    channel; the kernel's reply lands while the event loop is busy with IOPub; the IOPub
    handler then sends a ``comm_msg`` on the shell channel with ``send``.
    """
    km, kc = await start_new_async_kernel(kernel_name="python3")
    try:
        await asyncio.sleep(1)  # on a loaded machine wait_for_ready may have asked twice:
        while await kc.shell_channel.msg_ready():  # drop its extra kernel_info replies
            await kc.shell_channel.get_msg()
        kc.execute("import time; time.sleep(0.5)")
        pending = asyncio.ensure_future(kc.shell_channel.get_msg(timeout=POLL_TIMEOUT))
        await asyncio.sleep(0)  # the poll registers; the reply is not there yet
        start = time.monotonic()
        fd = kc.shell_channel.socket.FD
        while not select.select([fd], [], [], 0.01)[0]:  # the loop stays blocked ...
            assert not pending.done(), "a stray reply reached the poll first"
            assert time.monotonic() - start < POLL_TIMEOUT / 2, "the kernel did not reply"
        # ... until the reply has arrived and signalled the socket's FD
        send(kc.shell_channel, kc.session.msg("comm_msg", content={"comm_id": "x", "data": {}}))
        sent = time.monotonic()
        reply = await pending
        assert reply["msg_type"] == "execute_reply"
        return time.monotonic() - sent
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)


def test_jupyter_clients_own_send_drains_the_wakeup_of_a_waiting_reply():
    """Upstream canary: if this starts failing, jupyter_client fixed it and the patch can go."""
    unpatched = getattr(AsyncZMQSocketChannel.send, "__wrapped__", AsyncZMQSocketChannel.send)
    waited = asyncio.run(reply_wait_after_a_send(unpatched))
    assert waited > 0.25 * POLL_TIMEOUT, f"the reply came after {waited:.2f} s, not at the timeout"


def test_installed_wakeup_delivers_the_waiting_reply_at_once():
    install_shell_wakeup()
    install_shell_wakeup()  # idempotent: one wrapper, not two
    assert not hasattr(AsyncZMQSocketChannel.send.__wrapped__, "rearms_after_send")
    waited = asyncio.run(reply_wait_after_a_send(AsyncZMQSocketChannel.send))
    assert waited < 2, f"the reply waited {waited:.2f} s"


def notebook_of(*sources: str):
    cells = [nbformat.v4.new_markdown_cell("# title")]
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    return nbformat.v4.new_notebook(cells=cells)


def test_execute_notebook_times_every_code_cell_and_keeps_widget_outputs(tmp_path):
    notebook = notebook_of(
        "import ipywidgets as w",
        "w.interact(lambda k: print('k =', k), k=w.IntSlider(value=3, min=0, max=5))",
    )
    execution = execute_notebook(notebook, cwd=tmp_path, timeout=60)
    assert sorted(execution.cell_seconds) == [1, 2]  # code cells only, by notebook index
    assert execution.total_seconds >= sum(execution.cell_seconds.values())
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    outputs = [m["state"].get("outputs") for m in state.values() if m["model_name"] == "OutputModel"]
    assert any("k = 3" in o[0]["text"] for o in outputs if o)  # nbclient's Output mimic ran


def test_a_hung_cell_fails_within_the_timeout_and_is_named(tmp_path):
    notebook = notebook_of("x = 1", "import time; time.sleep(60)  # hangs")
    start = time.monotonic()
    with pytest.raises(CellTimeoutError, match="hangs"):
        execute_notebook(notebook, cwd=tmp_path, timeout=2)
    assert time.monotonic() - start < 30
