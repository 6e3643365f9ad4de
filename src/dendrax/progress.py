"""A progress bar for a long simulation: the native kernel counts its steps as it runs
(`dendrax.native.library.steps_done`), and a thread moves a tqdm bar with the count while
the run goes on."""

import contextlib
import threading

from dendrax.native.library import steps_done

AUTO_DELAY_S = 2.0
"""With `progress=None`, the bar appears only once a run has lasted this long (s)."""

POLL_S = 0.2
"""How often the bar reads the count (s)."""


@contextlib.contextmanager
def shown(total: int, progress: bool | None, counted: bool):
    """A tqdm bar of `total` steps around a run: always with `progress=True`, never with
    False, after `AUTO_DELAY_S` with None (then only where tqdm is installed). `counted`:
    whether the run's steps are counted as they go (the native kernel's are); else the bar
    fills when the run ends."""
    if progress is False:
        yield
        return
    try:
        from tqdm.auto import tqdm
    except ImportError as error:
        if progress:
            raise ImportError("a progress bar needs tqdm: pip install 'dendrax[train]'") from error
        yield
        return
    bar = tqdm(total=total, unit="step", desc="dendrax", delay=0.0 if progress else AUTO_DELAY_S)
    start, stop = steps_done(), threading.Event()

    def follow():
        while not stop.wait(POLL_S):
            bar.update(min(total, steps_done() - start) - bar.n)

    thread = threading.Thread(target=follow, daemon=True)
    if counted:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if counted:
            thread.join()
        bar.update(total - bar.n)
        bar.close()
