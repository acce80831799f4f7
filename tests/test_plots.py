"""plot_leak_curve and save_figure (Agg backend)."""

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

import leakstats  # noqa: E402
from leakstats import LeakstatsError  # noqa: E402
from leakstats.report.plots import image_format, plot_leak_curve, save_figure  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def result():
    counts = pd.DataFrame(
        {
            "method": ["npo"] * 3 + ["ga"] * 3,
            "temperature": [0.7] * 6,
            "prompt_id": ["p1", "p2", "p3"] * 2,
            "n_samples": [16] * 6,
            "n_leaked": [0, 1, 3, 2, 2, 5],
        }
    )
    return leakstats.leak_at_k(counts, k=[1, 2, 4, 8, 16])


def test_curve_from_result(result):
    ax = plot_leak_curve(result)
    assert isinstance(ax, Axes)
    assert len(ax.get_lines()) == 2
    assert len(ax.collections) == 2  # one interval band per arm
    assert ax.get_xscale() == "log"
    assert ax.xaxis.get_transform().base == 2
    assert ax.get_ylim() == (0.0, 1.0)
    assert ax.get_ylabel() == "leak@k"
    assert ax.get_xlabel() == "k (samples per prompt)"
    # the constant temperature is said once under the title, not in every label; the note
    # has its own line (a right-hand title collided with a long left-hand one)
    assert ax.get_title(loc="left") == ("leak@k by method\n"
                                        "temperature=0.7; 95% CI, population: prompts")
    assert ax.get_title(loc="right") == ""
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["ga", "npo"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4", "8", "16"]


def test_curve_data_match_the_table(result):
    frame = result.to_frame()
    ax = plot_leak_curve(result)
    npo = frame[frame["method"] == "npo"]
    x, y = ax.get_lines()[1].get_data()
    np.testing.assert_array_equal(x, npo["k"])
    np.testing.assert_allclose(y, npo["estimate"])
    band = ax.collections[1].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(npo["ci_low"].min())
    assert band[:, 1].max() == pytest.approx(npo["ci_high"].max())


def test_curve_from_frame_on_given_axes(result):
    fig, ax = plt.subplots()
    frame = result.to_frame().sample(frac=1.0, random_state=0)  # unsorted k is fine
    assert plot_leak_curve(frame, ax=ax) is ax
    x, _ = ax.get_lines()[0].get_data()
    assert list(x) == sorted(x)


def test_single_arm_and_unlabelled(result):
    frame = result.to_frame()
    single = frame[frame["method"] == "npo"].drop(columns=["method", "temperature"])
    ax = plot_leak_curve(single)
    assert ax.get_legend() is None
    assert ax.get_title(loc="left") == "leak@k\n95% CI, population: prompts"
    ax = plot_leak_curve(result, label_arms=False)
    assert ax.get_legend() is None and len(ax.get_lines()) == 2


def test_one_arm_column_and_dollar_signs(result):
    frame = result.to_frame().drop(columns="temperature")
    frame["method"] = frame["method"].map({"npo": "$5 npo", "ga": "ga"})
    ax = plot_leak_curve(frame)
    ax.figure.canvas.draw()  # would fail if "$5 npo" were parsed as mathtext
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ga", r"\$5 npo"]
    assert ax.get_legend().get_title().get_text() == "method"


def test_two_varying_arm_columns_label_both(result):
    frame = pd.concat([result.to_frame(), result.to_frame().assign(temperature=1.0)])
    ax = plot_leak_curve(frame)
    assert ax.get_title(loc="left").startswith("leak@k by method, temperature\n")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "method=ga, temperature=1.0" in legend and len(legend) == 4


def test_varying_level_note(result):
    frame = pd.concat([result.to_frame(), result.to_frame().assign(confidence_level=0.9)])
    frame = frame.drop(columns="population")
    assert plot_leak_curve(frame).get_title(loc="left").endswith("; CI levels vary")


@pytest.mark.parametrize("bad", [None, [1, 2], np.zeros((2, 2)), "result.csv"])
def test_not_a_result(bad):
    with pytest.raises(LeakstatsError, match=r"argument 'result': expected a result table"):
        plot_leak_curve(bad)


def test_missing_columns(result):
    with pytest.raises(LeakstatsError, match=r"missing required column\(s\) \['estimate'\]"):
        plot_leak_curve(result.to_frame().drop(columns="estimate"))


def test_empty_and_bad_k(result):
    frame = result.to_frame()
    with pytest.raises(LeakstatsError, match="no rows"):
        plot_leak_curve(frame.iloc[:0])
    with pytest.raises(LeakstatsError, match="column 'k' must hold positive numbers"):
        plot_leak_curve(frame.assign(k=0))


# --------------------------------------------------------------------------- save_figure


def test_save_png_and_pdf(result, tmp_path):
    ax = plot_leak_curve(result)
    png = save_figure(ax, tmp_path / "curve.png")
    pdf = save_figure(ax.figure, str(tmp_path / "curve.pdf"))
    assert png == tmp_path / "curve.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:4] == b"%PDF"


def test_save_refuses_to_overwrite(result, tmp_path):
    path = tmp_path / "curve.png"
    path.write_bytes(b"keep me")
    ax = plot_leak_curve(result)
    with pytest.raises(FileExistsError, match=r"curve\.png' already exists.*overwrite=True"):
        save_figure(ax, path)
    assert path.read_bytes() == b"keep me"
    save_figure(ax, path, overwrite=True)
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_save_bad_inputs(result, tmp_path):
    ax = plot_leak_curve(result)
    with pytest.raises(LeakstatsError, match=r"suffix of .*curve\.xyz'.*\.pdf.*\.png"):
        save_figure(ax, tmp_path / "curve.xyz")
    with pytest.raises(LeakstatsError, match="suffix"):
        save_figure(ax, tmp_path / "curve")
    with pytest.raises(FileNotFoundError, match=r"folder .*missing' does not exist"):
        save_figure(ax, tmp_path / "missing" / "curve.png")
    with pytest.raises(LeakstatsError, match=r"argument 'fig_or_ax': expected a matplotlib"):
        save_figure(result, tmp_path / "curve.png")
    assert list(tmp_path.iterdir()) == []


def test_image_format():
    assert image_format("a/b.PNG") == "png"
    with pytest.raises(LeakstatsError, match=r"--plot: cannot tell"):
        image_format("b.txt", ["png"], argument="--plot")


def test_import_leakstats_does_not_import_matplotlib():
    code = (
        "import sys, leakstats; leakstats.plot_leak_curve; leakstats.format_table; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
