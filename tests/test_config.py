"""Settings: one checked home shared by the CLI, job files and the Python API."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from stylevid.config import (
    VIDEO_ITERATIONS,
    VIDEO_SIZE,
    ConfigError,
    RayOptions,
    RenderOptions,
    StyleParams,
    StyleSpec,
)
from stylevid.errors import UserError
from stylevid.jobs import load_job

JOBS = Path(__file__).resolve().parents[1] / "jobs"


@pytest.mark.parametrize("changes, setting", [
    ({"style_weight": float("nan")}, "style_weight"),
    ({"content_weight": float("inf")}, "content_weight"),
    ({"tv_weight": -1}, "tv_weight"),
    ({"size": -3}, "size"),
    ({"size": 2.5}, "size"),
    ({"iterations": 0}, "iterations"),
    ({"iterations": True}, "iterations"),
    ({"optimizer": "sgd"}, "optimizer"),
    ({"pooling": "median"}, "pooling"),
    ({"content_layers": ("relu9_9",)}, "content_layers"),
    ({"style_layers": ()}, "style_layers"),
    ({"style_layer_weights": (1.0, 2.0)}, "style_layer_weights"),
    ({"style_scale": "nan"}, "style_scale"),
    ({"precision": "fp16"}, "precision"),
    ({"preserve_colors": "sepia"}, "preserve_colors"),
    ({"tolerance": 2}, "tolerance"),
])
def test_style_params_refuse_bad_values_naming_the_setting(changes, setting):
    with pytest.raises(ConfigError) as info:
        StyleParams(**changes)
    assert info.value.setting == setting


@pytest.mark.parametrize("changes, setting", [
    ({"temporal_weight": float("nan")}, "temporal_weight"),
    ({"duration": 0}, "duration"),
    ({"start": -1}, "start"),
    ({"fps": 0}, "fps"),
    ({"crf": 52}, "crf"),
    ({"pix_fmt": "rgb24"}, "pix_fmt"),
    ({"cut_threshold": 1.5}, "cut_threshold"),
    ({"flow_method": "raft"}, "flow_method"),
    ({"long_term": "yes"}, "long_term"),
    ({"passes": 0}, "passes"),
])
def test_render_options_refuse_bad_values(changes, setting):
    with pytest.raises(ConfigError) as info:
        RenderOptions(**changes)
    assert info.value.setting == setting


def test_text_from_yaml_is_converted_and_copies_are_checked():
    params = StyleParams(style_weight="5e-4", size="64", content_layers=["relu4_2"])
    assert params.style_weight == 5e-4 and params.size == 64
    assert params.content_layers == ("relu4_2",)
    with pytest.raises(ConfigError):
        params.with_(iterations=-1)
    with pytest.raises(ConfigError, match="blend must be smaller than chunk_frames"):
        RayOptions(chunk_frames=8, blend=8)
    with pytest.raises(ConfigError):
        StyleSpec("a.jpg", float("nan"))


def test_every_job_file_in_the_repository_loads():
    jobs = [p for p in JOBS.glob("*.yaml") if p.name != "cluster.yaml"]  # Ray's launcher
    assert jobs
    for path in jobs:
        spec = load_job(path)
        assert spec.inputs and spec.params.size > 0


def test_job_defaults_are_the_render_defaults(tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text("inputs: [a.mp4]\nstyle: s.jpg\noutput_dir: out/\n")
    spec = load_job(job)
    assert (spec.params.size, spec.params.iterations) == (VIDEO_SIZE, VIDEO_ITERATIONS)
    assert spec.options == RenderOptions() and spec.ray == RayOptions()


@pytest.mark.parametrize("params, message", [
    ("{style_weight: 5e-4, optimizer: sgd}", "job params: optimizer must be one of lbfgs, adam"),
    ("{size: -3}", "job params: size must be >= 16"),
    ("{content_layers: [relu9_9]}", "job params: content_layers has unknown VGG-19 layer"),
    ("{chunk_frames: 4, blend: 8}", "job params: blend must be smaller than chunk_frames"),
    ("[1, 2]", "job params must be a mapping"),
])
def test_bad_job_params_fail_on_load_naming_the_key(tmp_path, params, message):
    job = tmp_path / "job.yaml"
    job.write_text(f"inputs: [a.mp4]\nstyle: s.jpg\noutput_dir: out/\nparams: {params}\n")
    with pytest.raises(UserError, match=message.replace("[", r"\[")):
        load_job(job)


@pytest.mark.parametrize("text, message", [
    ("inputs: [a.mp4]\nstyles: [s.jpg]\noutput_dir: out/\n",
     "unknown key 'styles' (did you mean 'style'?)"),
    ("inputs: [a.mp4]\nstyle: s.jpg\noutput_dir: out/\nrender: {duration: 1}\n",
     "unknown key 'render' (known: inputs, style, output_dir, format, params)"),
    ("inputs: [a.mp4]\nstyle: s.jpg\noutput_dir: out/\nformat: avi\n",
     "format must be one of mp4, mkv, mov, m4v, webm, gif, not 'avi'"),
    ("inputs: [{file: a.mp4}]\nstyle: s.jpg\noutput_dir: out/\n",
     "job input {'file': 'a.mp4'}: unknown key 'file'"),
    ("inputs: [{style: s.jpg}]\noutput_dir: out/\n", "has no 'path'"),
    ("inputs: [a.mp4]\nstyle: [s.jpg, t.jpg]\noutput_dir: out/\n",
     "job input 'a.mp4': style must be a path"),
    ("inputs: [{path: a.mp4, output: [x]}]\nstyle: s.jpg\noutput_dir: out/\n",
     "output must be a path"),
    ("inputs: [a.mp4]\nstyle: s.jpg\noutput_dir: [out]\n", "output_dir must be a path"),
    ("inputs: [a.mp4]\nstyle: s.jpg\noutput_dir: out/\nparams: {folder_fps: 12}\n",
     "job params: unknown key 'folder_fps' (did you mean 'fps'?)"),
])
def test_a_job_file_s_unknown_keys_and_wrong_types_fail_on_load(tmp_path, text, message):
    """A misspelt key would otherwise be ignored, and the job run with the defaults."""
    job = tmp_path / "job.yaml"
    job.write_text(text)
    with pytest.raises(UserError, match=re.escape(message)):
        load_job(job)


def test_the_command_line_answers_help_without_loading_torch():
    code = ("import sys; from stylevid.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'cv2', 'ray') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_ray_blend_defaults_to_a_third_of_a_chunk_at_most_16():
    assert RayOptions().blend == 16  # chunks of 48
    assert RayOptions(chunk_frames=12).blend == 4
    assert RayOptions(chunk_frames=2).blend == 1
    assert RayOptions(chunk_frames=12, blend=9).blend == 9  # given: kept
    with pytest.raises(ConfigError, match="blend must be smaller than chunk_frames"):
        RayOptions(chunk_frames=12, blend=12)
