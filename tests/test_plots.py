import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from modelsec_edu import plots  # noqa: E402


def test_image_grid_captions_right_and_wrong():
    x = np.zeros((5, 28, 28, 1), "float32")
    fig = plots.image_grid(x, labels=[1, 2, 3, 4, 5], preds=[1, 2, 0, 4, 5], ncols=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["1", "2", "3\u21920", "4", "5"]
    assert len(fig.axes) == 6
    plt.close(fig)


def test_image_grid_accepts_flat_784_vectors():
    fig = plots.image_grid(np.zeros((2, 784)))
    assert fig.axes[0].images[0].get_array().shape == (28, 28)
    plt.close(fig)


def test_accuracy_curves_and_history():
    fig = plots.accuracy_curves([0, 0.1, 0.2], {"fgsm": [0.9, 0.5, 0.1], "pgd": [0.9, 0.3, 0.0]})
    assert [line.get_label() for line in fig.axes[0].lines] == ["fgsm", "pgd"]
    plt.close(fig)
    fig = plots.history({"loss": [1.0, 0.5], "accuracy": [0.5, 0.8], "val_accuracy": [0.4, 0.7]})
    assert len(fig.axes) == 2 and len(fig.axes[1].lines) == 2
    plt.close(fig)
    fig = plots.probability_bars([0.1, 0.9], label=1)
    assert len(fig.axes[0].patches) == 2
    plt.close(fig)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: plots.image_grid(np.zeros((0, 28, 28))), ValueError),
        (lambda: plots.image_grid(np.zeros((2, 28, 28)), labels=[1]), ValueError),
        (lambda: plots.image_grid(np.zeros((28, 28))), ValueError),
        (lambda: plots.accuracy_curves([0, 1], {"a": [1.0]}), ValueError),
        (lambda: plots.accuracy_curves([0, 1], {}), ValueError),
        (lambda: plots.history([1, 2]), TypeError),
        (lambda: plots.history({"lr": [1]}), ValueError),
    ],
)
def test_bad_inputs(call, error):
    with pytest.raises(error):
        call()
    plt.close("all")
