"""Every attack of the course by its threat model, and the defences that answer it (chapter 10).

A threat model has three parts (Carlini et al. 2019, "On Evaluating Adversarial Robustness",
https://arxiv.org/abs/1902.06705): the attacker's **goal** (which security property breaks), their
**knowledge** of the model, and their **capability** (what they can touch).  :func:`applicable`
answers the question a practitioner asks first: "given this attacker, which chapters apply?"
"""

from __future__ import annotations

from dataclasses import dataclass

from modelsec_edu import validation

__all__ = ["ATTACKS", "CAPABILITIES", "GOALS", "KNOWLEDGE", "Threat", "applicable"]

GOALS = ("integrity", "availability", "confidentiality")
KNOWLEDGE = ("white-box", "scores", "labels only", "none")
CAPABILITIES = ("test inputs", "physical objects", "training data", "model file", "query API")


@dataclass(frozen=True)
class Threat:
    """One attack of the course and the defences the course measures against it."""

    attack: str
    chapter: str
    goal: str
    knowledge: str
    capability: str
    defences: tuple[str, ...]


ATTACKS: tuple[Threat, ...] = (
    Threat(
        "FGSM / PGD / APGD (gradient evasion)",
        "03",
        "integrity",
        "white-box",
        "test inputs",
        ("adversarial training: FGSM-RS, PGD-AT, TRADES (06)", "worst-case evaluation (06)"),
    ),
    Threat(
        "Square Attack (score-based evasion)",
        "03",
        "integrity",
        "scores",
        "test inputs",
        ("adversarial training (06)", "labels only / rounded scores (08)"),
    ),
    Threat(
        "transfer attack through a stolen copy",
        "08",
        "integrity",
        "labels only",
        "query API",
        ("query monitoring (08)", "adversarial training under constraints (08)"),
    ),
    Threat(
        "constrained tabular evasion (plausible applicants)",
        "08",
        "integrity",
        "white-box",
        "test inputs",
        ("adversarial training under constraints (08)", "input validation of feature ranges (07)"),
    ),
    Threat(
        "EOT sticker and universal patch",
        "09",
        "integrity",
        "white-box",
        "physical objects",
        (
            "adversarial training with EOT stickers (09)",
            "shape and colour consistency check (09)",
            "multi-frame vote and abstention (09)",
        ),
    ),
    Threat(
        "label flipping",
        "04",
        "availability",
        "none",
        "training data",
        ("data provenance (04)", "robust training on clean data (04)"),
    ),
    Threat(
        "BadNets and clean-label backdoors",
        "04",
        "integrity",
        "none",
        "training data",
        ("spectral signatures, activation clustering (04)", "data provenance (04)"),
    ),
    Threat(
        "backdoored stop sign",
        "09",
        "integrity",
        "none",
        "training data",
        ("activation clustering (04, 09)", "fine-tuning (09: measured, partial)"),
    ),
    Threat(
        "Bit-Flip Attack",
        "05",
        "availability",
        "white-box",
        "model file",
        ("SHA-256 manifests and signatures (05)", "canary checks (05)"),
    ),
    Threat(
        "trojan by fine-tuning a released model",
        "05",
        "integrity",
        "white-box",
        "model file",
        ("signatures (05)", "weight diff against the release (05)"),
    ),
    Threat(
        "malicious pickle / Lambda layer",
        "05",
        "integrity",
        "none",
        "model file",
        ("safe_mode loading, .keras only (05)", "pickle scanners (05, 10)"),
    ),
    Threat(
        "membership inference (loss, shadow models, LiRA)",
        "07",
        "confidentiality",
        "scores",
        "query API",
        ("DP-SGD (07)", "weight decay, early stopping (07: no guarantee)", "labels only (07, 08)"),
    ),
    Threat(
        "attribute inference (a patient's sex)",
        "07",
        "confidentiality",
        "scores",
        "query API",
        ("DP-SGD (07)",),
    ),
    Threat(
        "equation-solving extraction",
        "08",
        "confidentiality",
        "scores",
        "query API",
        ("labels only / rounded scores (08)", "query budget (08)"),
    ),
    Threat(
        "label-only copy-cat",
        "08",
        "confidentiality",
        "labels only",
        "query API",
        ("PRADA-style query monitoring (08)", "query budget (08)"),
    ),
)


def applicable(
    *, goal: str | None = None, knowledge: str | None = None, capability: str | None = None
) -> list[Threat]:
    """The course's attacks that fit the threat model; ``None`` leaves a part open.

    ``knowledge`` is read as "at most": an attacker with white-box access can also run the
    score-based and label-only attacks, one with scores the label-only ones.
    """
    if goal is not None:
        validation.check_choice(goal, "goal", GOALS)
    if knowledge is not None:
        validation.check_choice(knowledge, "knowledge", KNOWLEDGE)
    if capability is not None:
        validation.check_choice(capability, "capability", CAPABILITIES)
    reach = KNOWLEDGE[KNOWLEDGE.index(knowledge) :] if knowledge is not None else KNOWLEDGE
    return [
        t
        for t in ATTACKS
        if (goal is None or t.goal == goal)
        and t.knowledge in reach
        and (capability is None or t.capability == capability)
    ]
