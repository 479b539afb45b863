"""Data poisoning and its detection (chapter 04).

Threat model: the attacker controls part of the training data (a scraped
source, a labelling vendor, a shared dataset) but not the training code.

* :mod:`.attacks` -- label flips, BadNets triggers, clean-label backdoors;
* :mod:`.detection` -- spectral signatures, activation clustering,
  exclusionary reclassification, sanitising;
* :mod:`.provenance` -- per-sample digests that show what changed;
* :mod:`.experiments` -- the backdoor sweep behind the chapter's curve and
  explorer widget: one model per setting, one typed result.
"""

from .attacks import (
    POSITIONS,
    add_trigger,
    backdoor_success_rate,
    badnets,
    flip_labels,
    label_consistent,
    trigger_mask,
    trigger_patch,
)
from .detection import (
    Detection,
    activation_clustering,
    evaluate,
    exclusionary_reclassification,
    features,
    projection_2d,
    sanitize,
    spectral_signatures,
)
from .experiments import BackdoorCell, BackdoorSweep, backdoor_sweep
from .provenance import changed_samples, dataset_digest, sample_digests

__all__ = [
    "POSITIONS",
    "BackdoorCell",
    "BackdoorSweep",
    "Detection",
    "activation_clustering",
    "add_trigger",
    "backdoor_success_rate",
    "backdoor_sweep",
    "badnets",
    "changed_samples",
    "dataset_digest",
    "evaluate",
    "exclusionary_reclassification",
    "features",
    "flip_labels",
    "label_consistent",
    "projection_2d",
    "sample_digests",
    "sanitize",
    "spectral_signatures",
    "trigger_mask",
    "trigger_patch",
]
