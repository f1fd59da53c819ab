"""Ray: chunk planning, job files, batch jobs, worker faults and chunk seams."""

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from stylevid.config import RayOptions, RegionSpec, RenderOptions, StyleParams, StyleSpec
from stylevid.distributed import (
    AssembleTask,
    Chunk,
    ChunkTask,
    VideoJob,
    VideoPlan,
    _Batch,  # the driver's bookkeeping, tested without Ray
    motion_ranges,
    plan_chunks,
    render_many,
)
from stylevid.errors import UserError
from stylevid.imageio import read_image
from stylevid.jobs import load_job
from stylevid.lookahead import keyframe_ramp
from stylevid.synthetic import pan_flow, pan_frames, write_clip
from stylevid.temporal import warping_error
from stylevid.video import VideoInfo, probe, read_frames
from stylevid.workdir import WorkDir

W, H = 48, 32
JOBS = Path(__file__).resolve().parents[1] / "jobs"


def test_motion_ranges_cover_every_pair_once_and_end_open():
    for expected, parts in ((100, 4), (24, 2), (5, 8), (1, 3)):
        ranges = motion_ranges(expected, parts)
        assert ranges[0][0] == 1 and ranges[-1][1] is None
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))  # contiguous
        assert all(lo < hi for lo, hi in ranges[:-1]) and len(ranges) <= parts
    assert motion_ranges(100, 4) == [(1, 26), (26, 51), (51, 75), (75, None)]


def test_plan_chunks_splits_at_cuts_and_links_keyframes_within_shots():
    chunks = plan_chunks(100, [40], 25)
    assert [(c.start, c.end) for c in chunks] == [(0, 20), (20, 40), (40, 70), (70, 100)]
    assert [c.next_key for c in chunks] == [20, None, 70, None]
    assert plan_chunks(5, [], 48) == plan_chunks(5, [0, 5], 48)
    assert [(c.start, c.end) for c in plan_chunks(5, [], 48)] == [(0, 5)]


def test_keyframe_pull_settles_on_a_rising_ramp_and_arrives_at_the_keyframe():
    """A pixel pulled 1 towards the previous frame and b towards the keyframe settles at
    (x + b k) / (1 + b): each frame moves r = 1/5, 2/5, 3/5, 4/5 of the remaining way, and
    the last one is 96 % of the way to the keyframe (99.9 % with the default blend of 8)."""
    key, blend, x = 10, 4, 0.0
    path = []
    for index in range(key - blend - 2, key):
        b = keyframe_ramp(index, key, blend)
        path.append(b / (1 + b))
        x = (x + b * 1.0) / (1 + b)
    np.testing.assert_allclose(path, [0, 0, 0.2, 0.4, 0.6, 0.8])
    assert x == pytest.approx(1 - 0.8 * 0.6 * 0.4 * 0.2)
    assert keyframe_ramp(key, key, blend) == 0  # the keyframe itself is the next chunk's


def test_job_file_globs_styles_and_safety(tmp_path):
    (tmp_path / "videos").mkdir()
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / "videos" / name).write_bytes(b"x")
    job = tmp_path / "job.yaml"
    job.write_text("inputs: ['videos/*.mp4', {path: videos/a.mp4, style: skimage:coffee, "
                   "output: a_coffee.mp4}]\nstyle: s.jpg\noutput_dir: out/\n"
                   "params: {size: 64, iterations: 10, temporal_weight: 1000, workers: 2}\n")
    spec = load_job(job)
    assert [i.output.name for i in spec.inputs] == ["a.mp4", "b.mp4", "a_coffee.mp4"]
    assert spec.inputs[0].style == str(tmp_path / "s.jpg")
    assert spec.inputs[2].style == "skimage:coffee"
    assert spec.params.size == 64 and spec.options.temporal_weight == 1000 and spec.ray.workers == 2
    job.write_text("inputs: ['videos/*.mp4', {path: videos/a.mp4, output: a.mkv}]\n"
                   "style: s.jpg\noutput_dir: out/\nformat: gif\n")
    assert [i.output.name for i in load_job(job).inputs] == ["a.gif", "b.gif", "a.mkv"]
    job.write_text("inputs: [{path: videos/a.mp4, output: ../../escape.mp4}]\nstyle: s.jpg\n"
                   "output_dir: out/\n")
    with pytest.raises(UserError, match="outside output_dir"):
        load_job(job)
    job.write_text("inputs: [videos/a.mp4]\nstyle: s.jpg\noutput_dir: out/\n"
                   "params: {iteration: 5}\n")
    with pytest.raises(UserError, match="did you mean 'iterations'"):
        load_job(job)
    job.write_text("inputs: [videos/a.mp4]\nstyle: s.jpg\noutput_dir: out/\n"
                   "params: {precision: fp16}\n")
    with pytest.raises(UserError, match="precision must be one of auto, fp32, bf16"):
        load_job(job)


def test_a_finished_video_is_put_together_and_encoded_by_a_worker_task(tmp_path):
    """The driver only schedules: a video whose last chunk is done is assembled and encoded
    by a worker (an AssembleTask), counted as "encoding" while it runs, and done after it
    (before, the driver encoded it in its loop and dispatched nothing meanwhile)."""
    job = VideoJob(tmp_path / "in.mp4", tmp_path / "out.gif", ())
    chunks = [Chunk(0, 4, 4), Chunk(4, 8, None)]
    batch = _Batch([job], RenderOptions(), RayOptions(), None)
    plan = VideoPlan(job, VideoInfo(64, 36, 30, 8 / 30, False), (64, 36), 8, chunks,
                     WorkDir(tmp_path / "work"), remaining={c.name for c in chunks})
    batch.plans[0] = plan

    def finished(chunk):
        return batch.chunk_done(ChunkTask(0, job.source, (), (64, 36), RegionSpec(),
                                          tmp_path / "keys", tmp_path / "motion", chunk,
                                          tmp_path / chunk.name, {}, 0))

    assert finished(chunks[1]) == []
    [assemble] = finished(chunks[0])
    assert assemble == AssembleTask(0, job.source, job.output, tmp_path / "work",
                                    tuple(chunks), 8)
    assert not batch.outcomes  # not done while it encodes
    progress = batch.progress([assemble])
    assert progress.describe_running() == "1 encoding" and progress.frames == 8
    batch.assemble_done(assemble)
    assert batch.outcomes[0].state == "done" and batch.outcomes[0].frames == 8


@pytest.fixture(scope="module")
def clips(tmp_path_factory, assets):
    photo = read_image(assets.photo)
    folder = tmp_path_factory.mktemp("library")
    (folder / "videos").mkdir()
    for i in range(2):
        write_clip(pan_frames(photo[:, i * 120:], 8, W, H, 2), folder / "videos" / f"clip{i}.mp4")
    write_clip(pan_frames(photo, 24, W, H, 2), folder / "long.mp4")
    return folder


def run_batch(job: Path, workers: int = 2) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stylevid", "batch", str(job), "--workers",
                           str(workers), "--quiet"], capture_output=True, text=True, timeout=600)


def test_the_repository_s_library_job_on_embedded_ray(clips, tmp_path, assets):
    """jobs/library.yaml as the README runs it (small sizes) over a folder with a corrupt
    file: the good clips complete, the bad one fails alone with its reason; more workers
    than the machine has CPUs start as many as fit (actors that cannot be placed would wait
    for ever) and say so."""
    import shutil

    import yaml

    (clips / "videos" / "corrupt.mp4").write_bytes(b"\x00\x01 not a video")
    (clips / "styles").mkdir()
    shutil.copy(assets.painting, clips / "styles/starry_night.jpg")
    (clips / "jobs").mkdir()
    library = yaml.safe_load((JOBS / "library.yaml").read_text())
    library["params"].update(size=48, iterations=6, first_iterations=12, chunk_frames=4,
                             blend=2)
    job = clips / "jobs/library.yaml"
    job.write_text(yaml.safe_dump(library))
    out = clips / "out/library"
    proc = run_batch(job, workers=999)
    assert proc.returncode == 1, proc.stderr  # something failed: non-zero, with a summary
    cpus = os.cpu_count() or 1
    assert (f"{cpus} Ray worker{'s' * (cpus > 1)} (1 CPU thread each) on 1 node: 999 asked "
            f"for, the cluster has {cpus} CPU") in proc.stdout, proc.stdout
    assert "2 done, 1 failed" in proc.stdout
    state = json.loads((out / "stylevid-job.json").read_text())["inputs"]
    assert sorted(v["state"] for v in state.values()) == ["done", "done", "failed"]
    assert "Invalid data" in state[str(clips / "videos/corrupt.mp4")]["reason"]
    # `stylevid status` reads the same manifest, from the job file or its output folder
    for target in (job, out):
        status = subprocess.run([sys.executable, "-m", "stylevid", "status", str(target)],
                                capture_output=True, text=True, timeout=120)
        assert status.returncode == 0, status.stderr
        rows = {line.split()[0]: line.split()[1] for line in status.stdout.splitlines()[1:-1]}
        assert rows == {"clip0.mp4": "done", "clip1.mp4": "done", "corrupt.mp4": "failed"}
        assert "Invalid data" in status.stdout
        assert status.stdout.splitlines()[-1] == "2 done, 0 running, 0 pending, 1 failed"
    status = subprocess.run([sys.executable, "-m", "stylevid", "status", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 2 and status.stderr.count("\n") == 1
    assert "no job manifest" in status.stderr
    for i in range(2):
        video = out / f"clip{i}.mp4"
        info = probe(video)
        assert len(list(read_frames(video, info, info.width, info.height))) == 8
        assert info.has_audio and info.fps == 30
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("clip*.mp4")}
    (clips / "videos" / "corrupt.mp4").unlink()
    proc = run_batch(job)
    assert proc.returncode == 0 and "nothing to do" in proc.stdout
    assert stamps == {p: p.stat().st_mtime_ns for p in out.glob("clip*.mp4")}

    # jobs/per_input_styles.yaml: one style for the library, another for a .mov with its
    # own output name
    shutil.copy(assets.second_painting, clips / "styles/the_scream.jpg")
    shutil.copy(assets.third_painting, clips / "styles/wave.jpg")
    (clips / "extra").mkdir()
    shutil.copy(clips / "videos/clip0.mp4", clips / "extra/intro.mov")
    mixed = yaml.safe_load((JOBS / "per_input_styles.yaml").read_text())
    mixed["params"].update(size=48, iterations=6, first_iterations=12)
    (clips / "jobs/per_input_styles.yaml").write_text(yaml.safe_dump(mixed))
    proc = run_batch(clips / "jobs/per_input_styles.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "3 done, 0 failed" in proc.stdout, proc.stdout
    rendered = {name: np.stack(list(read_frames(clips / "out/mixed" / name,
                                                probe(clips / "out/mixed" / name), W, H)))
                for name in ("clip0.mp4", "clip1.mp4", "intro_wave.mp4")}
    assert all(len(frames) == 8 for frames in rendered.values())
    # the same frames in another painting's colours
    difference = np.abs(rendered["intro_wave.mp4"].astype(float) - rendered["clip0.mp4"])
    assert difference.mean() > 10, difference.mean()


@pytest.fixture(scope="module")
def ray_local():
    import ray

    from stylevid.distributed import start_ray

    start_ray(None, 2)
    yield
    ray.shutdown()


@pytest.fixture()
def cluster():
    """Three Ray nodes on this machine: a head without CPUs (the driver) and two worker
    nodes of one CPU each (Ray's own multi-node test cluster)."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 0, "include_dashboard": False})
    nodes = [cluster.add_node(num_cpus=1) for _ in range(2)]
    ray.init(address=cluster.address, log_to_driver=False, logging_level="ERROR")
    yield cluster, nodes
    ray.shutdown()
    cluster.shutdown()


def _frames_in(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.glob("**/chunks/*/frames/[0-9]*.png")}


def _fault_when(folder: Path, total: int, cluster, nodes: list, log: list) -> None:
    """Kill one node's worker process once two frames are written (Ray restarts it there),
    then remove the other node once half the frames are; log the frames written before
    each fault."""
    import psutil

    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and len(log) < 2:
        frames = _frames_in(folder)
        if not log and len(frames) >= 2:
            raylet = psutil.Process(nodes[0].all_processes["raylet"][0].process.pid)
            workers = []
            for process in raylet.children(recursive=True):
                try:
                    if "ChunkWorker" in " ".join(process.cmdline()):
                        workers.append(process)
                except psutil.Error:  # exited meanwhile
                    pass
            if workers:
                os.kill(workers[0].pid, signal.SIGKILL)
                log.append(frames)
        elif log and len(frames) >= total // 2:
            cluster.remove_node(nodes[1])
            log.append(_frames_in(folder))
        time.sleep(0.05)


def test_a_job_survives_a_killed_worker_and_a_lost_node(clips, tmp_path, cluster):
    """Several clips on a three-node cluster: one worker process is killed, later a whole
    node is removed; every clip completes with every frame and no finished frame is
    rendered again."""
    sources = [clips / "long.mp4", clips / "videos/clip0.mp4", clips / "videos/clip1.mp4"]
    jobs = [VideoJob(source, tmp_path / source.name, (StyleSpec("skimage:coffee"),),
                     tmp_path / "work" / source.stem) for source in sources]
    log: list = []
    notes: list = []
    watcher = threading.Thread(target=_fault_when, args=(tmp_path / "work", 40, *cluster, log))
    watcher.start()
    outcomes = render_many(jobs, StyleParams(size=W, iterations=4),
                           RenderOptions(first_iterations=6),
                           RayOptions(chunk_frames=8, blend=2), on_workers=notes.append)
    watcher.join()
    assert notes == ["2 Ray workers (1 CPU thread each) on 3 nodes"]
    assert len(log) == 2, "the faults did not happen while the job ran"
    assert [o.state for o in outcomes] == ["done"] * 3, [o.reason for o in outcomes]
    for job, frames in zip(jobs, (24, 8, 8), strict=True):
        info = probe(job.output)
        assert len(list(read_frames(job.output, info, W, H))) == frames
    after = _frames_in(tmp_path / "work")
    for before in log:  # frames finished before a fault were kept, not rendered again
        assert {p: after[p] for p in before} == before


def test_chunk_seam_is_as_consistent_as_the_interior(clips, tmp_path, assets, ray_local):
    """At a low budget (10 iterations a later frame): the pair across the seam within 1.2x
    of the interior, and the frames pulled towards the next keyframe at most 2.2x (measured
    0.12x and 1.6x; 2.4x when each keyframe was rendered fresh)."""
    job = VideoJob(clips / "long.mp4", tmp_path / "seam.mp4",
                   (StyleSpec(str(assets.painting)),), tmp_path / "work")
    progress: list = []
    [outcome] = render_many([job], StyleParams(size=W, iterations=10),
                            RenderOptions(first_iterations=30),
                            RayOptions(workers=2, chunk_frames=12, blend=8),
                            on_progress=progress.append)
    assert outcome.state == "done", outcome.reason
    # progress: flow ranges, then the keyframe, then the chunks; frames never go back
    order = [kind for p in progress for kind, _ in p.running]
    assert order.index("flow range") < order.index("keyframe") < order.index("chunk"), order
    assert all(a.frames <= b.frames for a, b in itertools.pairwise(progress))
    assert (progress[-1].frames, progress[-1].frames_total, progress[-1].videos) == (24, 24, 1)
    frames = [read_image(p) for p in sorted((tmp_path / "work/frames").glob("*.png"))]
    flow, mask = pan_flow(W, H, 2)
    pairs = [warping_error(frames[t - 1:t + 1], [flow], [mask]) for t in range(1, 24)]
    seam = pairs[12 - 1]  # the pair (11, 12) straddles the seam
    interior = np.mean([e for t, e in enumerate(pairs, start=1) if t != 12])
    assert seam <= 1.2 * interior, (seam, interior)
    assert max(pairs[4 - 1:12 - 1]) <= 2.2 * interior, (pairs, interior)  # pairs (3, 4)..(10, 11)
    # the keyframe was rendered once, by its own task, and the chunk starts from it
    keyframe = read_image(tmp_path / "work/keyframes/000012.png")
    np.testing.assert_array_equal(frames[12], keyframe)
    # the flow of every neighbouring pair was computed once, for the scene-cut pass, and
    # the chunks read it from the video's cache instead of computing their own
    motion = sorted(p.name for p in (tmp_path / "work/motion").glob("*.npz"))
    neighbours = {f"{t:06d}-{s:06d}.npz" for t in range(24) for s in (t - 1, t + 1)
                  if 0 <= s < 24}
    assert neighbours <= set(motion)
    assert not list((tmp_path / "work/chunks").glob("*/motion"))


def test_a_later_keyframe_continues_the_one_before_it(clips, tmp_path, assets):
    """A shot's later keyframe starts from the keyframe before it carried along the flow
    and is held to it like a later frame: on a pan (frame 8 at x is frame 0 at x + 16) it
    keeps the earlier keyframe's strokes where both show the scene, which a fresh render
    does not: the chunk between them has little to change to arrive there."""
    import torch

    from stylevid.config import RegionSpec
    from stylevid.distributed import ChunkWorker, KeyframeTask, fill_motion
    from stylevid.motion import MotionCache

    source = clips / "long.mp4"
    options = RenderOptions(first_iterations=30)
    worker = ChunkWorker(StyleParams(size=W, iterations=20), options, torch.get_num_threads())
    cache = MotionCache(tmp_path / "motion")
    fill_motion(source, probe(source), (W, H), options, cache, 1, 9)
    video = dict(video=0, source=source, styles=(StyleSpec(str(assets.painting)),),
                 size=(W, H), regions=RegionSpec(), motion=cache.folder)
    keys = {"warm": tmp_path / "warm", "fresh": tmp_path / "fresh"}
    worker.keyframe(KeyframeTask(**video, keyframes=keys["warm"], index=0, previous=None,
                                 blend=2))
    worker.keyframe(KeyframeTask(**video, keyframes=keys["warm"], index=8, previous=0, blend=2))
    worker.keyframe(KeyframeTask(**video, keyframes=keys["fresh"], index=8, previous=None,
                                 blend=2))
    first = read_image(keys["warm"] / "000000.png").astype(float)[2:-2, 18:-2]
    change = {name: np.abs(read_image(folder / "000008.png").astype(float)[2:-2, 2:-18]
                           - first).mean() for name, folder in keys.items()}
    # measured 9.4 and 26.9 /255 (some 15 % of the overlap is repainted: the flow of the
    # 48x32 clip is unreliable there on some step)
    assert change["fresh"] > 2 * change["warm"], change


def test_a_later_keyframe_continues_the_keyframes_ahead_of_the_chunk_before_it(
        clips, tmp_path, assets):
    """Keyframe 12 from keyframe 0 (lookahead 4, blend 2) is rendered through the keyframes
    ahead of the chunk between them (frames 4 and 8), which the chunk then reads instead of
    painting its own: the pixels new since frame 0 are painted once, for both. Where keyframe
    8 painted them, keyframe 12 keeps its strokes; carried straight from keyframe 0
    (lookahead 0) it painted them afresh."""
    import torch

    from stylevid.config import RegionSpec
    from stylevid.distributed import (
        Chunk,
        ChunkTask,
        ChunkWorker,
        KeyframeTask,
        ahead_folder,
        fill_motion,
    )
    from stylevid.motion import MotionCache

    source = clips / "long.mp4"
    cache = MotionCache(tmp_path / "motion")
    fill_motion(source, probe(source), (W, H), RenderOptions(), cache, 1, 13)
    video = dict(video=0, source=source, styles=(StyleSpec(str(assets.painting)),),
                 size=(W, H), regions=RegionSpec(), motion=cache.folder)
    keys = {}
    for lookahead in (4, 0):
        worker = ChunkWorker(StyleParams(size=W, iterations=20),
                             RenderOptions(first_iterations=30, lookahead=lookahead),
                             torch.get_num_threads())
        keys[lookahead] = tmp_path / f"keys{lookahead}"
        for index, previous in ((0, None), (12, 0)):
            worker.keyframe(KeyframeTask(**video, keyframes=keys[lookahead], index=index,
                                         previous=previous, blend=2))
    ahead = ahead_folder(keys[4], 0)
    written = {p.name: p.read_bytes() for p in ahead.glob("*.png")}
    assert sorted(written) == ["000000-000004.png", "000004-000008.png"]
    worker = ChunkWorker(StyleParams(size=W, iterations=4), RenderOptions(lookahead=4), 1)
    worker.render(ChunkTask(**video, keyframes=keys[4], chunk=Chunk(0, 12, 12),
                            folder=tmp_path / "chunk", manifest={}, blend=2))
    assert {p.name: p.read_bytes() for p in ahead.glob("*.png")} == written
    assert len(list((tmp_path / "chunk/frames").glob("*.png"))) == 12
    # columns 32-47 of frame 8 are new since frame 0; frame 12 shows them at 24-39
    painted = read_image(ahead / "000004-000008.png").astype(float)[2:-2, 34:46]
    change = {lookahead: np.abs(read_image(folder / "000012.png").astype(float)[2:-2, 26:38]
                                - painted).mean() for lookahead, folder in keys.items()}
    assert change[4] < 0.5 * change[0], change  # measured 8.2 and 24.9 /255


def _kept_edge(frame: np.ndarray, content: np.ndarray) -> int:
    """The first column (from the left) that the style changed by more than 8/255 on
    average (kept columns stay within a few levels of the photo): where the "keep" region
    on the left ends."""
    change = np.abs(frame.astype(float) - content.astype(float)).mean(axis=(0, 2))
    return int(np.argmax(change > 8))


def test_regions_on_ray_are_those_of_a_local_render(clips, tmp_path, assets, ray_local):
    """A mask carried along the flow: each chunk (here from frames 0 and 4) keeps and styles
    the same parts of every frame as a local render does."""
    import cv2

    from stylevid.api import render_video
    from stylevid.config import RegionSpec

    source = clips / "videos/clip0.mp4"
    contents = list(read_frames(source, probe(source), W, H))
    labels = np.zeros((H, W), np.uint8)
    labels[:, 24:] = 1
    cv2.imwrite(str(tmp_path / "labels.png"), labels)
    spec = RegionSpec(masks=(str(tmp_path / "labels.png"),),
                      rules=("0=keep", f"1={assets.painting}"))
    # without keyframes ahead, which a chunk places within itself (here none: 4 frames)
    params = StyleParams(size=W, iterations=4)
    options = RenderOptions(first_iterations=8, lookahead=0)
    [outcome] = render_many([VideoJob(source, tmp_path / "ray.mp4", (), tmp_path / "ray",
                                      spec)], params, options,
                            RayOptions(workers=2, chunk_frames=4, blend=2))
    assert outcome.state == "done", outcome.reason
    render_video(source, [], tmp_path / "local.mp4", params=params, options=options,
                 regions=spec, work_dir=tmp_path / "local")
    edges = {name: [_kept_edge(read_image(tmp_path / name / f"frames/{i:06d}.png"), content)
                    for i, content in enumerate(contents)] for name in ("ray", "local")}
    assert edges["local"][0] - edges["local"][-1] >= 12, edges  # the edge moves with the pan
    assert all(abs(a - b) <= 1 for a, b in zip(*edges.values(), strict=True)), edges
    for index in (0, 1):  # away from the seam (the blend towards frame 4 starts at 2)
        ray, local = (read_image(tmp_path / name / f"frames/{index:06d}.png").astype(float)
                      for name in ("ray", "local"))
        assert np.abs(ray - local).mean() < 1.0  # the same frames, but for float noise


def test_passes_on_ray_refine_each_chunk_between_its_keyframes(clips, tmp_path, assets,
                                                               ray_local):
    """``passes`` on Ray: every chunk runs Ruder's later passes between its own keyframe and
    the next chunk's, which stay as rendered (so chunks still meet at the same image); the
    output holds the last pass, and it is more consistent than the first."""
    job = VideoJob(clips / "videos/clip0.mp4", tmp_path / "passes.mp4",
                   (StyleSpec(str(assets.painting)),), tmp_path / "work")
    [outcome] = render_many([job], StyleParams(size=W, iterations=6),
                            RenderOptions(first_iterations=12, passes=3),
                            RayOptions(workers=2, chunk_frames=4, blend=2))
    assert outcome.state == "done", outcome.reason
    work = tmp_path / "work"
    keys = {k: read_image(work / f"keyframes/{k:06d}.png") for k in (0, 4)}
    first_chunk, second_chunk = work / "chunks/000000-000004", work / "chunks/000004-000008"
    passes = {k: [read_image(chunk / folder / f"{i:06d}.png")
                  for chunk in (first_chunk, second_chunk) for i in range(4)]
              for k, folder in ((1, "frames"), (3, "pass3"))}
    assert all((work / f"pass3/{i:06d}.png").is_file() for i in range(8))
    for folder in ("pass2", "pass3"):
        np.testing.assert_array_equal(read_image(first_chunk / folder / "000000.png"), keys[0])
        np.testing.assert_array_equal(read_image(first_chunk / folder / "000004.png"), keys[4])
        np.testing.assert_array_equal(read_image(second_chunk / folder / "000000.png"), keys[4])
    for index in (1, 2, 3, 5, 6, 7):
        assert (passes[3][index] != passes[1][index]).any(), index
    np.testing.assert_array_equal(passes[3][4], keys[4])
    decoded = list(read_frames(job.output, probe(job.output), W, H))
    assert len(decoded) == 8
    gaps = {k: np.abs(decoded[6].astype(float) - passes[k][6]).mean() for k in passes}
    assert gaps[3] < gaps[1], gaps
    flow, mask = pan_flow(W, H, 2)
    errors = {k: warping_error(passes[k], [flow] * 7, [mask] * 7) for k in passes}
    assert errors[3] < errors[1], errors
