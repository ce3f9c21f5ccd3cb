"""Contract tests run over every registered backbone, plus torchvision compatibility checks."""

from __future__ import annotations

import logging
import sys

import pytest
import torch
import torch.nn.functional as F

from trainlab.errors import CheckpointError, ConfigError
from trainlab.nets.backbones import create_backbone, list_backbones
from trainlab.nets.weights import adapt_first_conv

BACKBONES = list_backbones()

# Parameter counts at num_classes=1000, from the `num_params` of torchvision's weight docs.
TORCHVISION_NUM_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "mobilenet_v2": 3_504_872,
    "efficientnet_b0": 5_288_548,
}

# Number of state_dict entries (parameters and buffers) of the torchvision models.
TORCHVISION_NUM_KEYS = {
    "resnet18": 122,
    "resnet34": 218,
    "resnet50": 320,
    "mobilenet_v2": 314,
    "efficientnet_b0": 360,
}

# Representative torchvision state_dict keys and their shapes at num_classes=1000.
TORCHVISION_KEYS = {
    "resnet18": {
        "conv1.weight": (64, 3, 7, 7),
        "bn1.running_mean": (64,),
        "bn1.num_batches_tracked": (),
        "layer1.0.conv1.weight": (64, 64, 3, 3),
        "layer2.0.downsample.0.weight": (128, 64, 1, 1),
        "layer2.0.downsample.1.running_var": (128,),
        "layer4.1.bn2.bias": (512,),
        "fc.weight": (1000, 512),
        "fc.bias": (1000,),
    },
    "resnet34": {
        "layer3.5.conv2.weight": (256, 256, 3, 3),
        "layer4.2.bn2.weight": (512,),
        "fc.weight": (1000, 512),
    },
    "resnet50": {
        "layer1.0.conv1.weight": (64, 64, 1, 1),
        "layer1.0.conv3.weight": (256, 64, 1, 1),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "layer2.0.conv2.weight": (128, 128, 3, 3),
        "layer4.2.bn3.running_mean": (2048,),
        "fc.weight": (1000, 2048),
    },
    "mobilenet_v2": {
        "features.0.0.weight": (32, 3, 3, 3),
        "features.0.1.running_var": (32,),
        "features.1.conv.0.0.weight": (32, 1, 3, 3),
        "features.1.conv.1.weight": (16, 32, 1, 1),
        "features.1.conv.2.bias": (16,),
        "features.2.conv.0.0.weight": (96, 16, 1, 1),
        "features.2.conv.1.0.weight": (96, 1, 3, 3),
        "features.2.conv.2.weight": (24, 96, 1, 1),
        "features.17.conv.3.running_mean": (320,),
        "features.18.0.weight": (1280, 320, 1, 1),
        "classifier.1.weight": (1000, 1280),
    },
    "efficientnet_b0": {
        "features.0.0.weight": (32, 3, 3, 3),
        "features.1.0.block.0.0.weight": (32, 1, 3, 3),
        "features.1.0.block.1.fc1.weight": (8, 32, 1, 1),
        "features.1.0.block.1.fc2.bias": (32,),
        "features.1.0.block.2.0.weight": (16, 32, 1, 1),
        "features.2.0.block.0.0.weight": (96, 16, 1, 1),
        "features.2.0.block.2.fc1.weight": (4, 96, 1, 1),
        "features.6.3.block.1.0.weight": (1152, 1, 5, 5),
        "features.7.0.block.3.0.weight": (320, 1152, 1, 1),
        "features.8.0.weight": (1280, 320, 1, 1),
        "classifier.1.weight": (1000, 1280),
    },
}


def _input(name: str, channels: int = 3) -> torch.Tensor:
    size = 8 if name == "small_cnn" else 32
    return torch.randn(2, channels, size, size)


def test_registry_holds_the_builtin_backbones():
    assert set(TORCHVISION_NUM_PARAMS) | {"small_cnn"} <= set(BACKBONES)
    assert list_backbones("resnet*") == ["resnet18", "resnet34", "resnet50"]


@pytest.mark.parametrize("name", BACKBONES)
def test_forward_backward_shapes_and_grads(name):
    torch.manual_seed(0)
    model = create_backbone(name, num_classes=7)
    logits = model(_input(name))
    assert logits.shape == (2, 7)
    F.cross_entropy(logits, torch.tensor([1, 5])).backward()
    without_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not without_grad
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", BACKBONES)
def test_state_dict_round_trip(name, tmp_path):
    torch.manual_seed(0)
    model = create_backbone(name, num_classes=5).eval()
    path = tmp_path / f"{name}.pth"
    torch.save(model.state_dict(), path)
    fresh = create_backbone(name, num_classes=5).eval()
    fresh.load_state_dict(torch.load(path, weights_only=True))
    x = _input(name)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), model(x))


@pytest.mark.parametrize("name", BACKBONES)
def test_single_channel_input(name):
    model = create_backbone(name, num_classes=3, in_channels=1)
    assert model(_input(name, channels=1)).shape == (2, 3)


@pytest.mark.parametrize("name", sorted(TORCHVISION_NUM_PARAMS))
def test_torchvision_key_names_and_parameter_count(name):
    model = create_backbone(name)
    state = model.state_dict()
    assert len(state) == TORCHVISION_NUM_KEYS[name]
    for key, shape in TORCHVISION_KEYS[name].items():
        assert key in state, key
        assert tuple(state[key].shape) == shape, key
    assert sum(p.numel() for p in model.parameters()) == TORCHVISION_NUM_PARAMS[name]


def test_weights_file_with_other_head_and_one_channel(tmp_path, caplog):
    torch.manual_seed(0)
    source = create_backbone("resnet18")  # ImageNet-shaped: 1000 classes, RGB
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    with caplog.at_level(logging.INFO, logger="trainlab.nets.weights"):
        model = create_backbone(
            "resnet18", pretrained=True, weights=str(path), num_classes=10, in_channels=1
        )
    assert "Classifier head 'fc' not loaded" in caplog.text
    assert "sum over RGB" in caplog.text
    got, want = model.state_dict(), source.state_dict()
    torch.testing.assert_close(got["conv1.weight"], want["conv1.weight"].sum(1, keepdim=True))
    torch.testing.assert_close(got["layer3.1.conv2.weight"], want["layer3.1.conv2.weight"])
    torch.testing.assert_close(got["bn1.running_var"], want["bn1.running_var"])
    assert got["fc.weight"].shape == (10, 512)


@pytest.mark.parametrize("prefix", ["", "net."])
def test_weights_from_checkpoint_dict(tmp_path, prefix):
    torch.manual_seed(0)
    source = create_backbone("small_cnn", num_classes=10, in_channels=1).eval()
    state = {prefix + k: v for k, v in source.state_dict().items()}
    path = tmp_path / "run.ckpt"
    torch.save({"epoch": 3, "state_dict": state, "trainlab": {"spec": {"num_classes": 10}}}, path)
    model = create_backbone("small_cnn", num_classes=10, in_channels=1, weights=path).eval()
    x = _input("small_cnn", channels=1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x))


def test_adapted_first_conv_keeps_the_response_to_grey_images():
    torch.manual_seed(0)
    rgb = torch.randn(8, 3, 3, 3)
    grey = torch.randn(1, 1, 6, 6)
    want = F.conv2d(grey.expand(1, 3, 6, 6), rgb)
    torch.testing.assert_close(F.conv2d(grey, adapt_first_conv(rgb, 1)), want)
    torch.testing.assert_close(F.conv2d(grey.expand(1, 6, 6, 6), adapt_first_conv(rgb, 6)), want)
    assert adapt_first_conv(rgb, 4).shape == (8, 4, 3, 3)


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "r18.pth"
    torch.save(create_backbone("resnet18").state_dict(), path)
    with pytest.raises(CheckpointError, match="does not fit the model"):
        create_backbone("resnet34", weights=path)


def test_missing_weights_file_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        create_backbone("small_cnn", weights=tmp_path / "nope.pth")


def test_pretrained_without_weights_explains_no_download():
    with pytest.raises(ConfigError, match=r"never downloads.*model\.net\.weights=/path/resnet18"):
        create_backbone("resnet18", pretrained=True)


def test_unknown_name_and_option_are_refused():
    with pytest.raises(ConfigError, match=r"Did you mean.*resnet18"):
        create_backbone("resnet81")
    with pytest.raises(ConfigError, match=r"does not take option\(s\) \['depth'\]"):
        create_backbone("small_cnn", depth=3)
    with pytest.raises(ConfigError, match="prefix must be one of"):
        create_backbone("keras/resnet18")


@pytest.mark.parametrize("library", ["timm", "torchvision"])
def test_optional_library_missing_says_how_to_install(library, monkeypatch):
    monkeypatch.setitem(sys.modules, library, None)  # makes `import <library>` fail
    with pytest.raises(ConfigError, match=r"pip install trainlab\[vision\].*CPU-only"):
        create_backbone(f"{library}/resnet18", num_classes=4)


def test_timm_route(tmp_path):
    pytest.importorskip("timm", reason="timm is optional (trainlab[vision]) and not installed")
    model = create_backbone("timm/resnet18", num_classes=4, in_channels=1)
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 4)
    path = tmp_path / "timm_r18.pth"
    torch.save(create_backbone("timm/resnet18").state_dict(), path)
    loaded = create_backbone("timm/resnet18", num_classes=4, in_channels=1, weights=path)
    assert loaded.state_dict()["fc.weight"].shape == (4, 512)


def test_torchvision_route():
    pytest.importorskip(
        "torchvision", reason="torchvision is optional (trainlab[vision]) and not installed"
    )
    model = create_backbone("torchvision/resnet18", num_classes=4, in_channels=1)
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 4)
