"""The course mapped to the standards: NIST AI 100-2, MITRE ATLAS, OWASP ML Top 10, EU AI Act.

Used in chapter 10 ("higher standards", the article's outlook).  Pure data and one function that
turns it into rows; every entry carries the link it comes from, so a learner can check it.

* NIST AI 100-2 E2025, *Adversarial Machine Learning: A Taxonomy and Terminology of Attacks and
  Mitigations* (Vassilev et al., March 2025), https://doi.org/10.6028/NIST.AI.100-2e2025 : section
  numbers of its predictive-AI taxonomy (2.2 evasion, 2.3 poisoning, 2.4 privacy) and of its
  generative-AI part (3).
* MITRE ATLAS techniques, https://atlas.mitre.org/techniques/ .
* OWASP Machine Learning Security Top 10 (2023),
  https://owasp.org/www-project-machine-learning-security-top-10/ .
* Regulation (EU) 2024/1689 (the AI Act), https://eur-lex.europa.eu/eli/reg/2024/1689/oj :
  Article 15 (accuracy, robustness and cybersecurity; paragraph 5 names data poisoning, model
  poisoning, adversarial examples or model evasion, confidentiality attacks and model flaws),
  Article 10 (data governance), Annex III (high-risk uses, 5(b) creditworthiness).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STANDARDS", "Mapping", "standards_table"]

NIST = "https://doi.org/10.6028/NIST.AI.100-2e2025"
ATLAS = "https://atlas.mitre.org/techniques/"
OWASP = "https://owasp.org/www-project-machine-learning-security-top-10/"
EU_AI_ACT = "https://eur-lex.europa.eu/eli/reg/2024/1689/oj"


@dataclass(frozen=True)
class Mapping:
    """One chapter's threats in four vocabularies."""

    chapter: str
    topic: str
    nist: str
    atlas: tuple[str, ...]
    owasp: tuple[str, ...]
    eu_ai_act: str


STANDARDS: tuple[Mapping, ...] = (
    Mapping(
        "01",
        "threat models, the three threats",
        "2.1 attack classification",
        (),
        (),
        "Art. 15(1): accuracy, robustness, cybersecurity",
    ),
    Mapping(
        "03",
        "backpropagation attacks (evasion)",
        "2.2 evasion attacks (2.2.1 white-box, 2.2.2 black-box)",
        ("AML.T0043", "AML.T0015"),
        ("ML01",),
        "Art. 15(5): adversarial examples or model evasion",
    ),
    Mapping(
        "04",
        "data poisoning and backdoors",
        "2.3 poisoning (2.3.1 availability, 2.3.3 backdoor)",
        ("AML.T0020",),
        ("ML02",),
        "Art. 15(5): data poisoning; Art. 10: data governance",
    ),
    Mapping(
        "05",
        "model tampering, the model file's supply chain",
        "2.3.4 model poisoning",
        ("AML.T0018", "AML.T0010", "AML.T0011"),
        ("ML10", "ML06"),
        "Art. 15(5): model poisoning; Art. 15(4): resilience to errors and faults",
    ),
    Mapping(
        "06",
        "adversarial training and honest evaluation",
        "2.2.4 mitigations of evasion",
        ("AML.T0043",),
        ("ML01",),
        "Art. 15(5): measures to prevent, detect, respond to and control attacks",
    ),
    Mapping(
        "07",
        "healthcare: membership and attribute inference, DP-SGD",
        "2.4.2 membership inference, 2.4.5 mitigations (differential privacy)",
        ("AML.T0024.000", "AML.T0024.001"),
        ("ML04", "ML03"),
        "Art. 15(5): confidentiality attacks",
    ),
    Mapping(
        "08",
        "finance: constrained evasion, model extraction",
        "2.4.3 model extraction; 2.2 evasion",
        ("AML.T0024.002", "AML.T0043"),
        ("ML05", "ML01"),
        "Annex III 5(b): credit scoring is high-risk; Art. 15(5)",
    ),
    Mapping(
        "09",
        "driving: physical stickers, a backdoored sign, abstention",
        "2.2 evasion (physical); 2.3.3 backdoor poisoning",
        ("AML.T0043", "AML.T0041", "AML.T0020"),
        ("ML01", "ML02"),
        "Art. 15(1), 15(4): accuracy and robustness, errors and faults",
    ),
    Mapping(
        "10",
        "beyond classifiers: prompt injection, web-scale poisoning",
        "3 generative AI taxonomy (direct and indirect prompt injection)",
        ("AML.T0051", "AML.T0020"),
        (),
        "Art. 15(5)",
    ),
)


def standards_table(mappings: tuple[Mapping, ...] = STANDARDS) -> list[dict[str, str]]:
    """The mappings as rows of Markdown links, ready for a table."""
    rows = []
    for m in mappings:
        rows.append(
            {
                "chapter": m.chapter,
                "topic": m.topic,
                "NIST AI 100-2": f"[{m.nist}]({NIST})",
                "MITRE ATLAS": ", ".join(f"[{t}]({ATLAS}{t})" for t in m.atlas) or "—",
                "OWASP ML Top 10": ", ".join(f"[{o}]({OWASP})" for o in m.owasp) or "—",
                "EU AI Act": f"[{m.eu_ai_act}]({EU_AI_ACT})",
            }
        )
    return rows
