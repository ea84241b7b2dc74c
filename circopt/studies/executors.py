"""Where a study's independent jobs run: in process, a local process pool, or Dask."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from ..errors import CircoptError
from ..terminal import Progress as _Progress


def map_jobs(fn, jobs: list, executor: str = "processes", workers: int | None = None,
             scheduler: str | None = None, bar=None) -> list:
    """``[fn(j) for j in jobs]`` in order, computed ``inprocess``, in a local process pool
    (``processes``, ``workers`` processes) or on Dask (``dask``; ``scheduler`` address or a local
    cluster). ``fn`` must be a top-level function (picklable); ``bar.step()`` after each job."""
    bar = bar or _Progress(len(jobs), "jobs", False)
    if executor == "inprocess":
        out = []
        for j in jobs:
            out.append(fn(j))
            bar.step()
    elif executor == "processes":
        from concurrent.futures import as_completed

        out = [None] * len(jobs)
        with ProcessPoolExecutor(max_workers=workers) as ex:
            futs = {ex.submit(fn, j): i for i, j in enumerate(jobs)}
            for fu in as_completed(futs):
                out[futs[fu]] = fu.result()
                bar.step()
    elif executor == "dask":
        out = _dask_map(jobs, scheduler, bar, fn, workers)
    else:
        raise CircoptError(f"unknown executor '{executor}'; expected inprocess, processes or dask")
    return out


def _dask_map(jobs, scheduler, bar, fn=None, workers: int | None = None):
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - optional extra
        raise CircoptError("the dask executor needs the 'dask' extra: pip install 'circopt[dask]'") from None
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        if fn is None:
            from .sweep import _run_point as fn
        futs = client.map(fn, jobs, pure=False)
        index = {f.key: i for i, f in enumerate(futs)}
        out = [None] * len(jobs)
        for fu in as_completed(futs):
            out[index[fu.key]] = fu.result()
            bar.step()
        return out
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
