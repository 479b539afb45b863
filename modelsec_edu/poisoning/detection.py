"""Finding poisons in a training set: spectral signatures and activation clustering.

Threat model (the defender's side): a model was trained on a set that may
hold poisons, such as a backdoor's triggered samples; the defender has the
training set and the trained model but does not know which samples, class or
trigger.  Both detectors look at the model's *penultimate-layer features*,
where a backdoor leaves a trace: the poisons of the target class are
classified for a different reason (the trigger) than its clean samples (the
digit), so they form a separate group.

* :func:`spectral_signatures` (Tran, Li and Madry 2018): in each class, the
  top singular direction of the centred features separates the two groups;
  samples that project far along it score high and the top ``1.5 * eps`` of
  each class are removed, ``eps`` being the defender's bound on the poisoned
  share of a class.
* :func:`activation_clustering` (Chen et al. 2018): in each class, reduce the
  features to a few dimensions and split them in two with k-means; a class
  whose smaller cluster is unusually small is suspect, and that cluster the
  candidate poison.  Some clean classes split unevenly too (slanted and
  upright 1s), so :func:`exclusionary_reclassification` then asks, for each
  candidate, a classifier that never saw it: poisons look like another class.

:func:`evaluate` scores a detection against the known poison indices, and
:func:`sanitize` drops what a detector flagged, ready to retrain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from modelsec_edu.validation import check_array, check_float, check_int, check_labels, check_model

__all__ = [
    "Detection",
    "activation_clustering",
    "exclusionary_reclassification",
    "evaluate",
    "features",
    "projection_2d",
    "sanitize",
    "spectral_signatures",
]


@dataclass
class Detection:
    """What a detector flagged.

    Attributes:
        flagged: sorted indices of the samples flagged as poison.
        scores: one suspicion score per sample (higher is more suspicious).
        classes: the classes the detector found poisoned (activation clustering)
            or searched (spectral signatures).
        details: per class, the numbers the decision rests on.
        clusters: activation clustering only: per class, the indices of its
            smaller cluster (flagged or not).
    """

    flagged: np.ndarray
    scores: np.ndarray
    classes: list[int]
    details: dict[int, dict[str, float]] = field(default_factory=dict)
    clusters: dict[int, np.ndarray] = field(default_factory=dict)


def _layer_index(model: keras.Model, layer: Any) -> int:
    names = [lay.name for lay in model.layers]
    if isinstance(layer, str):
        if layer not in names:
            raise ValueError(f"unknown layer {layer!r}; this model's layers are {names}")
        return names.index(layer)
    if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (int, np.integer)):
        raise TypeError(f"layer must be a layer name or index, got {type(layer).__name__}")
    return check_int(layer, "layer", min=-len(names), max=len(names) - 1) % len(names)


def features(model: keras.Model, x: Any, *, layer: Any = -2, batch_size: int = 512) -> np.ndarray:
    """The activations of one layer (by default the penultimate) for ``x``, as ``(n, d)`` floats.

    Works for models whose layers run one after the other (``Sequential``,
    or a functional chain such as the course's models).
    """
    check_model(model)
    x = check_array(x, "x", min_ndim=2)
    batch_size = check_int(batch_size, "batch_size", min=1)
    stop = _layer_index(model, layer)
    chain = model.layers[: stop + 1]
    out = []
    for i in range(0, len(x), batch_size):
        h = keras.ops.convert_to_tensor(x[i : i + batch_size])
        for lay in chain:
            h = lay(h, training=False)
        out.append(keras.ops.convert_to_numpy(h).reshape(len(h), -1))
    return np.concatenate(out).astype("float32")


def _check_features(feats: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    feats = check_array(feats, "features", ndim=2, dtype="float64")
    return feats, check_labels(labels, "labels", n=len(feats))


def spectral_signatures(
    features: Any, labels: Any, *, eps: float = 0.05, classes: Any = None
) -> Detection:
    """Spectral signatures (Tran et al. 2018, "Spectral Signatures in Backdoor Attacks").

    In each class: centre the features, take their top right singular vector
    ``v``, score each sample by ``((f - mean) . v)^2``, and flag the
    ``1.5 * eps`` share of the class with the highest scores.

    Args:
        features: ``(n, d)`` penultimate-layer features (see :func:`features`).
        labels: the training labels (as given, poisoned ones included).
        eps: the defender's upper bound on the poisoned share of a class.
            The method needs it: it removes the same share of *every* class.
        classes: the classes to examine (default all).

    Returns:
        a :class:`Detection`; ``scores`` are divided by each class's median
        score, so they compare across classes.
    """
    from threadpoolctl import threadpool_limits

    feats, labels = _check_features(features, labels)
    eps = check_float(eps, "eps", min=0, max=1 / 1.5)
    if classes is None:
        classes = sorted(set(labels.tolist()))
    elif isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise TypeError(
            f"classes must be a sequence of class indices or None, got {type(classes).__name__}"
        )
    else:
        classes = [check_int(c, "classes", min=0) for c in classes]
    scores = np.zeros(len(feats))
    flagged, details = [], {}
    for c in classes:
        sel = np.flatnonzero(labels == c)
        if len(sel) < 2:
            continue
        centred = feats[sel] - feats[sel].mean(axis=0)
        with threadpool_limits(limits=1):
            _, s, vt = np.linalg.svd(centred, full_matrices=False)
        sc = (centred @ vt[0]) ** 2
        scores[sel] = sc / max(float(np.median(sc)), 1e-12)
        k = int(round(1.5 * eps * len(sel)))
        if k:
            flagged.append(sel[np.argsort(sc)[-k:]])
        details[c] = {
            "removed": k,
            "top_singular_share": float(s[0] ** 2 / max(np.sum(s**2), 1e-12)),
        }
    flagged = np.sort(np.concatenate(flagged)) if flagged else np.array([], dtype=int)
    return Detection(flagged.astype(int), scores, classes, details)


def activation_clustering(
    features: Any,
    labels: Any,
    *,
    dims: int = 10,
    max_size: float = 0.35,
    seed: int = 0,
) -> Detection:
    """Activation clustering (Chen et al. 2018, "Detecting Backdoor Attacks on Deep Neural
    Networks by Activation Clustering").

    In each class: project the features on their top ``dims`` principal
    components (Chen et al. use ICA; PCA is deterministic and works as well
    here), split them into two clusters with k-means, and call the class
    poisoned when the smaller cluster holds at most ``max_size`` of it (the
    "relative size" rule; IBM's ART uses 0.35 too).  A clean class splits into
    two comparable halves (two ways of writing a digit); a poisoned one into
    its clean samples and a small, tight cluster of poisons, which is flagged.
    Some clean classes split unevenly as well; confirm the candidates with
    :func:`exclusionary_reclassification`.

    Returns:
        a :class:`Detection`; ``scores`` are 1 for samples in a flagged
        cluster, else 0, and ``details`` give each class's relative size and
        silhouette score (how well separated its two clusters are).
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    feats, labels = _check_features(features, labels)
    max_size = check_float(max_size, "max_size", min=0, max=0.5, min_open=True, max_open=True)
    dims = check_int(dims, "dims", min=1)
    seed = check_int(seed, "seed", min=0)
    scores = np.zeros(len(feats))
    flagged, suspicious, details, clusters = [], [], {}, {}
    # One thread: on a busy machine k-means' thread pool fights the backend's (50x slower).
    with threadpool_limits(limits=1):
        for c in sorted(set(labels.tolist())):
            sel = np.flatnonzero(labels == c)
            if len(sel) < 4:
                continue
            k = min(dims, feats.shape[1], len(sel) - 1)
            z = PCA(n_components=k, random_state=seed).fit_transform(feats[sel])
            cluster = KMeans(n_clusters=2, n_init=10, random_state=seed).fit_predict(z)
            counts = np.bincount(cluster, minlength=2)
            small = int(np.argmin(counts))
            size = float(counts[small] / len(sel))
            sil = (
                silhouette_score(z, cluster, sample_size=min(len(sel), 2000), random_state=seed)
                if min(counts)
                else 0.0
            )
            details[c] = {"relative_size": size, "silhouette": float(sil)}
            clusters[c] = sel[cluster == small]
            if size <= max_size:
                suspicious.append(c)
                flagged.append(clusters[c])
                scores[clusters[c]] = 1.0
    flagged = np.sort(np.concatenate(flagged)) if flagged else np.array([], dtype=int)
    return Detection(flagged.astype(int), scores, suspicious, details, clusters)


def exclusionary_reclassification(
    detection: Detection, x: Any, labels: Any, *, neighbours: int = 5
) -> Detection:
    """Keep only the clusters that a classifier which never saw them assigns to another class.

    Chen et al.'s confirmation step: a poison cluster (3s with a trigger,
    labelled 0) is classified as what its images show, not as its label; a
    clean subpopulation (slanted 1s) is still classified as its label.  A
    candidate is confirmed when its label is *not* the most common answer.
    Chen et al. retrain the network without the cluster; here a
    ``neighbours``-nearest-neighbour vote on the raw inputs of all other
    samples stands in for it (no training, deterministic).  A clean-label
    poison is, by design, classified as its label: this step lets it through.

    Args:
        detection: the result of :func:`activation_clustering`.
        x: the training inputs the features came from.
        labels: their labels.
    """
    from sklearn.neighbors import KNeighborsClassifier
    from threadpoolctl import threadpool_limits

    if not isinstance(detection, Detection):
        raise TypeError(
            "detection must be a Detection (from activation_clustering), got "
            f"{type(detection).__name__}"
        )
    x = check_array(x, "x", min_ndim=2)
    x = x.reshape(len(x), -1)
    labels = check_labels(labels, "labels", n=len(x))
    neighbours = check_int(neighbours, "neighbours", min=1)
    if any(len(detection.clusters.get(c, ())) == 0 for c in detection.classes):
        raise ValueError(
            "detection must come from activation_clustering (each of its classes needs a cluster)"
        )
    if any(np.max(detection.clusters[c]) >= len(x) for c in detection.classes):
        raise ValueError(f"detection was made on a larger set than x ({len(x)} samples)")
    confirmed, flagged, details = [], [], {c: dict(d) for c, d in detection.details.items()}
    scores = np.zeros(len(x))
    with threadpool_limits(limits=1):
        for c in detection.classes:
            hit = detection.clusters[c]
            rest = np.setdiff1d(np.arange(len(x)), hit)
            vote = (
                KNeighborsClassifier(n_neighbors=neighbours)
                .fit(x[rest], labels[rest])
                .predict(x[hit])
            )
            counts = np.bincount(vote, minlength=int(labels.max()) + 1)
            label_share = counts[c] / len(hit)
            other_share = np.delete(counts, c).max() / len(hit)
            details[c].update(
                {"label_share": float(label_share), "top_other_share": float(other_share)}
            )
            if label_share < other_share:
                confirmed.append(c)
                flagged.append(hit)
                scores[hit] = 1.0
    flagged = np.sort(np.concatenate(flagged)) if flagged else np.array([], dtype=int)
    return Detection(flagged.astype(int), scores, confirmed, details, dict(detection.clusters))


def evaluate(flagged: Any, poison_idx: Any, n: int) -> dict[str, float]:
    """Precision, recall and the share of clean samples flagged, against the known poisons.

    Args:
        flagged: indices a detector flagged.
        poison_idx: indices that really are poisons.
        n: the size of the training set.
    """
    n = check_int(n, "n", min=1)
    flagged = np.unique(_indices(flagged, "flagged", n))
    poison = np.unique(_indices(poison_idx, "poison_idx", n))
    hits = len(np.intersect1d(flagged, poison))
    n_clean = n - len(poison)
    return {
        "flagged": int(len(flagged)),
        "precision": hits / len(flagged) if len(flagged) else 1.0,
        "recall": hits / len(poison) if len(poison) else 1.0,
        "clean_flagged": (len(flagged) - hits) / n_clean if n_clean else 0.0,
    }


def _indices(idx: Any, name: str, n: int) -> np.ndarray:
    """Integer sample indices in ``[0, n)``, or a length-``n`` boolean mask of them."""
    if idx is None or isinstance(idx, (str, bytes)):
        raise TypeError(f"{name} must be an array of sample indices, got {type(idx).__name__}")
    arr = np.asarray(idx)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"{name} as a boolean mask must have shape ({n},), got {arr.shape}")
        return np.flatnonzero(arr)
    if arr.size == 0:
        return np.zeros(0, dtype=int)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{name} must hold integer indices (or be a boolean mask), got dtype {arr.dtype}"
        )
    if arr.ndim != 1 or arr.min() < 0 or arr.max() >= n:
        raise ValueError(f"{name} must be 1-D indices in [0, {n - 1}], got shape {arr.shape}")
    return arr.astype(int)


def sanitize(x: Any, y: Any, flagged: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop the flagged samples: returns ``(x_kept, y_kept, kept_idx)`` as new arrays.

    ``flagged`` holds integer indices (``Detection.flagged``) or is a boolean
    mask of length ``len(x)``, True for the samples to drop.
    """
    x = check_array(x, "x", dtype=None, min_ndim=2)
    y = check_labels(y, "y", n=len(x))
    drop = np.zeros(len(x), dtype=bool)
    drop[_indices(flagged, "flagged", len(x))] = True
    keep = np.flatnonzero(~drop)
    return x[keep].copy(), y[keep].copy(), keep


def projection_2d(features: Any, *, seed: int = 0) -> np.ndarray:
    """The first two principal components of some features, for a scatter plot: ``(n, 2)``."""
    from sklearn.decomposition import PCA

    feats = check_array(features, "features", ndim=2, dtype="float64", min_len=2)
    seed = check_int(seed, "seed", min=0)
    k = min(2, feats.shape[1])
    z = PCA(n_components=k, random_state=seed).fit_transform(feats)
    return z if k == 2 else np.column_stack([z, np.zeros(len(z))])
