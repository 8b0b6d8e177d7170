"""The examples train to their targets: seeded, short runs of each ``main`` (not timed).

They need the ``examples`` extra; without it these tests are skipped, not failed.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import fluxion

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _require(*modules: str) -> None:
    for name in modules:
        pytest.importorskip(name, reason=f"{name} is in the `examples` extra, not installed")


def test_digits_example_reaches_97_percent_and_writes_outputs(tmp_path, capsys):
    _require("sklearn", "tqdm", "matplotlib")
    from fluxion.examples import digits
    from fluxion.utils.data import DataLoader
    from fluxion.vision import datasets, transforms

    result = digits.main(["--out", str(tmp_path), "--seed", "0"])
    assert result["test_accuracy"] >= 0.97, result["history"]["test_acc"]
    history = result["history"]
    assert len(history["loss"]) == 10 and history["loss"][-1] < history["loss"][0] / 10
    for key in ("curves_path", "predictions_path"):
        with open(result[key], "rb") as f:
            assert f.read(8) == PNG_MAGIC
    out = capsys.readouterr()
    assert "test accuracy:" in out.out
    assert "epoch 10/10" in out.err  # the tqdm bar

    # the saved state dict reloads into a fresh model that scores the same
    model = digits.DigitsCNN()
    model.load_state_dict(fluxion.load(result["model_path"]))
    tf = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((digits.MEAN,), (digits.STD,))]
    )
    test_set = datasets.Digits(train=False, transform=tf, seed=0)
    accuracy, _ = digits.evaluate(model, DataLoader(test_set, batch_size=128))
    assert accuracy == result["test_accuracy"]


def test_digits_example_is_reproducible(tmp_path):
    _require("sklearn")
    from fluxion.examples import digits

    args = ["--epochs", "1", "--no-progress", "--no-plots", "--seed", "3"]
    a = digits.main(["--out", str(tmp_path / "a"), *args])
    b = digits.main(["--out", str(tmp_path / "b"), *args])
    assert a["history"] == b["history"]


def test_sin_to_cos_example_fits_and_plots(tmp_path, capsys):
    _require("matplotlib")
    from fluxion.examples import sin_to_cos

    result = sin_to_cos.main(["--out", str(tmp_path), "--steps", "150", "--no-progress"])
    assert result["test_mse"] < 0.01
    assert sum(result["losses"][-10:]) < sum(result["losses"][:10]) / 20
    with open(result["plot_path"], "rb") as f:
        assert f.read(8) == PNG_MAGIC
    assert "held-out MSE" in capsys.readouterr().out


def test_sin_to_cos_runs_as_a_module(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fluxion.examples.sin_to_cos",
            "--steps",
            "3",
            "--no-plots",
            "--no-progress",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "held-out MSE" in proc.stdout
