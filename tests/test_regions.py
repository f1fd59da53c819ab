"""Regional style transfer: masks, guided Grams, keep regions, sketch colouring."""

import cv2
import numpy as np
import pytest

from stylevid.colorize import line_mask, match_regions, sketch_foreground
from stylevid.config import StyleParams
from stylevid.engine import Region, StyleImage, Stylizer
from stylevid.errors import UserError
from stylevid.imageio import read_image, resize_longest, resize_to
from stylevid.masks import fit_labels, labels_from_rgb, read_binary_masks, read_labels, segment
from stylevid.regions import map_regions, parse_rule

from . import gatys_reference as ref


def guided_style_distance(picture, mask, style):
    """Reference style loss of the masked part of ``picture`` against ``style`` (numpy)."""
    feats = ref.features(picture)
    target = ref.features(style)
    total = []
    for name in ref.STYLE[:3]:
        f = feats[name]
        m = cv2.resize(mask.astype(np.float32), (f.shape[2], f.shape[1]), interpolation=cv2.INTER_AREA)
        flat = f.reshape(f.shape[0], -1) * m.reshape(-1)
        g = flat @ flat.T / (m**2).sum()
        total.append(((g - ref.gram(target[name])) ** 2).sum() / (4 * f.shape[0] ** 2))
    return float(np.mean(total))


def test_two_regions_two_paintings_no_leakage_and_keep(assets):
    content = resize_longest(read_image(assets.photo), 64)
    h, w = content.shape[:2]
    starry = read_image(assets.painting)
    scream = read_image(assets.second_painting)
    left = np.zeros((h, w), np.float32)
    left[:, : w // 2] = 1
    right = 1 - left
    stylizer = Stylizer(StyleParams(iterations=60, scales=1))
    regions = [Region(left, (StyleImage(starry),)), Region(right, (StyleImage(scream),))]
    out = (stylizer.stylize(content, regions).image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    s_small, c_small = resize_longest(starry, 64), resize_longest(scream, 64)
    inner_left = np.zeros_like(left)
    inner_left[:, : w // 2 - 4] = 1
    inner_right = np.zeros_like(left)
    inner_right[:, w // 2 + 4:] = 1
    # Each half clearly nearer its own painting (measured: 0.19 and 0.54; a leak would give
    # about 1). Each half touches three picture edges and, at 64 px, is mostly edge in the
    # deep layers: with zero padding, before the edges were mirrored, the right half gave 0.34.
    assert guided_style_distance(out, inner_left, s_small) < 0.6 * guided_style_distance(out, inner_left, c_small)
    assert guided_style_distance(out, inner_right, c_small) < 0.6 * guided_style_distance(out, inner_right, s_small)
    # no seam: the jump across the border is like the jumps elsewhere in the picture
    steps = np.abs(np.diff(out.astype(float), axis=1)).mean(axis=(0, 2))
    assert steps[w // 2 - 1] < 3 * np.median(steps)

    keep = [Region(left, (StyleImage(starry),)), Region(right, ())]
    kept = (stylizer.stylize(content, keep).image[0].permute(1, 2, 0).numpy() * 255)
    diff = np.abs(kept - content.astype(float))
    assert diff[:, w // 2 + 3:].mean() < 6          # kept half stays the photo
    assert diff[:, : w // 2 - 3].mean() > 4 * diff[:, w // 2 + 3:].mean()


def test_label_images_from_shared_data(data):
    labels, names = read_labels(data / "masks/neural_doodle/Monet_sem.png")
    assert 4 <= len(names) <= 8
    counts = np.bincount(labels.ravel())
    assert counts.min() > 0.005 * labels.size   # anti-aliased edges joined a main colour
    segments = data / "masks/neural_style_pt_segments"
    labels, names = read_binary_masks([str(segments / "tubingen1a.png"),
                                       str(segments / "tubingen1b.png")])
    assert names == ["0", "1", "2"] and set(np.unique(labels)) == {1, 2}
    sky, _ = read_labels(data / "masks/gatys_spatial_control/fig2_style1_sky.jpg")
    assert set(np.unique(sky)) == {0, 1}   # JPEG mask thresholded at 128


def test_colour_snapping_and_grey_labels():
    rgb = np.zeros((100, 100, 3), np.uint8)
    rgb[:, 50:] = (255, 0, 0)
    # an anti-aliased edge: many shades, each on under 0.2 % of the pixels
    rgb[:, 49, 0] = np.linspace(40, 250, 100).round()
    labels, names = labels_from_rgb(rgb)
    assert names == ["000000", "ff0000"]
    assert (labels[:, :49] == 0).all() and (labels[:, 50:] == 1).all()
    assert labels[:, 49].tolist() == [int(v > 127) for v in rgb[:, 49, 0]]  # nearest colour
    grey = np.repeat(np.array([[0, 1, 2, 2]], np.uint8).repeat(4, 0)[..., None], 3, axis=2)
    labels, names = labels_from_rgb(grey)
    assert names == ["0", "1", "2"] and labels[0].tolist() == [0, 1, 2, 2]


def test_mapping_errors():
    labels = np.array([[0, 1], [1, 2]])
    with pytest.raises(UserError, match="no --region for label"):
        map_regions(labels, ["0", "1", "2"], [parse_rule("1=keep")], {})
    with pytest.raises(UserError, match="does not have"):
        map_regions(labels, ["0", "1", "2"], [parse_rule("7=keep"), parse_rule("*=keep")], {})
    with pytest.raises(UserError, match="aspect ratios differ"):
        fit_labels(np.zeros((10, 10), np.int32), 20, 40, source="m.png")
    assert parse_rule("#FF0000=a.jpg@0.5") == parse_rule("ff0000=a.jpg@0.5")
    assert parse_rule("1=a.jpg@0.5").weight == 0.5


def test_segment_gives_n_regions_largest_first():
    from skimage import data as skdata

    picture = resize_longest(skdata.astronaut(), 64)
    labels = segment(picture, 3)
    counts = np.bincount(labels.ravel())
    assert len(counts) == 3 and list(counts) == sorted(counts, reverse=True)


def test_cli_masks_from_neural_style_pt_with_keep(assets, tmp_path, cli):
    out = tmp_path / "regions.png"
    proc = cli("stylize", str(assets.photo),
               "--mask", str(assets.mask_a),
               "--mask", str(assets.mask_b),
               "--region", f"1={assets.painting}", "--region", "2=keep",
               "--region", "0=keep", "-o", str(out), "--size", "48", "--iterations", "15",
               "--preview", "--quiet")
    assert proc.returncode == 0, proc.stderr
    result = read_image(out)
    assert result.shape == (36, 48, 3)
    assert read_image(tmp_path / "regions.preview.png").shape == (36, 144, 3)
    content = resize_to(read_image(assets.photo), 36, 48).astype(float)
    sky = resize_to(read_image(assets.mask_b), 36, 48)[..., 0] > 200
    assert np.abs(result - content)[sky].mean() < np.abs(result - content)[~sky].mean()


@pytest.mark.parametrize("extra,message", [
    (["--mask", "{labels}"], "give --region"),
    (["--mask", "{labels}", "--region", "1=keep"], "no --region for label(s) 0"),
    (["--mask", "{wide}", "--region", "*=keep"], "aspect ratios differ"),
    (["--region", "1=keep"], "--region needs --mask"),
    (["--mask", "{labels}", "--region", "0=keep", "--region", "1=missing.jpg"], "style image not found"),
])
def test_cli_region_mistakes_exit_2(tmp_path, cli, extra, message):
    labels = tmp_path / "labels.png"
    mask = np.zeros((300, 451), np.uint8)  # the aspect ratio of skimage's chelsea
    mask[:, 200:] = 1
    cv2.imwrite(str(labels), mask)
    wide = tmp_path / "wide.png"
    cv2.imwrite(str(wide), np.zeros((10, 40), np.uint8))
    args = [a.format(labels=labels, wide=wide) for a in extra]
    proc = cli("stylize", "skimage:chelsea", "--style", "skimage:coffee", "-o",
               tmp_path / "o.png", "--size", "32", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_colorize_keeps_the_sketch_lines(assets, tmp_path, cli):
    out = tmp_path / "coloured.png"
    proc = cli("colorize", str(assets.sketch), "--reference",
               str(assets.third_painting), "-o", str(out), "--size", "64",
               "--iterations", "20", "--quiet")
    assert proc.returncode == 0, proc.stderr
    result = read_image(out)
    sketch = resize_longest(read_image(assets.sketch), 64)
    lines = line_mask(sketch) > 0.6
    grey = cv2.cvtColor(result, cv2.COLOR_RGB2GRAY).astype(float)
    assert grey[lines].mean() < 0.6 * grey[~lines].mean()          # lines are still dark
    saturation = cv2.cvtColor(result, cv2.COLOR_RGB2HSV)[..., 1][~lines].mean()
    assert saturation > 25                                         # and it is coloured


def test_sketch_segmentation_and_region_matching(assets):
    sketch = resize_longest(read_image(assets.sketch), 128)
    fg = sketch_foreground(sketch)
    assert 0.15 < fg.mean() < 0.6 and not fg[0].any()
    big = np.zeros((40, 40), bool)
    big[5:35, 5:35] = True
    other = np.zeros((40, 40), bool)
    other[10:30, 12:32] = True
    assert match_regions([~big, big], [other, ~other]) == [1, 0]


def test_style_mask_takes_the_style_from_part_of_the_painting(assets, tmp_path, cli):
    out = tmp_path / "sky.png"
    proc = cli("stylize", str(assets.photo),
               "--mask", str(assets.mask_a),
               "--region", f"1={assets.masked_painting}",
               "--region", f"0={assets.masked_painting}",
               "--style-mask", f"0={assets.painting_mask}",
               "--style-mask", f"1={assets.painting_mask_rest}",
               "-o", str(out), "--size", "48", "--iterations", "10", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert read_image(out).shape == (36, 48, 3)
    proc = cli("stylize", str(assets.photo),
               "--mask", str(assets.mask_a),
               "--region", "1=keep", "--region", "0=keep",
               "--style-mask", f"0={assets.painting_mask}", "-o", str(out))
    assert proc.returncode == 2 and "without a style --region" in proc.stderr


def test_video_regions_with_a_mask_carried_along_the_flow(assets, tmp_path, cli):
    from stylevid.synthetic import pan_frames, write_clip

    photo = read_image(assets.photo)
    frames = pan_frames(photo, 5, 48, 32, 2)
    clip = tmp_path / "pan.mp4"
    write_clip(frames, clip, audio=False)
    labels = np.zeros((32, 48), np.uint8)
    labels[:, 24:] = 1
    cv2.imwrite(str(tmp_path / "labels.png"), labels)
    out = tmp_path / "frames"
    proc = cli("render", str(clip), "-o", str(out), "--mask", str(tmp_path / "labels.png"),
               "--region", "0=keep", "--region", f"1={assets.painting}",
               "--size", "48", "--iterations", "8", "--first-iterations", "15", "--quiet")
    assert proc.returncode == 0, proc.stderr
    result = [read_image(p).astype(float) for p in sorted(out.glob("*.png"))]
    assert len(result) == 5
    kept = np.abs(result[0][:, :20] - frames[0][:, :20]).mean()
    styled = np.abs(result[0][:, 28:] - frames[0][:, 28:]).mean()
    assert kept < 0.3 * styled


def test_a_mask_video_keeps_each_label_s_style_where_another_label_is_missing(
        assets, tmp_path, cli):
    """Frames 0-1 of the mask are red | green | blue, frame 2 red | blue: its red (kept)
    must stay red's. Frame by frame, green's absence renumbered red as green, and red's
    part of frame 2 was painted with green's style."""
    from stylevid.synthetic import pan_frames, write_clip

    photo = read_image(assets.photo)
    frames = pan_frames(photo, 3, 48, 32, 1)
    clip = tmp_path / "pan.mp4"
    write_clip(frames, clip, audio=False)
    masks = tmp_path / "masks"
    masks.mkdir()
    for index in range(3):
        rgb = np.zeros((32, 48, 3), np.uint8)
        rgb[:, :16], rgb[:, 16:32], rgb[:, 32:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
        if index == 2:
            rgb[:, :24], rgb[:, 24:] = (255, 0, 0), (0, 0, 255)
        cv2.imwrite(str(masks / f"{index:04d}.png"), rgb[..., ::-1])
    out = tmp_path / "frames"
    proc = cli("render", str(clip), "-o", str(out), "--mask", str(masks),
               "--region", "ff0000=keep", "--region", f"00ff00={assets.painting}",
               "--region", "0000ff=keep", "--temporal-weight", "0",
               "--size", "48", "--iterations", "8", "--first-iterations", "15", "--quiet")
    assert proc.returncode == 0, proc.stderr
    last = read_image(sorted(out.glob("*.png"))[2]).astype(float)
    content = frames[2].astype(float)
    assert np.abs(last[:, :20] - content[:, :20]).mean() < 6  # red: kept
    assert np.abs(last[:, 28:] - content[:, 28:]).mean() < 6  # blue: kept


def test_a_mask_sequence_is_cut_and_timed_as_the_render(assets, tmp_path, cli):
    """Masks are per frame of the input: with --start the sequence starts there too, and a
    mask video is decoded at the render's --fps. Here frame k of the 30 fps masks keeps
    the whole picture when k is even and paints it when k is odd."""
    from stylevid.synthetic import pan_frames, write_clip

    frames = pan_frames(read_image(assets.photo), 6, 48, 32, 1)
    clip, mask_video, masks = tmp_path / "pan.mp4", tmp_path / "masks.mp4", tmp_path / "masks"
    write_clip(frames, clip, fps=30, audio=False)
    labels = [np.full((32, 48, 3), 255 * (k % 2), np.uint8) for k in range(6)]
    write_clip(labels, mask_video, fps=30, audio=False)
    masks.mkdir()
    for k, label in enumerate(labels):
        cv2.imwrite(str(masks / f"{k:04d}.png"), label)

    def render(mask, *timing):
        out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"
        proc = cli("render", str(clip), "-o", str(out), "--mask", str(mask), "--region",
                   "0=keep", "--region", f"1={assets.painting}", "--temporal-weight", "0",
                   *timing, "--size", "48", "--iterations", "6", "--first-iterations", "10",
                   "--quiet")
        assert proc.returncode == 0, proc.stderr
        return [read_image(p).astype(float) for p in sorted(out.glob("*.png"))]

    def kept(result, index, source):
        return np.abs(result[index] - frames[source].astype(float)).mean() < 6

    started = render(masks, "--start", str(1 / 30))  # input frames 1-5: odd ones painted
    assert len(started) == 5
    assert [kept(started, i, i + 1) for i in range(5)] == [False, True, False, True, False]
    halved = render(mask_video, "--fps", "15")  # input frames 0, 2, 4: all kept
    assert len(halved) == 3 and all(kept(halved, i, 2 * i) for i in range(3))
    # masks for fewer frames than the render: one line before the first frame is painted
    for k in range(2, 6):
        (masks / f"{k:04d}.png").unlink()
    out = tmp_path / "short"
    proc = cli("render", str(clip), "-o", str(out), "--mask", str(masks), "--region",
               "0=keep", "--region", f"1={assets.painting}", "--size", "48", "--quiet")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"stylevid: error: mask sequence {masks} has 2 frames; " \
        "the video has 6"
    assert not list(out.glob("*.png"))


def _pan_with_a_half_mask(assets, tmp_path, count):
    """A panning clip (48x32) and regions from one label image carried along the flow: its
    left half kept, its right half painted."""
    from stylevid.config import RegionSpec
    from stylevid.synthetic import pan_frames

    labels = np.zeros((32, 48), np.uint8)
    labels[:, 24:] = 1
    cv2.imwrite(str(tmp_path / "labels.png"), labels)
    return (pan_frames(read_image(assets.photo), count, 48, 32, 2),
            RegionSpec(masks=(str(tmp_path / "labels.png"),),
                       rules=("0=keep", f"1={assets.painting}")))


def test_a_chunk_sees_the_regions_of_a_render_from_the_clip_start(assets, tmp_path):
    """A Ray chunk starting at frame 4 gets the mask carried along the flow from frame 0,
    as the whole render has it, even when the next chunk's keyframe is asked first."""
    from stylevid.config import RegionSpec
    from stylevid.video_regions import carried_along_flow, from_clip_start, regions_source

    frames, spec = _pan_with_a_half_mask(assets, tmp_path, 8)
    params = StyleParams(size=48)
    assert carried_along_flow(spec) and not carried_along_flow(RegionSpec())

    def masks(regions):
        return [r.mask for r in regions]

    whole = regions_source(spec, [], params)[0]
    expected = [masks(whole(i, frame)) for i, frame in enumerate(frames)]
    assert not np.array_equal(expected[0][0], expected[4][0])  # the mask moves with the pan
    chunk = from_clip_start(regions_source(spec, [], params)[0], lambda k: iter(frames[k:]),
                            4, carried=True)
    for index in (4, 7, 5, 6, 7):  # the next chunk's keyframe (7) before the frames between
        for got, want in zip(masks(chunk(index, frames[index])), expected[index], strict=True):
            np.testing.assert_array_equal(got, want)
    fresh = regions_source(spec, [], params)[0]  # what a chunk would see on its own
    assert not np.array_equal(masks(fresh(4, frames[4]))[0], expected[4][0])
    with pytest.raises(ValueError, match="asked for after"):
        chunk(3, frames[3])


def test_later_passes_get_the_carried_regions_in_any_order_without_carrying_again(
        assets, tmp_path, monkeypatch):
    """With several passes, a mask carried along the flow is kept per frame as labels, so a
    backward pass gets each frame's regions as the first pass had them, and the flow is not
    computed again (before, every frame's float masks were held, and carried a second
    time)."""
    from stylevid import video_regions
    from stylevid.config import RenderOptions

    frames, spec = _pan_with_a_half_mask(assets, tmp_path, 6)
    regions_for = video_regions.regions_source(spec, [], StyleParams(size=48),
                                               RenderOptions(passes=2))[0]
    first_pass = [[r.mask for r in regions_for(i, frame)] for i, frame in enumerate(frames)]
    assert not np.array_equal(first_pass[0][0], first_pass[5][0])  # carried with the pan
    flows = []
    monkeypatch.setattr(video_regions, "compute_flow",
                        lambda *a: flows.append(a) or pytest.fail("flow computed again"))
    for index in reversed(range(6)):
        for got, want in zip([r.mask for r in regions_for(index, frames[index])],
                             first_pass[index], strict=True):
            np.testing.assert_array_equal(got, want)
    assert not flows

