"""Chapter 10: the article's tools and outlook, with evidence from the course itself.

* :mod:`.cross_backend` -- one ``.keras`` file attacked under TensorFlow, JAX and PyTorch;
* :mod:`.tradeoffs` -- what every defence of chapters 04-09 costs, and the Pareto front;
* :mod:`.threats` -- every attack by goal, knowledge and capability, and what answers it;
* :mod:`.standards` -- the chapters mapped to NIST AI 100-2, MITRE ATLAS, OWASP ML Top 10 and the
  EU AI Act;
* ``tools_table.json`` -- the field's libraries tried against this course's pins
  (``bench/tools_table.py``).
"""

import json
from pathlib import Path

from .cross_backend import BACKENDS, BackendRun, compare_backends
from .standards import STANDARDS, Mapping, standards_table
from .threats import ATTACKS, CAPABILITIES, GOALS, KNOWLEDGE, Threat, applicable
from .tradeoffs import Tradeoff, load_tradeoffs, missing_chapters, pareto_front

__all__ = [
    "ATTACKS",
    "BACKENDS",
    "CAPABILITIES",
    "GOALS",
    "KNOWLEDGE",
    "STANDARDS",
    "BackendRun",
    "Mapping",
    "Threat",
    "Tradeoff",
    "applicable",
    "compare_backends",
    "load_tradeoffs",
    "missing_chapters",
    "pareto_front",
    "standards_table",
    "tools_table",
]


def tools_table() -> dict:
    """The last recorded run of ``bench/tools_table.py``: its date, environment and rows."""
    return json.loads(Path(__file__).with_name("tools_table.json").read_text(encoding="utf-8"))
