"""Widgets for chapter 08 (finance): what a query budget and rounding buy the bank.

:func:`extraction_explorer` is a view over two results the library computed
beforehand (:func:`modelsec_edu.extraction.budget_sweep` and
:func:`modelsec_edu.extraction.rounding_sweep`); moving a control trains
nothing.  Threat model: a competitor copying the bank's scorer through its
API (Tramer et al. 2016,
https://www.usenix.org/conference/usenixsecurity16/technical-sessions/presentation/tramer),
a bank that caps and watches the queries (Juuti et al. 2019,
https://arxiv.org/abs/1805.02628) and rounds its scores.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np

from modelsec_edu.extraction import BudgetSweep, RoundingSweep

from .base import BlitFigurePanel, Panel

__all__ = ["extraction_explorer"]


def _label(decimals: int | None) -> str:
    return "full" if decimals is None else f"{decimals} decimals"


def extraction_explorer(sweep: BudgetSweep, rounding: RoundingSweep) -> Panel:
    """A query budget slider (the copy's agreement, the monitor's alarm) and a rounding choice."""
    if not isinstance(sweep, BudgetSweep):
        raise TypeError(f"sweep must be a BudgetSweep, got {type(sweep).__name__}")
    if not isinstance(rounding, RoundingSweep):
        raise TypeError(f"rounding must be a RoundingSweep, got {type(rounding).__name__}")
    budgets = [int(b) for b in sweep.budgets]
    budget = w.SelectionSlider(
        options=budgets, value=budgets[-1], description="query budget", continuous_update=False
    )
    names = [_label(d) for d in rounding.decimals]
    rounded = w.Dropdown(options=names, value=names[0], description="API returns")

    fig = BlitFigurePanel((11, 3.2), ncols=3)  # the curves are drawn once, the marks move
    a, b, c = fig.axes
    a.plot(sweep.budgets, 100 * sweep.agreement, marker="o")
    a.set(xscale="log", xlabel="label-only queries", ylabel="agreement (%)",
          title="copy-cat on real applicants")  # fmt: skip
    (here_a,) = a.plot([], [], "o", ms=13, mfc="none", mec="black")
    q = np.arange(1, len(sweep.suspicion) + 1)
    b.plot(q, sweep.suspicion, color="tab:red")
    b.axhline(sweep.threshold, ls=":", color="grey", label="alarm threshold")
    budget_line = b.axvline(budgets[-1], color="black", lw=1)
    b.set(xlabel="query", ylabel="suspicion", title="the bank's monitor")
    b.legend(fontsize=8)
    err = np.maximum(rounding.error, 1e-17)
    c.semilogy(range(len(names)), err, marker="o")
    c.set_xticks(range(len(names)), [n.replace(" decimals", "") for n in names])
    c.set(xlabel="decimals returned", ylabel="max weight error",
          title="equation-solving vs rounding")  # fmt: skip
    (here_c,) = c.plot([], [], "o", ms=13, mfc="none", mec="black")
    fig.figure.tight_layout()
    fig.animate(here_a, budget_line, here_c)

    def update(panel: Panel) -> str:
        n = int(budget.value)
        i = budgets.index(n)
        here_a.set_data([n], [100 * sweep.agreement[i]])
        budget_line.set_xdata([n, n])
        j = names.index(rounded.value)
        here_c.set_data([j], [err[j]])
        e, agr = rounding.at(rounding.decimals[j])
        alarm = sweep.alarm_at
        if alarm < 0:
            seen = "the monitor never raised its alarm"
        elif alarm < n:
            seen = f"the monitor raised its alarm at query {alarm + 1}, before the budget ran out"
        else:
            seen = f"the monitor's alarm comes at query {alarm + 1}, after this budget"
        return (
            f"{n} queries: the copy agrees with the bank on {sweep.agreement[i]:.1%} of real "
            f"applicants; {seen}.<br>API returns {rounded.value}: equation-solving's weight error "
            f"{e:.2g}, its model agrees on {agr:.1%}"
        )

    return Panel([budget, rounded], update, fig=fig, title="Extraction: budget and rounding")
