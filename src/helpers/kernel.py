"""How notebooks are executed: the project's kernel over IPC sockets.

IPC (Unix domain sockets in the Jupyter runtime folder) instead of TCP ports: kernels
started in parallel cannot collide on a port, and ipykernel does not warn about
unencrypted TCP on every start.
"""

from __future__ import annotations

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from helpers.paths import KERNEL_NAME

__all__ = ["KERNEL_ARGUMENTS", "KERNEL_NAME", "IPCKernelManager"]

# The kernel's own log would print shutdown chatter ("KeyboardInterrupt caught in kernel")
# into cron logs; failures inside cells still reach us as cell errors.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]


class IPCKernelManager(AsyncKernelManager):
    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"
