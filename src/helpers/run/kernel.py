"""How notebooks are executed: the project's kernel over IPC sockets, kept warm between notebooks.

IPC (Unix domain sockets in the Jupyter runtime folder) instead of TCP ports: kernels
started in parallel cannot collide on a port, and ipykernel does not warn about
unencrypted TCP on every start. Every kernel gets its own socket path: jupyter_client's
default is the *relative* path ``kernel-ipc-<n>`` in the working directory, which kernels
started in parallel from one folder share (one of them then never answers) and which breaks
when the client and the kernel have different working directories.

Starting a kernel and importing the scientific stack costs more than running most trial
pages, so the pipeline runs notebook after notebook in a :class:`WarmKernel`, one per worker
thread of a :class:`KernelPool`. Before each notebook, :func:`reset_to_fresh` runs inside the
kernel and restores what a kernel that has just started (and imported the same modules) would
have. Failures still come back as papermill errors naming the notebook's cell.
"""

from __future__ import annotations

import functools
import os
import secrets
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_client.manager import AsyncKernelManager, KernelManager
from jupyter_core.utils import ensure_event_loop, run_sync
from traitlets import DottedObjectName, default

from helpers.paths import KERNEL_NAME

if TYPE_CHECKING:
    import nbformat

__all__ = [
    "KERNEL_ARGUMENTS",
    "KERNEL_NAME",
    "IPCKernelManager",
    "KernelPool",
    "WarmKernel",
    "reset_to_fresh",
]

# The kernel's own log would print shutdown chatter ("KeyboardInterrupt caught in kernel")
# into cron logs; failures inside cells still reach us as cell errors.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]
# What nbclient gives the kernels it starts: no SQLite history file shared by parallel kernels.
WARM_KERNEL_ARGUMENTS = [*KERNEL_ARGUMENTS, "--HistoryManager.hist_file=:memory:"]
RESET_CODE = "__import__('helpers.run.kernel', fromlist=['_']).reset_to_fresh()"
ENGINE_NAME = "cell-evidence-warm"


def _socket_prefix() -> str:
    """A unique, absolute socket path prefix in the Jupyter runtime folder."""
    from jupyter_core.paths import jupyter_runtime_dir

    runtime = jupyter_runtime_dir()
    os.makedirs(runtime, exist_ok=True)
    return os.path.join(runtime, f"kernel-{secrets.token_hex(8)}-ipc")


class IPCKernelManager(AsyncKernelManager):
    """A kernel manager (for nbclient) whose kernel listens on its own Unix sockets."""

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        return _socket_prefix()


class _WarmKernelManager(KernelManager):
    """The same over jupyter_client's synchronous manager, which is tied to no event loop.

    A worker thread starts its kernel, the pipeline's main thread stops it. Its client is
    asynchronous because nbclient needs one.
    """

    client_class = DottedObjectName("jupyter_client.asynchronous.AsyncKernelClient")

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        return _socket_prefix()


class WarmKernel:
    """A started kernel with one client, running notebook after notebook, each as if new.

    Use it from the thread that created it only: its client's sockets belong to that thread's
    event loop. (A client per notebook would cost 0.2 s each: a new subscriber misses the
    first status message, and jupyter_client waits that long before asking again.)
    """

    def __init__(self, cwd: Path) -> None:
        started = time.perf_counter()
        self.loop = ensure_event_loop()  # the calling thread's, which run_sync uses
        self.manager = _WarmKernelManager(kernel_name=KERNEL_NAME)
        # The kernel process's own stdout/stderr carry only teardown noise ("Event loop is
        # closed"); cell output and errors travel over the protocol, so keep cron logs clean.
        self.manager.start_kernel(
            extra_arguments=WARM_KERNEL_ARGUMENTS,
            cwd=str(cwd),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.client = self.manager.client()
        self.client.start_channels()
        try:
            run_sync(self.client.wait_for_ready)(timeout=60)
        except RuntimeError:
            self.shutdown()
            raise
        self.start_seconds = time.perf_counter() - started
        self.notebooks_run = 0

    def run(
        self, notebook: Path, output: Path, parameters: dict
    ) -> tuple[nbformat.NotebookNode, dict[str, float]]:
        """Execute ``notebook`` with papermill into ``output``: the executed notebook, timings.

        Timings in seconds: ``kernel`` = starting this kernel (for its first notebook only),
        ``execute`` = resetting it and running the cells. Raises papermill's
        ``PapermillExecutionError`` (naming the failing cell) like ``papermill.execute_notebook``
        on a new kernel; ``output`` then holds the notebook as far as it ran.
        """
        import papermill

        _register_engine()
        started = time.perf_counter()
        first, self.notebooks_run = self.notebooks_run == 0, self.notebooks_run + 1
        executed = papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            engine_name=ENGINE_NAME,
            kernel_name=KERNEL_NAME,
            kernel=self,
            progress_bar=False,
            report_mode=False,
            # Written once at the end (or on failure), not twice per cell: a trial page with
            # figures is ~1 MB of JSON, validated by nbformat on every write.
            request_save_on_cell_execute=False,
        )
        timing = {
            "kernel": self.start_seconds if first else 0.0,
            "execute": time.perf_counter() - started,
        }
        return executed, timing

    def shutdown(self) -> None:
        """Stop the kernel; another thread may call this once the kernel's thread is idle."""
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)
        self.loop.close()


class KernelPool(ThreadPoolExecutor):
    """Worker threads, each with its own :class:`WarmKernel`; ``shutdown`` stops them all.

    A worker starts its kernel for its first notebook, so a run starts no more kernels than it
    runs notebooks at once, and the ingestion's kernel goes on to run trial pages.
    """

    def __init__(self, workers: int, cwd: Path) -> None:
        super().__init__(max_workers=workers, thread_name_prefix="kernel")
        self.cwd = cwd
        self.local = threading.local()
        self.kernels: list[WarmKernel] = []

    def kernel(self) -> WarmKernel:
        """The calling worker's kernel, started on its first call."""
        if getattr(self.local, "kernel", None) is None:
            self.local.kernel = WarmKernel(self.cwd)
            self.kernels.append(self.local.kernel)
        return self.local.kernel

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=True, cancel_futures=cancel_futures)  # workers done first
        for kernel in self.kernels:
            kernel.shutdown()
        self.kernels.clear()


@functools.cache
def _register_engine() -> None:
    """Register papermill's nbclient engine, running on a :class:`WarmKernel`."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class WarmKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, kernel, **_):
            for cell in nb_man.nb.cells:
                if "injected-parameters" in cell.metadata.get("tags", []):
                    cell.id = "injected-parameters"  # papermill's is random: pages would differ
            client = PapermillNotebookClient(nb_man, km=kernel.manager, kernel_name=kernel_name)
            client.kc = kernel.client  # so nbclient neither starts nor stops a kernel or client
            reply = client.wait_for_reply(
                client.kc.execute(RESET_CODE, silent=True, store_history=False)
            )
            if reply["content"]["status"] != "ok":
                content = reply["content"]
                raise RuntimeError(
                    f"resetting the kernel failed: {content.get('ename')}: {content.get('evalue')}"
                )
            return client.execute()

    papermill_engines.register(ENGINE_NAME, WarmKernelEngine)


# --------------------------------------------------------------------------- inside the kernel

_FRESH: dict[str, object] = {}


def reset_to_fresh() -> None:
    """Run inside a kernel before each notebook: the state of a kernel that has just started.

    The first call, before any notebook, records the working directory, environment,
    ``sys.path`` and warning filters; every call puts them back, and:

    * empties the user namespace and output history and restarts the execution count at 1
      (IPython's ``reset(new_session=True)``: ``%reset -f`` plus a new history session, so
      execution counts and "failed in cell N" match a fresh run);
    * forgets which warnings were already shown (a fresh kernel shows them again);
    * closes every figure and puts matplotlib's rcParams and the inline backend's figure
      formats back to what importing pyplot in a new kernel gives;
    * puts every pandas option back to its default.

    Imported modules stay imported (that is what makes the kernel warm), and so does other
    module-level state; the helpers keep none that depends on the data.
    """
    import gc
    import sys
    import warnings

    from IPython import get_ipython

    shell = get_ipython()
    if not _FRESH:
        _FRESH.update(
            cwd=os.getcwd(),
            environ=dict(os.environ),
            path=list(sys.path),
            filters=list(warnings.filters),
        )
    shell.reset(new_session=True)
    os.chdir(_FRESH["cwd"])
    os.environ.clear()
    os.environ.update(_FRESH["environ"])
    sys.path[:] = _FRESH["path"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # resetting deprecated options warns
        _reset_libraries(shell, sys.modules)
    warnings.resetwarnings()  # also invalidates every module's "already shown" registry
    warnings.filters[:] = _FRESH["filters"]
    warnings.onceregistry.clear()
    # Free the last notebook's reference cycles, then exempt the survivors (mostly imported
    # modules) from later collections: a full collection of the scientific stack takes
    # ~0.3 s, and IPython's reset runs one.
    gc.collect()
    gc.freeze()


def _reset_libraries(shell, modules: dict) -> None:
    """Defaults of the libraries a notebook changes through global state (if imported)."""
    if "matplotlib.pyplot" in modules:
        modules["matplotlib.pyplot"].close("all")
    if "matplotlib" in modules:
        modules["matplotlib"].rc_file_defaults()
    inline = modules.get("matplotlib_inline.backend_inline")
    if inline is not None:
        from IPython.core.pylabtools import select_figure_formats

        config = inline.InlineBackend.instance()
        modules["matplotlib"].rcParams.update(config.rc)
        select_figure_formats(shell, config.figure_formats, **config.print_figure_kwargs)
    if "pandas" in modules:
        modules["pandas"].reset_option("all")
