"""End to end: the real CLI on real paintings and photos."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from stylevid.cli import main

from . import gatys_reference as ref


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stylevid", *args], capture_output=True,
                          text=True, timeout=600)


def read_rgb(path) -> np.ndarray:
    return cv2.imread(str(path))[:, :, ::-1].copy()


def resized(path, shape) -> np.ndarray:
    return cv2.resize(read_rgb(path), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def test_stylize_real_painting_meets_independent_gatys_loss(assets, tmp_path):
    out = tmp_path / "out.png"
    proc = run_cli("stylize", str(assets.photo), "--style",
                   str(assets.painting), "-o", str(out), "--size", "64",
                   "--iterations", "40", "--seed", "0")
    assert proc.returncode == 0, proc.stderr
    result = read_rgb(out)
    assert result.shape == (48, 64, 3)
    content = resized(assets.photo, result.shape)
    style = resized(assets.painting, (40, 64))
    style_same_shape = resized(assets.painting, result.shape)
    f_out, f_content, f_style, f_style_same = (
        ref.features(x) for x in (result, content, style, style_same_shape))
    style_out, style_content = ref.style_loss(f_out, f_style), ref.style_loss(f_content, f_style)
    content_out = ref.content_loss(f_out, f_content)
    content_style = ref.content_loss(f_style_same, f_content)
    print(f"style {style_out:.4g} vs {style_content:.4g}; content {content_out:.4g} vs {content_style:.4g}")
    assert style_out < 0.3 * style_content
    assert content_out < 0.5 * content_style
    assert "loss=" in proc.stderr  # the progress bar reports the loss


def test_same_seed_same_image_with_noise_init(tmp_path):
    outs = []
    for name in ("a.png", "b.png"):
        out = tmp_path / name
        code = main(["stylize", "skimage:chelsea", "--style", "skimage:coffee", "-o", str(out),
                     "--size", "32", "--iterations", "5", "--init", "noise", "--seed", "3",
                     "--quiet"])
        assert code == 0
        outs.append(read_rgb(out))
    np.testing.assert_array_equal(outs[0], outs[1])


def test_blend_of_two_styles_and_color_preservation(tmp_path):
    out = tmp_path / "blend.png"
    code = main(["stylize", "skimage:astronaut", "--style", "skimage:coffee", "--style",
                 "skimage:chelsea", "--style-weights", "0.7,0.3", "-o", str(out), "--size", "48",
                 "--iterations", "10", "--preserve-colors", "luminance", "--quiet"])
    assert code == 0
    from skimage import color, data

    result = read_rgb(out)
    content = cv2.resize(data.astronaut(), (48, 48), interpolation=cv2.INTER_AREA)
    # luminance-only transfer keeps the content's chroma (YIQ I and Q channels)
    chroma_out = color.rgb2yiq(result)[..., 1:]
    chroma_in = color.rgb2yiq(content)[..., 1:]
    assert np.abs(chroma_out - chroma_in).mean() < 0.02


@pytest.mark.parametrize("args,message", [
    (["stylize", "missing.jpg", "--style", "skimage:coffee", "-o", "{tmp}/o.png"],
     "image not found: missing.jpg"),
    (["stylize", "{readme}", "--style", "skimage:coffee", "-o", "{tmp}/o.png"],
     "not an image"),
    (["stylize", "skimage:chelsea", "--style", "skimage:coffee", "-o", "/nonexistent/o.png"],
     "does not exist"),
    (["stylize", "skimage:chelsea", "--style", "skimage:coffee", "-o", "/proc/o.png",
      "--size", "32", "--iterations", "2"], "cannot write /proc/o.png"),  # even as root
    (["stylize", "skimage:chelsea", "--style", "skimage:coffee", "-o", "{tmp}/o.png",
      "--size", "-3"], "--size must be >= 16"),
    (["stylize", "skimage:chelsea", "-o", "{tmp}/o.png"], "at least one --style"),
    (["stylize", "skimage:chelsea", "--style", "skimage:coffee", "-o", "{tmp}/o.png",
      "--style-weights", "1,2"], "--style-weights has 2 values for 1 styles"),
    (["stylize", "skimage:chelsea", "--style", "skimage:coffee", "-o", "{tmp}/o.png",
      "--device", "cuda:7"], "not available"),
    (["stylize", "skimage:chelsea", "--style", "skimage:coffee", "-o", "{tmp}/o.png",
      "--precision", "fp16"], "invalid choice: 'fp16'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, cli, args, message):
    readme = tmp_path / "notes.txt"
    readme.write_text("not an image")
    args = [a.format(tmp=tmp_path, readme=readme) for a in args]
    proc = cli(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_missing_input_is_refused_before_torch_loads(tmp_path):
    """The typo's line comes at once, not after torch's 3 s import."""
    style = tmp_path / "style.png"
    cv2.imwrite(str(style), np.zeros((8, 8, 3), np.uint8))
    commands = [
        ["stylize", "missing.jpg", "--style", str(style), "-o", f"{tmp_path}/o.png"],
        ["stylize", str(style), "--style", "gone.jpg", "-o", f"{tmp_path}/o.png"],
        ["render", "missing.mp4", "--style", str(style), "-o", f"{tmp_path}/o.mp4"],
        ["colorize", "sketch.png", "--reference", str(style), "-o", f"{tmp_path}/o.png"],
    ]
    script = ("import json, sys\nfrom stylevid.cli import main\n"
              "codes = [main(args) for args in json.loads(sys.argv[1])]\n"
              "print(json.dumps([codes, 'torch' in sys.modules]))")
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(commands)],
                          capture_output=True, text=True, timeout=120)
    assert json.loads(proc.stdout) == [[2, 2, 2, 2], False], proc.stderr
    assert proc.stderr.splitlines() == [
        "stylevid: error: image not found: missing.jpg",
        "stylevid: error: image not found: gone.jpg",
        "stylevid: error: video not found: missing.mp4",
        "stylevid: error: image not found: sketch.png",
    ]


def test_failed_run_keeps_the_previous_output(tmp_path):
    out = tmp_path / "keep.png"
    out.write_bytes(b"previous result")
    code = main(["stylize", "skimage:chelsea", "--style", "missing.jpg", "-o", str(out)])
    assert code == 2
    assert out.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]
