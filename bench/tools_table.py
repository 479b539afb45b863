"""The field's tools, tried for real: does each install beside this course's pins? (chapter 10)

    python bench/tools_table.py                  # print the table
    python bench/tools_table.py --write          # also refresh the copy chapter 10 shows offline

For each library a learner meets next, with pip itself (no hand-typed facts):

* **latest**: the newest release on the index (``pip index versions``);
* **beside the pins**: ``pip install --dry-run -c constraints.txt NAME==LATEST`` in this
  environment, so "yes" means the latest release resolves without moving any pinned package; "no"
  quotes pip's reason, and **newest that fits** is what pip picks when the version is left free
  (an old release, often: a trap for a learner who types ``pip install NAME``);
* **backends**: the frameworks its metadata requires or offers as extras (tensorflow, keras, torch,
  jax), read from the wheel's ``Requires-Dist``;
* **pitfalls**: upper bounds in its metadata (``numpy<2``, ``tensorflow<=2.15``, ``attrs<24``,
  ``Requires-Python``), a default dependency on torch (several GB where no torch is installed), and
  the resolver's conflict.

Needs the package index (PyPI); offline it says so and exits. Results are written to
``modelsec_edu/outlook/tools_table.json`` with ``--write`` (dated, with pip's and Python's
versions).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"
OUT = ROOT / "modelsec_edu" / "outlook" / "tools_table.json"

# name on the index -> (what it is for, the course chapter it extends)
TOOLS = {
    "adversarial-robustness-toolbox": (
        "evasion, poisoning, extraction, inference attacks and defences",
        "03-08",
    ),
    "cleverhans": ("evasion attacks (FGSM, PGD, C&W)", "03"),
    "foolbox": ("evasion attacks with one loop and norm plug-ins", "03"),
    "torchattacks": ("evasion attacks for PyTorch, AutoAttack included", "03, 06"),
    "autoattack": ("the standard robustness evaluation", "06"),
    "opacus": ("DP-SGD for PyTorch", "07"),
    "tensorflow-privacy": ("DP-SGD and membership inference for TensorFlow", "07"),
    "jax-privacy": ("DP-SGD for JAX (Keras 3 wrapper on the JAX backend)", "07"),
    "dp-accounting": ("privacy accountants (RDP, PLD)", "07"),
    "diffprivlib": ("differentially private scikit-learn models", "07"),
    "model-signing": ("OpenSSF model signing (Sigstore or keys)", "05"),
    "modelscan": ("scans model files for unsafe code", "05"),
    "picklescan": ("scans pickle files for dangerous imports", "05"),
    "fickling": ("decompiles and checks pickle files", "05"),
    "safetensors": ("a tensor file format that cannot carry code", "05"),
}
FRAMEWORKS = ("tensorflow", "tensorflow-cpu", "keras", "tf-keras", "torch", "jax", "jaxlib", "flax")
BOUNDED = (
    "numpy",
    "tensorflow",
    "attrs",
    "keras",
    "torch",
    "jax",
    "scipy",
    "scikit-learn",
    "protobuf",
)


def pip(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def latest(name: str) -> str | None:
    out = pip("index", "versions", name, timeout=60)
    m = re.search(rf"^{re.escape(name)} \(([^)]+)\)", out.stdout, flags=re.M | re.I)
    return m.group(1) if m else None


def resolve(name: str) -> tuple[bool, dict | None, str]:
    """Dry-run install against the pins: (ok, metadata of the resolved package, pip's complaint)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        out = pip("install", "--dry-run", "--report", str(report), "-c", str(CONSTRAINTS), name)
        if out.returncode == 0 and report.exists():
            data = json.loads(report.read_text())
            base = _norm(re.split(r"[=<>!~ ]", name, maxsplit=1)[0])
            meta = next(
                (i["metadata"] for i in data["install"] if _norm(i["metadata"]["name"]) == base),
                None,
            )
            new = sorted(_norm(i["metadata"]["name"]) for i in data["install"])
            return True, {**(meta or {}), "_pulls": new}, ""
        return False, None, _reason(out.stderr + out.stdout)


def _reason(text: str) -> str:
    """pip's own words for a refusal: what follows "The conflict is caused by:", else its error."""
    lines = [ln for ln in text.splitlines() if ln.strip() and "Location" not in ln]
    for i, ln in enumerate(lines):
        if "conflict is caused by" in ln:
            cause = []
            for nxt in lines[i + 1 :]:
                if not nxt.startswith(" "):
                    break
                cause.append(nxt.strip())
            if cause:
                return "; ".join(cause)
    errors = [ln.strip() for ln in lines if ln.startswith("ERROR")]
    return (
        errors[0].removeprefix("ERROR: ")
        if errors
        else (lines[-1].strip() if lines else "pip failed")
    )


def metadata(name: str, version: str | None) -> dict:
    """The latest wheel's metadata (for a package that does not resolve here)."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = f"{name}=={version}" if version else name
        out = pip("download", "--no-deps", "--quiet", "-d", tmp, spec, timeout=180)
        wheels = list(Path(tmp).glob("*.whl"))
        if out.returncode or not wheels:
            return {}
        import zipfile

        with zipfile.ZipFile(wheels[0]) as z:
            meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
            text = z.read(meta).decode("utf-8", "replace")
    return {
        "requires_dist": re.findall(r"^Requires-Dist: (.+)$", text, flags=re.M),
        "requires_python": (re.findall(r"^Requires-Python: (.+)$", text, flags=re.M) or [None])[0],
    }


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def backends(requires: list[str]) -> list[str]:
    found = set()
    for req in requires:
        dist = _norm(re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0])
        if dist in FRAMEWORKS:
            found.add(
                {
                    "tensorflow-cpu": "tensorflow",
                    "tf-keras": "keras",
                    "jaxlib": "jax",
                    "flax": "jax",
                }.get(dist, dist)
            )
    return sorted(found)


def pitfalls(requires: list[str], requires_python: str | None, pulls: list[str]) -> list[str]:
    notes = []
    for req in requires:
        if "extra ==" in req:
            continue
        dist = _norm(re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0])
        if dist in BOUNDED and re.search(r"<|==|~=", req.split(";")[0]):
            notes.append(req.split(";")[0].replace(" ", ""))
    if requires_python and "<" in requires_python:
        notes.append(f"Python {requires_python}")
    if "torch" in pulls:
        notes.append("installs torch by default (a multi-GB CUDA build where none is installed)")
    return notes


def survey(names: list[str]) -> list[dict]:
    rows = []
    for name in names:
        t0 = time.perf_counter()
        version = latest(name)
        ok, meta, reason = resolve(f"{name}=={version}" if version else name)
        fits = version if ok else None
        if not ok and version:
            free_ok, free_meta, _ = resolve(name)
            fits = free_meta.get("version") if free_ok and free_meta else None
        if meta is None:
            meta = metadata(name, version)
        requires = meta.get("requires_dist") or []
        pulls = meta.get("_pulls", [])
        rows.append(
            {
                "name": name,
                "for": TOOLS[name][0],
                "chapters": TOOLS[name][1],
                "latest": version,
                "installs_beside_pins": ok,
                "newest_that_fits": fits,
                "resolver": reason,
                "backends": backends(requires),
                "pitfalls": pitfalls(requires, meta.get("requires_python"), pulls),
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        r = rows[-1]
        print(
            f"  {name:<32} {r['latest'] or '?':<10} {'yes' if ok else 'no':<4} "
            f"{r['seconds']:5.1f} s"
        )
    return rows


def markdown(rows: list[dict]) -> str:
    head = (
        "| library | latest | latest installs beside the pins | newest that fits | backends "
        "| pitfalls seen |\n"
        "|---|---|---|---|---|---|"
    )
    body = [
        f"| `{r['name']}` | {r['latest'] or '?'} "
        f"| {'yes' if r['installs_beside_pins'] else 'no: ' + r['resolver'][:160]} "
        f"| {r['newest_that_fits'] or 'none'} "
        f"| {', '.join(r['backends']) or 'none declared'} | {'; '.join(r['pitfalls']) or '—'} |"
        for r in rows
    ]
    return "\n".join([head, *body])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)}")
    ap.add_argument("names", nargs="*", default=list(TOOLS), help="libraries (default: all)")
    args = ap.parse_args(argv)
    if latest("pip") is None:
        print("the package index is not reachable: nothing to measure")
        return 0
    print(
        f"resolving {len(args.names)} libraries against {CONSTRAINTS.name} "
        f"(Python {platform.python_version()})"
    )
    rows = survey(args.names)
    print()
    print(markdown(rows))
    if args.write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "made_by": "bench/tools_table.py",
            "date": dt.date.today().isoformat(),
            "python": platform.python_version(),
            "pip": pip("--version").stdout.split()[1],
            "constraints": CONSTRAINTS.name,
            "rows": rows,
        }
        OUT.write_text(json.dumps(record, indent=1) + "\n")
        print(f"\nwritten to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
