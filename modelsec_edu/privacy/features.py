"""Fixed, data-independent image features for DP-SGD: a first-order scattering transform.

**Why.**  DP-SGD pays for every trainable weight: the noise it adds has the
same variance in each coordinate, so its norm grows with the square root of
the number of weights, while the clipped signal does not.  Tramèr & Boneh
(2021, "Differentially private learning needs better features (or much more
data)", https://arxiv.org/abs/2011.11660) show that a *linear* model on fixed
ScatterNet features (Oyallon & Mallat 2015, https://arxiv.org/abs/1412.8659)
beats end-to-end private CNNs on MNIST at the same ε.  The features must not
be learned from the private data, or they would leak it outside the
accountant: these are fixed filters, the same for every data set.

**What.**  A small first-order scattering, written here (the lesson is the
idea, and the filter bank is 20 lines; kymatio would add a dependency):

1. convolve the image with Morlet-like wavelets at ``scales`` scales and
   ``orientations`` orientations (complex: a real and an imaginary kernel);
2. take the modulus (phase-invariant edge energy);
3. average-pool every channel, and the image itself, by 4 (28 x 28 -> 7 x 7);
4. standardise each image's feature vector (per example, so nothing about the
   data set enters; Tramèr & Boneh use a group norm in the same place).

With 2 scales and 8 orientations an MNIST digit becomes 17 x 7 x 7 = 833
numbers.  This is ScatterNet-*like* (first order only, no second-order
paths): honest to call it fixed Gabor-modulus features.  **Threat model:** the
features cost no privacy because they are a fixed function of each record
alone; the privacy guarantee covers the linear head trained on them.  Used in
chapter 07.
"""

from __future__ import annotations

import keras
import numpy as np

from modelsec_edu.validation import check_array, check_int

__all__ = ["morlet_bank", "scatter_features"]


def morlet_bank(*, scales: int = 2, orientations: int = 8, size: int = 11) -> np.ndarray:
    """The complex wavelets as real kernels, shape ``(size, size, 1, 2 * scales * orientations)``.

    Wavelet ``(j, l)`` is a Gaussian envelope of width ``0.8 * 2**j`` times a
    plane wave of frequency ``3 pi / 4 / 2**j`` along angle ``pi l / L``, made
    zero-mean (a Morlet wavelet), normalised to unit L1 norm.  Channel
    ``2k`` is the real part of wavelet ``k``, ``2k + 1`` its imaginary part.
    """
    scales = check_int(scales, "scales", min=1, max=3)
    orientations = check_int(orientations, "orientations", min=1, max=16)
    size = check_int(size, "size", min=3)
    r = np.arange(size) - size // 2
    xx, yy = np.meshgrid(r, r)
    kernels = []
    for j in range(scales):
        width, freq = 0.8 * 2**j, 3 * np.pi / 4 / 2**j
        envelope = np.exp(-(xx**2 + yy**2) / (2 * width**2))
        for k in range(orientations):
            angle = np.pi * k / orientations
            wave = np.exp(1j * freq * (xx * np.cos(angle) + yy * np.sin(angle)))
            psi = envelope * wave
            psi = psi - envelope * (psi.sum() / envelope.sum())  # zero mean
            psi = psi / np.abs(psi).sum()
            kernels += [psi.real, psi.imag]
    return np.stack(kernels, -1)[:, :, None, :].astype("float32")


def scatter_features(
    x, *, scales: int = 2, orientations: int = 8, pool: int = 4, batch_size: int = 250
) -> np.ndarray:
    """Fixed features of grayscale images ``x`` (``(n, h, w)`` or ``(n, h, w, 1)``, in [0, 1]).

    Returns float32 ``(n, (1 + scales * orientations) * (h // pool) * (w // pool))``,
    each row standardised to mean 0 and standard deviation 1.  ``batch_size`` images are
    convolved at a time: each holds about 0.5 MB of wavelet responses in flight on 28 x 28
    images, so the default keeps the transient memory near 120 MB.
    """
    x = check_array(x, "x", dtype="float32")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] != 1:
        raise ValueError(f"x must be grayscale images (n, h, w) or (n, h, w, 1), got {x.shape}")
    pool = check_int(pool, "pool", min=1)
    batch_size = check_int(batch_size, "batch_size", min=1)
    bank = keras.ops.convert_to_tensor(morlet_bank(scales=scales, orientations=orientations))
    out = []
    for start in range(0, len(x), batch_size):
        xb = keras.ops.convert_to_tensor(x[start : start + batch_size])
        z = keras.ops.conv(xb, bank, padding="same")
        re, im = z[..., 0::2], z[..., 1::2]
        modulus = keras.ops.sqrt(re * re + im * im + 1e-12)
        chans = keras.ops.concatenate([xb, modulus], axis=-1)
        pooled = keras.ops.average_pool(chans, pool, strides=pool, padding="valid")
        pooled = keras.ops.transpose(pooled, (0, 3, 1, 2))  # channel-major, like ScatterNet
        out.append(keras.ops.convert_to_numpy(keras.ops.reshape(pooled, (len(xb), -1))))
    f = np.concatenate(out).astype("float32")
    f -= f.mean(axis=1, keepdims=True)
    f /= f.std(axis=1, keepdims=True) + 1e-6
    return f
