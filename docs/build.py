"""Build the course site: run the chapters (quick mode), render them with Sphinx, check the links.

    python docs/build.py                # what `make site` runs
    python docs/build.py --reuse        # reuse notebooks already executed in build/executed/

Steps:

1. every ``notebooks/NN_*.ipynb`` runs with nbclient into ``build/executed/`` (quick mode
   and offline unless the environment says otherwise), two at a time; a cell error fails the build;
2. the site source is assembled in ``build/site-src/`` (``docs/*.md``, ``docs/conf.py`` and the
   executed notebooks under ``notebooks/``), and ``sphinx-build -W`` renders it to ``build/site/``
   (any Sphinx warning, such as a missing image or an unresolved cross-reference, fails);
3. every HTML page is checked: each local ``href`` and ``src`` must name a file of the site (each
   ``#anchor`` naming an id on that page), and each ``<img>`` a non-empty file.

Nothing in the repository is written: outputs go to ``build/`` (ignored by git).
"""

from __future__ import annotations

import argparse
import ast
import html.parser
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
REPO = "https://github.com/modelsec-edu/modelsec-edu"


def execute(nb: Path, out_dir: Path, timeout: int) -> tuple[str, float]:
    import nbformat
    from nbclient import NotebookClient

    start = time.perf_counter()
    book = nbformat.read(nb, as_version=4)
    NotebookClient(
        book,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(nb.parent)}},
    ).execute()
    nbformat.write(book, out_dir / nb.name)
    return nb.name, time.perf_counter() - start


def run_notebooks(out_dir: Path, jobs: int, timeout: int) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    env_defaults = {
        "MODELSEC_EDU_QUICK": "1",
        "MODELSEC_EDU_OFFLINE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    for key, value in env_defaults.items():
        os.environ.setdefault(key, value)
    books = chapters()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for name, seconds in pool.map(lambda nb: execute(nb, out_dir, timeout), books):
            print(f"  executed {name:<40} {seconds:6.1f} s")


def assemble(executed: Path, src: Path) -> None:
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    for f in (ROOT / "docs").iterdir():
        if f.suffix in (".md", ".py") and f.name != "build.py":
            shutil.copy2(f, src / f.name)
    # the chapters present now (an executed copy of a chapter since removed is left out)
    missing = [nb.name for nb in chapters() if not (executed / nb.name).is_file()]
    if missing:
        raise SystemExit(f"not executed yet in {executed}: {missing}; run without --reuse")
    for nb in chapters():
        shutil.copy2(executed / nb.name, src / "notebooks" / nb.name)
    generated = {
        "runtimes.md": runtimes_table,
        "chapters.md": chapters_table,
        "tradeoffs.md": tradeoffs_table,
    }
    for name, make in generated.items():
        (src / name).write_text(make(), encoding="utf-8")


def _fmt_seconds(s) -> str:
    return "not measured" if s is None else (f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min")


def chapters() -> list[Path]:
    """Every chapter notebook present (chapters being written appear as soon as they land)."""
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def runtimes_table() -> str:
    """The measured run times the library holds (``runtime.RUN_SECONDS``), as a Markdown table.

    One column per mode or route the table names (``quick``, ``full``, or routes such as
    ``binder``), in the order they first appear, so a new route shows up without editing this.
    """
    from modelsec_edu import runtime

    table = runtime.RUN_SECONDS
    routes = list(dict.fromkeys(k for row in table.values() for k in row)) or ["quick", "full"]
    lines = ["| chapter | " + " | ".join(routes) + " |", "|---" * (len(routes) + 1) + "|"]
    for nb in chapters():
        row = table.get(nb.name[:2], {})
        lines.append(
            f"| {nb.stem} | " + " | ".join(_fmt_seconds(row.get(r)) for r in routes) + " |"
        )
    note = "" if table else "\n\nNo chapter has been timed yet (`runtime.RUN_SECONDS` is empty).\n"
    return "\n".join(lines) + f"\n\nMeasured on {runtime.RUN_MACHINE}.\n" + note


def _prerequisites(nb: Path) -> str:
    import nbformat

    book = nbformat.read(nb, as_version=4)
    text = "\n\n".join(c.source for c in book.cells if c.cell_type == "markdown")
    found = re.search(r"\*\*Prerequisites?[:.]?\*\*[:.]?\s*(.+?)(?:\n\s*\n|$)", text, re.S)
    return " ".join(found.group(1).split()) if found else "not stated in the notebook"


def _checks(chapter: str) -> list[str]:
    """The exercise checks of ``modelsec_edu/exercises/chNN.py``, read with ``ast`` (no import)."""
    module = ROOT / "modelsec_edu" / "exercises" / f"ch{chapter}.py"
    if not module.is_file():
        return []
    tree = ast.parse(module.read_text(encoding="utf-8"))
    return [
        f"`{f.name}`"
        for f in tree.body
        if isinstance(f, ast.FunctionDef) and f.name.startswith("check_")
    ]


def chapters_table() -> str:
    """Per chapter, from the repository itself: prerequisites, exercise checks, the solutions."""
    lines = [
        "| chapter | prerequisites (as the notebook states them) | checked exercises | solutions |"
    ]
    lines.append("|---|---|---|---|")
    for nb in chapters():
        solution = ROOT / "solutions" / nb.name
        where = f"[`solutions/{nb.name}`]({REPO}/blob/main/solutions/{nb.name})"
        checks = _checks(nb.name[:2])
        lines.append(
            f"| [{nb.stem}](notebooks/{nb.name}) | {_prerequisites(nb)} | "
            f"{len(checks)}: {', '.join(checks) or '-'} | "
            f"{where if solution.is_file() else '**missing**'} |"
        )
    return "\n".join(lines) + "\n"


def tradeoffs_table() -> str:
    """The defences' recorded figures (chapter 10's plot) and the chapters with none yet."""
    from modelsec_edu.outlook import tradeoffs

    rows = tradeoffs.load_tradeoffs()
    lines = ["| ch. | defence | clean | under attack | strongest attack | cost | source |"]
    lines.append("|---|---|---|---|---|---|---|")
    for r in rows:
        lines.append(
            f"| {r.chapter} | {r.defence} | {r.clean:.1%} | {r.attacked:.1%} | {r.attack} | "
            f"{r.cost:.1f}x | {r.source} |"
        )
    missing = tradeoffs.missing_chapters(rows)
    tail = f"\n\nNo figures recorded yet for chapters {', '.join(missing)}.\n" if missing else "\n"
    return ("\n".join(lines) if rows else "No bench has recorded a defence yet.") + tail


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key):
                self.refs.append((tag, a[key]))


def check_links(site: Path) -> list[str]:
    # _static/ holds the theme's Jinja templates, not pages
    pages = {
        p: _parse(p) for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts
    }
    problems = []
    checked = 0
    for page, parsed in pages.items():
        for tag, ref in parsed.refs:
            parts = urlsplit(ref)
            if parts.scheme or ref.startswith(("//", "mailto:", "data:", "javascript:")):
                continue
            checked += 1
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.append(f"{page.relative_to(site)}: broken {tag} link {ref!r}")
            elif tag == "img" and target.stat().st_size == 0:
                problems.append(f"{page.relative_to(site)}: empty image {ref!r}")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    problems.append(
                        f"{page.relative_to(site)}: no anchor #{parts.fragment} in {target.name}"
                    )
    print(f"  checked {checked} internal links and images on {len(pages)} pages")
    return problems


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--reuse", action="store_true", help="reuse build/executed/ instead of executing"
    )
    ap.add_argument("--jobs", type=int, default=2, help="notebooks executed at once (default 2)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    args = ap.parse_args(argv)
    executed, src, site = BUILD / "executed", BUILD / "site-src", BUILD / "site"
    if not args.reuse:
        print("1. executing the chapters")
        run_notebooks(executed, args.jobs, args.timeout)
    print("2. rendering with Sphinx")
    assemble(executed, src)
    if site.exists():
        shutil.rmtree(site)
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-q",
        "-b",
        "html",
        str(src),
        str(site),
    ]
    if subprocess.run(cmd, check=False).returncode:
        print("Sphinx reported warnings or errors (see above)")
        return 1
    print("3. checking links and images")
    problems = check_links(site)
    for p in problems:
        print("  " + p)
    if problems:
        return 1
    print(f"site built: {site / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
