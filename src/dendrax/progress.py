"""Progress bars of what a user waits for: a long simulation (the native kernel counts its
steps as it runs, `dendrax.native.library.steps_done`) and the first compile of a model's
native code. A thread moves a tqdm bar with a count while the work goes on."""

import contextlib
import sys
import threading
from collections.abc import Callable

AUTO_DELAY_S = 2.0
"""With `progress=None`, a bar appears only once the work has lasted this long (s)."""

POLL_S = 0.2
"""How often the bar reads the count (s)."""

LOGGED_INTERVAL_S = 10.0
"""The least time between two redraws of a bar written to a file or a pipe (s), where each
redraw is a line of the log; a terminal's or notebook's redraws replace each other."""


def _interactive() -> bool:
    """Whether stderr is a terminal or a notebook's output (where redraws replace each other)."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules


@contextlib.contextmanager
def shown(
    total: int,
    progress: bool | None,
    count: Callable[[], int] | None,
    unit: str = "step",
    description: str = "dendrax",
):
    """A tqdm bar of `total` units around some work: always with `progress=True`, never
    with False, after `AUTO_DELAY_S` with None (then only where tqdm is installed).
    `count()` tells how many units are done so far (counted from its value on entry); with
    None the bar fills when the work ends."""
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
    delay = 0.0 if progress else AUTO_DELAY_S
    interval = POLL_S if _interactive() else LOGGED_INTERVAL_S
    bar = tqdm(total=total, unit=unit, desc=description, delay=delay, mininterval=interval)
    start, stop = (count() if count else 0), threading.Event()

    def follow():
        while not stop.wait(POLL_S):
            done = min(total, count() - start) if count else 0
            bar.update(done - bar.n)  # also shows the bar once the delay has passed

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        bar.update(total - bar.n)
        bar.close()
