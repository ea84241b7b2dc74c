"""Terminal output of the command line: rich tables and progress bars on a terminal, plain
lines when the output goes to a pipe or a file (no ``\\r`` progress bars in logs)."""

from __future__ import annotations

import sys
import time

import pandas as pd

from .readable import num


def _tty(stream) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


def _console(stream=None):
    from rich.console import Console

    return Console(file=stream or sys.stdout, highlight=False)


def table(df: pd.DataFrame, title: str | None = None, units: dict[str, str] | None = None,
          max_rows: int = 30, stream=None) -> None:
    """Print a table with formatted numbers (units in the header): a rich table on a terminal,
    aligned plain text otherwise."""
    stream = stream or sys.stdout
    units = units or {}
    head = [f"{c} ({units[c]})" if units.get(c) else str(c) for c in df.columns]
    rows = [[num(v) if isinstance(v, float) else str(v) for v in r] for r in df.head(max_rows).itertuples(index=False)]
    more = f"... {len(df) - max_rows} more rows in the CSV" if len(df) > max_rows else None
    if _tty(stream):
        from rich.table import Table

        t = Table(title=title, title_justify="left")
        for c, h in zip(df.columns, head):
            t.add_column(h, justify="right" if pd.api.types.is_numeric_dtype(df[c]) else "left")
        for r in rows:
            t.add_row(*r)
        _console(stream).print(t)
        if more:
            _console(stream).print(more)
        return
    if title:
        print(title, file=stream)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths)), file=stream)
    for r in rows:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths)), file=stream)
    if more:
        print(more, file=stream)


def say(text: str, style: str | None = None, stream=None) -> None:
    """One line (bold / red / yellow on a terminal)."""
    stream = stream or sys.stdout
    if _tty(stream) and style:
        _console(stream).print(text, style=style)
    else:
        print(text, file=stream)


class Progress:
    """Progress of a long run on stderr: a rich bar on a terminal; otherwise one line when it
    starts and one when it ends (nothing with ``enabled=False``)."""

    def __init__(self, total: int, label: str, enabled: bool = True, stream=None):
        self.total, self.label, self.n, self.enabled = max(1, total), label, 0, enabled
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()
        self._bar = self._task = None
        if not enabled:
            return
        if _tty(self.stream):
            from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), console=_console(self.stream), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(label, total=self.total)
        else:
            print(f"{label}: {self.total} runs ...", file=self.stream, flush=True)

    def step(self):
        self.n += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1)

    def done(self):
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        print(f"{self.label}: {self.n} runs in {time.perf_counter() - self.t0:.1f} s", file=self.stream, flush=True)


def print_study(st, stream=None) -> None:
    """What a study found, in a few lines: the ranking, the frontier, the comparison with
    units, the front (or why it collapsed), the sweep's summary."""
    m = st.meta
    t = st.table
    if st.kind == "prioritise":
        alone = t[t.run == "alone"].sort_values("improvement", ascending=False)
        unit = _objective_unit(st)
        ranks = [str(int(r)) if pd.notna(r) else "—" for r in alone["rank"]]
        table(alone[["lever", "improvement", "objective"]].assign(rank=ranks)[["lever", "rank", "improvement",
                                                                                "objective"]],
              title=f"Each lever alone: improvement of {m['objective']} (tolerance {m['tolerance']:.1e} {unit})",
              units={"improvement": unit, "objective": unit}, stream=stream)
        if m.get("unranked"):
            say(f"not ranked (within the solver tolerance): {', '.join(m['unranked'])}", "yellow", stream)
        say(f"greedy order: {' > '.join(m['greedy_order'])}", stream=stream)
    elif st.kind == "pareto":
        if m.get("collapsed"):
            say(f"pareto: {m['collapsed']}", "bold yellow", stream)
        unit = next(iter(st.runs.values())).system.unit if st.runs else ""
        table(t, title="Pareto front", units={c: unit for c in t.columns if c.startswith("losses")}, stream=stream)
    elif st.kind == "combine":
        unit = _objective_unit(st)
        table(t, title=f"Best levers within each budget ({m['objective']})",
              units={"objective": unit, "milp_objective": unit, "improvement": unit}, stream=stream)
    elif st.kind == "compare":
        table(t, title=f"Scenarios compared ({m.get('objective') if m.get('objective') != 'None' else 'simulated'}); "
                       "cumulative over the model years", stream=stream)
    elif st.kind == "sweep":
        summ = st.tables["sweep_summary"]
        cols = [c for c in ("indicator", "unit", "mean", "std", "5%", "50%", "95%") if c in summ.columns]
        table(summ[cols], title=f"Sweep of {m['samples']} parameter sets ({int(summ.refused_samples.iloc[0])} "
                                "refused)", stream=stream)
    else:
        table(t, title=st.kind, stream=stream)


def _objective_unit(st) -> str:
    from .readable import objective_unit

    runs = list(st.runs.values())
    if not runs:
        return ""
    from .cli import parse_objective
    from .errors import CircoptError

    try:
        return objective_unit(parse_objective(st.meta.get("objective", "losses")), runs[0].system)
    except CircoptError:  # a weighted objective given as a Python dict (the API) prints as its repr
        return "objective units"
