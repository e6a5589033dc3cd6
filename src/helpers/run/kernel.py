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

A cell that outlives the cell timeout, or a kernel that dies while running a cell (``os._exit``,
the out-of-memory killer), ends the notebook with :class:`CellAborted`, which names the cell;
the notebook as far as it ran is written out all the same, and the kernel is stopped and
replaced (it is still busy, or gone).
"""

from __future__ import annotations

import functools
import logging
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

from helpers.paths import KERNEL_NAME, PAGES_ONLY_ENV_VAR

if TYPE_CHECKING:
    import nbformat

__all__ = [
    "KERNEL_ARGUMENTS",
    "KERNEL_NAME",
    "CellAborted",
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
# nbclient logs a timeout or a dead kernel as errors before raising; the raised CellAborted says
# it once, so those lines would only be noise in cron logs.
_CLIENT_LOG = logging.getLogger("helpers.run.kernel.nbclient")
_CLIENT_LOG.addHandler(logging.NullHandler())
_CLIENT_LOG.propagate = False


class CellAborted(Exception):
    """A cell never finished: it outlived the cell timeout, or the kernel died running it.

    ``cell_index`` counts every cell from 0 (papermill's injected parameters included);
    ``execution_count`` is the number Jupyter shows beside the cell, if it got that far.
    """

    def __init__(
        self, reason: str, cell_index: int, execution_count: int | None, source: str
    ) -> None:
        super().__init__(reason, cell_index, execution_count, source)
        self.reason, self.cell_index = reason, cell_index
        self.execution_count, self.source = execution_count, source

    def __str__(self) -> str:
        # The execution count is what Jupyter shows ("In [4]"); a cell that died before the
        # kernel acknowledged it has none, so say where it sits (markdown cells included).
        if self.execution_count:
            cell = f"cell {self.execution_count}"
        else:
            cell = f"the cell at position {self.cell_index + 1}"
        first_line = next((line for line in self.source.splitlines() if line.strip()), "")
        shown = first_line if len(first_line) <= 60 else first_line[:59] + "…"
        return f"{cell} ({shown.strip()!r}) {self.reason}"


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
            # Its notebooks only become pages: figures as SVG without a PNG, tables without a
            # text preview (helpers.paths.pages_only).
            env={**os.environ, PAGES_ONLY_ENV_VAR: "1"},
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
        self.usable = True
        self.running: nbformat.NotebookNode | None = None  # the notebook being executed

    def run(
        self,
        notebook: Path,
        failed_output: Path,
        parameters: dict,
        cell_timeout: int,
    ) -> tuple[nbformat.NotebookNode, dict[str, float]]:
        """Execute ``notebook`` with papermill: the executed notebook, timings.

        Timings in seconds: ``kernel`` = starting this kernel (for its first notebook only),
        ``execute`` = resetting it and running the cells. Raises papermill's
        ``PapermillExecutionError`` (naming the failing cell) like ``papermill.execute_notebook``
        on a new kernel, or :class:`CellAborted` when a cell runs longer than ``cell_timeout``
        seconds or the kernel dies; ``failed_output`` then holds the notebook as far as it ran.
        A notebook that succeeds is not written: its page is what the run keeps (at 1,000
        trials, writing and validating every executed notebook cost ~1 GB and ~8% of the
        pipeline process's time).
        """
        import papermill
        from papermill.exceptions import PapermillExecutionError

        _register_engine()
        started = time.perf_counter()
        first, self.notebooks_run = self.notebooks_run == 0, self.notebooks_run + 1
        try:
            executed = papermill.execute_notebook(
                str(notebook),
                None,  # not written: see above
                parameters=parameters,
                engine_name=ENGINE_NAME,
                kernel_name=KERNEL_NAME,
                kernel=self,
                cell_timeout=cell_timeout,
                progress_bar=False,
                report_mode=False,
            )
        except _Aborted as aborted:
            # The kernel is still running the cell, or dead: it runs nothing more.
            self.usable = False
            self.shutdown(now=True)
            _write(aborted.notebook, failed_output)
            raise aborted.cell from None
        except PapermillExecutionError:
            if self.running is not None:  # with papermill's error marker, as it would write it
                _write(self.running, failed_output)
            raise
        finally:
            self.running = None
        timing = {
            "kernel": self.start_seconds if first else 0.0,
            "execute": time.perf_counter() - started,
        }
        return executed, timing

    def shutdown(self, now: bool = False) -> None:
        """Stop the kernel (at once: kill it); another thread may call this when it is idle."""
        if self.loop.is_closed():
            return
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=now)
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
        """The calling worker's kernel, started on its first call or after one was aborted."""
        current = getattr(self.local, "kernel", None)
        if current is None or not current.usable:
            self.local.kernel = WarmKernel(self.cwd)
            self.kernels.append(self.local.kernel)
        return self.local.kernel

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=True, cancel_futures=cancel_futures)  # workers done first
        for kernel in self.kernels:
            kernel.shutdown()
        self.kernels.clear()


class _Aborted(Exception):
    """Carries a :class:`CellAborted` and the notebook as far as it ran out of papermill."""

    def __init__(self, cell: CellAborted, notebook: nbformat.NotebookNode) -> None:
        super().__init__(cell)
        self.cell, self.notebook = cell, notebook


def _write(notebook: nbformat.NotebookNode, path: Path) -> None:
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


@functools.cache
def _register_engine() -> None:
    """Register papermill's nbclient engine, running on a :class:`WarmKernel`."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class CellTrackingClient(PapermillNotebookClient):
        """Remembers which cell is running, for a timeout or a dead kernel to name it."""

        running: int | None = None

        def execute_cell(self, cell, cell_index, *args, **kwargs):
            self.running = cell_index
            return super().execute_cell(cell, cell_index, *args, **kwargs)

    class WarmKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, kernel, cell_timeout, **_):
            for cell in nb_man.nb.cells:
                if "injected-parameters" in cell.metadata.get("tags", []):
                    cell.id = "injected-parameters"  # papermill's is random: pages would differ
            client = CellTrackingClient(
                nb_man,
                km=kernel.manager,
                kernel_name=kernel_name,
                timeout=cell_timeout,
                log=_CLIENT_LOG,
            )
            client.kc = kernel.client  # so nbclient neither starts nor stops a kernel or client
            kernel.running = nb_man.nb  # written out by WarmKernel.run if a cell fails
            reply = client.wait_for_reply(
                client.kc.execute(RESET_CODE, silent=True, store_history=False)
            )
            if reply["content"]["status"] != "ok":
                content = reply["content"]
                raise RuntimeError(
                    f"resetting the kernel failed: {content.get('ename')}: {content.get('evalue')}"
                )
            try:
                return client.execute()
            except (CellTimeoutError, DeadKernelError) as exc:
                if isinstance(exc, CellTimeoutError):
                    reason = f"ran longer than the cell timeout of {cell_timeout:g} s"
                else:
                    reason = "was running when the kernel died (out of memory, or the code exited)"
                index = client.running or 0
                cell = nb_man.nb.cells[index]
                aborted = CellAborted(reason, index, cell.get("execution_count"), cell.source)
                raise _Aborted(aborted, nb_man.nb) from None

    papermill_engines.register(ENGINE_NAME, WarmKernelEngine)


# --------------------------------------------------------------------------- inside the kernel

_FRESH: dict[str, object] = {}


_BUILTIN_NAMES = ("__builtin__", "__builtins__", "__name__")  # IPython's reset keeps them too


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
    # The notebook's names go first (variables, and outputs: IPython's own reset removes only
    # _1 of _1, _2, … before it collects), so that the collection IPython's reset runs frees
    # every reference cycle they held. One collection, not two: each went over every object
    # made since the last freeze (~30 ms a trial page). Its namespaces are rebuilt by reset.
    for name in [name for name in shell.user_ns if name not in _BUILTIN_NAMES]:
        del shell.user_ns[name]
    shell.user_ns_hidden.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # resetting deprecated options warns
        _reset_libraries(shell, sys.modules)  # pyplot's figures closed before the collection
    shell.reset(new_session=True)
    os.chdir(_FRESH["cwd"])
    os.environ.clear()
    os.environ.update(_FRESH["environ"])
    sys.path[:] = _FRESH["path"]
    warnings.resetwarnings()  # also invalidates every module's "already shown" registry
    warnings.filters[:] = _FRESH["filters"]
    warnings.onceregistry.clear()
    # After its collection the reset only rebuilt its own namespaces; a collection of the
    # young generations frees any cycle among what it dropped. The survivors (mostly imported
    # modules) are then exempted from later collections: a full collection of the scientific
    # stack takes ~0.3 s.
    gc.collect(1)
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
