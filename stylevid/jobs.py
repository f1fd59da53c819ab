"""Batch job specs (YAML) and the job manifest that records the state of every input.

A job lists inputs (paths and globs, relative to the job file), a style for all or per
input, an output folder and parameters::

    inputs: ["videos/*.mp4", {path: intro.mov, style: styles/wave.jpg}]
    style: styles/starry_night.jpg
    output_dir: out/
    format: mp4  # the outputs' container (mp4, mkv, mov, m4v, webm, gif)
    params: {size: 256, iterations: 100}
"""

from __future__ import annotations

import difflib
import glob
import json
import os
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from .config import ConfigError, RayOptions, RenderOptions, StyleParams, StyleSpec, video_params
from .errors import UserError
from .fsutil import atomic_path

JOB_MANIFEST = "stylevid-job.json"
_SETTINGS: dict[str, type[StyleParams] | type[RenderOptions] | type[RayOptions]] = {
    f.name: cls for cls in (StyleParams, RenderOptions, RayOptions) for f in fields(cls)}


@dataclass(frozen=True)
class JobInput:
    source: Path
    style: str
    output: Path


@dataclass(frozen=True)
class JobSpec:
    inputs: list[JobInput]
    output_dir: Path
    params: StyleParams
    options: RenderOptions
    ray: RayOptions


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


_JOB_KEYS = ("inputs", "style", "output_dir", "format", "params")
_RENAMED = {"folder_fps": "fps"}  # settings of earlier versions, by their new name
_INPUT_KEYS = ("path", "style", "output")


def _check_keys(keys: Any, known: tuple[str, ...], where: str) -> None:
    """Refuse a key the job format does not have (a typo would otherwise be ignored and the
    job run with the defaults), with the nearest known key as a hint."""
    for key in keys:
        if key not in known:
            hint = [_RENAMED[key]] if key in _RENAMED else \
                difflib.get_close_matches(str(key), known, n=1)
            known_keys = ", ".join(known) if len(known) <= 8 else \
                "the settings of stylevid render, by field name"
            raise UserError(f"{where}: unknown key {key!r}" +
                            (f" (did you mean {hint[0]!r}?)" if hint else
                             f" (known: {known_keys})"))


def _text(value: Any, key: str, where: str) -> str:
    """A path or name from the job file: text or a number, not a list or mapping."""
    if isinstance(value, (list, dict, bool)) or value is None:
        raise UserError(f"{where}: {key} must be a path, not {value!r}")
    return str(value)


def _params(raw: Any) -> tuple[StyleParams, RenderOptions, RayOptions]:
    """The job's ``params`` mapping split into the three checked settings objects; every
    error names the key."""
    if not isinstance(raw, dict):
        raise UserError(f"job params must be a mapping of settings, not {raw!r}")
    groups: dict[type, dict[str, Any]] = {StyleParams: {}, RenderOptions: {}, RayOptions: {}}
    _check_keys(raw, tuple(sorted(_SETTINGS)), "job params")
    for key, value in raw.items():
        groups[_SETTINGS[key]][key] = value
    try:
        params = video_params(**groups[StyleParams])
        options = RenderOptions(**groups[RenderOptions])
        ray = RayOptions(**groups[RayOptions])
    except ConfigError as exc:
        raise UserError(f"job params: {exc}") from None
    return params, options, ray


def load_job(path: str | Path) -> JobSpec:
    """Read and check a job file; globs are expanded, outputs are kept in ``output_dir``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"job file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UserError(f"job file {path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(raw, dict) or "inputs" not in raw or "output_dir" not in raw:
        raise UserError(f"job file {path} needs 'inputs' and 'output_dir'")
    _check_keys(raw, _JOB_KEYS, f"job file {path}")
    base = path.resolve().parent
    output_dir = (base / _text(raw["output_dir"], "output_dir", f"job file {path}")).resolve()
    suffix = _output_suffix(raw.get("format", "mp4"), f"job file {path}")
    params, options, ray = _params(raw.get("params") or {})
    default_style = raw.get("style")
    inputs: list[JobInput] = []
    items = raw["inputs"] if isinstance(raw["inputs"], list) else [raw["inputs"]]
    for item in items:
        entry = item if isinstance(item, dict) else {"path": item}
        where = f"job input {entry.get('path', entry)!r}"
        _check_keys(entry, _INPUT_KEYS, where)
        if "path" not in entry:
            raise UserError(f"{where} has no 'path'")
        pattern = _text(entry["path"], "path", where)
        style = entry.get("style", default_style)
        if style is None:
            raise UserError(f"job input {pattern!r} has no style (set 'style')")
        style = _text(style, "style", where)
        style_path = style if style.startswith(("skimage:", "builtin:")) \
            else os.path.normpath(base / style)
        matches = sorted(glob.glob(str(base / pattern), recursive=True))
        if not matches:
            matches = [str(base / pattern)]  # reported as failed: not found
        for match in matches:
            source = Path(os.path.normpath(match))  # "jobs/../videos/a.mp4": "videos/a.mp4"
            name = _text(entry["output"], "output", where) \
                if len(matches) == 1 and "output" in entry else source.stem + suffix
            output = output_dir / name
            if not _inside(output, output_dir) or Path(name).is_absolute():
                raise UserError(f"job output {name!r} is outside output_dir {output_dir}")
            inputs.append(JobInput(source, style_path, output))
    outputs = [i.output for i in inputs]
    duplicates = sorted({str(o) for o in outputs if outputs.count(o) > 1})
    if duplicates:
        raise UserError(f"several inputs would write {duplicates[0]}; give them 'output' names")
    return JobSpec(inputs, output_dir, params, options, ray)


def _output_suffix(value: Any, where: str) -> str:
    """The outputs' suffix from a job's ``format`` (``webm`` or ``.webm``)."""
    from .encode import OUTPUT_SUFFIXES

    suffix = "." + _text(value, "format", where).lower().lstrip(".")
    if suffix not in OUTPUT_SUFFIXES:
        raise UserError(f"{where}: format must be one of "
                        f"{', '.join(s[1:] for s in OUTPUT_SUFFIXES)}, not {value!r}")
    return suffix


class JobManifest:
    """State of every input of a job (pending / running / done / failed + reason), written
    atomically after each change to ``output_dir/stylevid-job.json``."""

    def __init__(self, spec: JobSpec) -> None:
        self.path = spec.output_dir / JOB_MANIFEST
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            self.entries = json.loads(self.path.read_text()).get("inputs", {})
        for item in spec.inputs:
            entry = self.entries.setdefault(str(item.source), {"state": "pending"})
            entry["output"] = str(item.output)
            lost = entry["state"] == "done" and not item.output.is_file()
            if lost or entry["state"] in ("running", "failed"):
                entry["state"] = "pending"
        self.entries = {str(i.source): self.entries[str(i.source)] for i in spec.inputs}

    def is_done(self, item: JobInput) -> bool:
        return self.entries[str(item.source)]["state"] == "done"

    def set(self, source: Path, state: str, reason: str = "") -> None:
        entry = self.entries[str(source)]
        entry.update(state=state, updated=time.strftime("%Y-%m-%dT%H:%M:%S"))
        if reason:
            entry["reason"] = reason
        else:
            entry.pop("reason", None)
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps({"inputs": self.entries}, indent=2))

    def summary(self) -> str:
        """A table: input, state, reason."""
        return state_table(self.entries)


def state_table(entries: dict[str, dict[str, Any]], *, updated: bool = False) -> str:
    """Manifest entries as a table: input, state, (last change,) reason."""
    rows = [(Path(k).name, v["state"], v.get("updated", "-"), v.get("reason", ""))
            for k, v in entries.items()]
    width = max([len(r[0]) for r in rows] + [5])
    when = f"{'last change':<19}  " if updated else ""
    lines = [f"{'input':<{width}}  {'state':<8}  {when}reason"]
    lines += [f"{name:<{width}}  {state:<8}  {f'{change:<19}  ' if updated else ''}{reason}"
              .rstrip() for name, state, change, reason in rows]
    return "\n".join(lines)


def job_status(target: str | Path) -> str:
    """The state of a job, running or not, from its manifest: ``target`` is the job file or
    its output folder. A table and a count per state."""
    path = Path(target)
    folder = load_job(path).output_dir if path.is_file() else path
    manifest = folder / JOB_MANIFEST
    if not manifest.is_file():
        raise UserError(f"no job manifest {manifest} (stylevid batch writes it when a job "
                        "starts)")
    try:
        entries = json.loads(manifest.read_text())["inputs"]
        if not all(isinstance(e["state"], str) for e in entries.values()):
            raise TypeError("a state is not text")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise UserError(f"{manifest} is not a stylevid job manifest ({error!r})") from None
    counts = {state: sum(e["state"] == state for e in entries.values())
              for state in ("done", "running", "pending", "failed")}
    return state_table(entries, updated=True) + "\n" + ", ".join(
        f"{n} {state}" for state, n in counts.items())


def style_specs_for(item: JobInput) -> tuple[StyleSpec, ...]:
    return (StyleSpec(item.style),)
