"""Model tampering: the attacker changes the weights (chapter 05).

Threat model: the attacker can write to the model file or to the memory that
holds the weights (a compromised hub, a supply chain, a fault attack) but not
to the training data.  Every function returns a **new** model.

Imports run one way: :mod:`.weights` (noise, pruning, trojans, behavioural
checks) <- :mod:`.quantize` (8-bit weights) <- :mod:`.dense_search` (exact
candidates and the attack's objective) <- :mod:`.bitflip` (random flips and the
Bit-Flip Attack).
"""

from .bitflip import BitFlip, bit_flip_attack, flip_bit, flip_bits, random_bit_flips
from .quantize import QMAX, dequantize, int8_bits, quantize, quantize_array
from .weights import (
    canary_check,
    clone,
    noisy_weights,
    perturb_weights,
    prune,
    trojan_finetune,
    weight_diff,
    weight_names,
    weight_statistics,
)

__all__ = [
    "QMAX",
    "BitFlip",
    "bit_flip_attack",
    "canary_check",
    "clone",
    "dequantize",
    "flip_bit",
    "flip_bits",
    "int8_bits",
    "noisy_weights",
    "perturb_weights",
    "prune",
    "quantize",
    "quantize_array",
    "random_bit_flips",
    "trojan_finetune",
    "weight_diff",
    "weight_names",
    "weight_statistics",
]
