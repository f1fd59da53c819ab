"""bf16 convolutions stay close to fp32, "auto" asks the hardware; CPU allocator setting."""

import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from stylevid.config import ConfigError, StyleParams
from stylevid.device import (
    OtherLoad,
    allowed_cores,
    choose_threads,
    has_fast_bf16,
    keep_freed_cpu_memory,
    resolve_precision,
)
from stylevid.engine import Region, StyleImage, Stylizer
from stylevid.imageio import read_image, resize_longest, to_tensor
from stylevid.vgg import VGG19Encoder

LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]


def test_bf16_features_are_fp32_and_close_to_fp32_features(device):
    rgb = torch.rand(1, 3, 64, 48, generator=torch.Generator().manual_seed(0)).to(device)
    exact = VGG19Encoder(LAYERS).to(device)
    low = VGG19Encoder(LAYERS, precision="bf16").to(device)
    with torch.no_grad():
        a, b = exact(rgb), low(rgb)
    for name in LAYERS:
        assert b[name].dtype == torch.float32 and b[name].shape == a[name].shape
        error = float((b[name] - a[name]).norm() / a[name].norm())
        assert error < 0.03, (name, error)


def test_bf16_stylization_reaches_the_fp32_loss(assets, device):
    """Same job in both precisions; each result judged by the same fp32 objective. Small
    (32 px): CPUs without native bf16 emulate it about 40x slower than fp32."""
    content = resize_longest(read_image(assets.photo), 32)
    regions = [Region(None, (StyleImage(read_image(assets.painting)),))]
    params = StyleParams(iterations=30, tolerance=0.0, scales=1)
    exact = Stylizer(params.with_(precision="fp32"), device)
    judge = exact.objective(to_tensor(content, device), regions)
    start = float(judge(to_tensor(content, device)))
    final = {}
    for precision in ("fp32", "bf16"):
        stylizer = Stylizer(params.with_(precision=precision), device)
        image = stylizer.stylize(content, regions).image.to(device)
        with torch.no_grad():
            final[precision] = float(judge(image))
    assert final["fp32"] < 0.5 * start
    assert final["bf16"] < 1.05 * final["fp32"]


def test_auto_precision_follows_the_hardware():
    cpu = torch.device("cpu")
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists() and torch.backends.mkldnn.is_available():
        flags = cpuinfo.read_text()
        assert has_fast_bf16(cpu) == ("amx_tile" in flags or "avx512_bf16" in flags)
    assert resolve_precision("auto", cpu) == ("bf16" if has_fast_bf16(cpu) else "fp32")
    assert resolve_precision("fp32", cpu) == "fp32"
    assert resolve_precision("bf16", cpu) == "bf16"
    assert not has_fast_bf16(torch.device("meta"))
    with pytest.raises(ConfigError, match="precision must be one of"):
        StyleParams(precision="fp16")


def test_cpu_allocator_setting_is_accepted_by_glibc():
    on_glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert keep_freed_cpu_memory() is on_glibc
    assert keep_freed_cpu_memory(False) is on_glibc  # and back to glibc's largest threshold


@pytest.mark.parametrize("margin,kept", [(0, True), (-1, False)])
def test_freed_blocks_are_kept_only_for_frames_up_to_the_limit(monkeypatch, margin, kept):
    """Above KEEP_FREED_PIXELS blocks over 32 MiB go back to the OS, as glibc's own policy
    has it, even after smaller frames kept them: kept blocks fragment the heap of large
    frames (1920x1080: 10.18 GiB peak with them, 7.55 GiB without)."""
    import stylevid.engine as engine

    content = resize_longest(read_image("skimage:chelsea"), 32)  # 32x21
    calls = []
    monkeypatch.setattr(engine, "KEEP_FREED_PIXELS", 32 * 21 + margin)
    monkeypatch.setattr(engine, "keep_freed_cpu_memory", lambda keep: calls.append(keep))
    stylizer = Stylizer(StyleParams(size=32, iterations=1, scales=1))
    stylizer.stylize(content, [Region(None, (StyleImage(read_image("builtin:swirls")),))])
    assert calls == [kept]


def test_style_targets_are_shared_by_equal_pictures_loaded_twice(device):
    """Each Ray chunk loads its styles anew: equal pictures must reuse the Gram targets
    instead of computing and keeping them once per chunk."""
    picture = read_image("builtin:swirls")
    stylizer = Stylizer(StyleParams(precision="fp32"), device)
    first = stylizer.style_grams(StyleImage(picture), 32)
    again = stylizer.style_grams(StyleImage(picture.copy()), 32)
    assert all(first[name] is again[name] for name in first)
    stylizer.style_grams(StyleImage(picture[:, ::-1].copy()), 32)  # another picture
    stylizer.style_grams(StyleImage(picture), 64)  # another size
    assert len(stylizer._gram_cache) == 3


def test_the_cpu_time_of_this_process_s_own_children_is_not_other_load():
    """ffmpeg, started and waited for by a render, is its own work."""
    load = OtherLoad()
    subprocess.run([sys.executable, "-c",
                    "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass"],
                   check=True)
    busy = load.busy_cores()
    assert busy is not None and busy < 0.4


def test_default_threads_ignore_the_load_and_a_note_tells_of_busy_cores(tmp_path):
    """The thread count decides the picture, so the default is every allowed core whatever
    the machine is doing; other processes' load is measured over the work and reported
    after it. Busy: one spinning process per core, started and ended here."""
    cores = allowed_cores()
    before = torch.get_num_threads()
    load = OtherLoad()
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(cores)]
    try:
        assert choose_threads() == cores == torch.get_num_threads()
        assert choose_threads(1) == 1 == torch.get_num_threads()
        time.sleep(1.0)
        busy = load.busy_cores()
        assert busy is not None and busy > 0.5 * cores
        note = load.note(cores)
        assert note is not None and "--threads" in note
        out = tmp_path / "a.png"
        proc = subprocess.run([sys.executable, "-m", "stylevid", "stylize", "skimage:chelsea",
                               "--style", "skimage:coffee", "-o", str(out), "--size", "24",
                               "--iterations", "3"], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert "note: other processes kept about" in proc.stderr
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
        torch.set_num_threads(before)
