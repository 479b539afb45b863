"""Chapter 10's widgets: pick a threat model and see which chapters' attacks and defences apply.

A view only: :func:`modelsec_edu.outlook.applicable` chooses the attacks, and the measured rows
of :func:`modelsec_edu.outlook.load_tradeoffs` supply the numbers shown beside each defence.
"""

from __future__ import annotations

import textwrap

import ipywidgets as w

from modelsec_edu import outlook

from .base import FigurePanel, Panel

__all__ = ["threat_picker"]

ANY = "any"


def _measured(rows: list[outlook.Tradeoff], chapter: str) -> str:
    found = [r for r in rows if r.chapter == chapter]
    if not found:
        return ""
    best = max(found, key=lambda r: r.attacked)
    return (
        f"  [measured: {best.defence}, {best.attacked:.0%} under {best.attack}, "
        f"clean {best.clean:.0%}]"
    )


def threat_picker(*, tradeoffs: list[outlook.Tradeoff] | None = None) -> Panel:
    """Dropdowns for goal, knowledge, capability above the attacks that fit and their defences."""
    rows = outlook.load_tradeoffs() if tradeoffs is None else list(tradeoffs)
    goal = w.Dropdown(options=(ANY, *outlook.GOALS), value=ANY, description="goal")
    knowledge = w.Dropdown(options=(ANY, *outlook.KNOWLEDGE), value=ANY, description="knows")
    capability = w.Dropdown(
        options=(ANY, *outlook.CAPABILITIES), value=ANY, description="can touch"
    )
    fig = FigurePanel((9.0, 4.6), dpi=80)
    (ax,) = fig.axes
    ax.axis("off")
    fig.figure.subplots_adjust(left=0.01, right=0.99, top=0.98, bottom=0.01)

    def update(panel: Panel) -> str:
        def pick(c):
            return None if c.value == ANY else c.value

        found = outlook.applicable(
            goal=pick(goal), knowledge=pick(knowledge), capability=pick(capability)
        )
        ax.clear()
        ax.axis("off")
        # The picture names the threat model it answers: two filters that keep the same first
        # eight attacks still draw different pictures.
        head = f"goal: {goal.value}   knows: {knowledge.value}   can touch: {capability.value}"
        ax.text(0.0, 0.995, f"{head}   ({len(found)} of {len(outlook.ATTACKS)} fit)", va="top",
                fontsize=9, color="#555555")  # fmt: skip
        if not found:
            ax.text(
                0.0, 0.9, "No attack of the course fits this threat model.", va="top", fontsize=11
            )
        y = 0.93
        for t in found[:8]:
            ax.text(0.0, y, f"ch. {t.chapter}  {t.attack}", va="top", fontsize=10, weight="bold")
            line = "defences: " + "; ".join(t.defences) + _measured(rows, t.chapter)
            for part in textwrap.wrap(line, 110):
                y -= 0.052
                ax.text(0.03, y, part, va="top", fontsize=9, color="#333333")
            y -= 0.07
        more = " (the first 8 shown)" if len(found) > 8 else ""
        return f"{len(found)} of {len(outlook.ATTACKS)} attacks of the course fit{more}"

    return Panel(
        [goal, knowledge, capability],
        update,
        fig=fig,
        title="Which chapters apply to this attacker?",
    )
