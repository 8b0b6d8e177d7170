"""``fluxion.vision.models`` against the same architectures written in torch's own ``nn``.

torchvision is not installed, so ``TorchResNet`` / ``TorchBasicBlock`` / ``TorchBottleneck`` /
``TorchLeNet5`` below restate torchvision's ResNet (and a classic LeNet-5) with the same attribute
names. Weights travel from torch to fluxion the way a user moves them: a ``.safetensors`` file.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import fluxion
from fluxion.vision import models

torch = pytest.importorskip("torch")
tnn = torch.nn


# ---------------------------------------------------------------------------- torch references


def _conv3x3(cin, cout, stride=1):
    return tnn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv1x1(cin, cout, stride=1):
    return tnn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


class TorchBasicBlock(tnn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class TorchBottleneck(tnn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = _conv1x1(inplanes, planes)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * 4)
        self.bn3 = tnn.BatchNorm2d(planes * 4)
        self.relu = tnn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class TorchResNet(tnn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = tnn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, tnn.Conv2d):
                tnn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, tnn.BatchNorm2d):
                tnn.init.constant_(m.weight, 1)
                tnn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = tnn.Sequential(
                _conv1x1(self.inplanes, planes * block.expansion, stride),
                tnn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return tnn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TorchLeNet5(tnn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = tnn.Conv2d(6, 16, 5)
        self.pool = tnn.MaxPool2d(2, 2)
        self.relu = tnn.ReLU()
        self.fc1 = tnn.Linear(400, 120)
        self.fc2 = tnn.Linear(120, 84)
        self.fc3 = tnn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x)))))


# ---------------------------------------------------------------------------- helpers


def _randomize_norm_stats(model, seed=0):
    """Make batch-norm affine parameters and running stats non-trivial, so eval mode is tested."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, tnn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.num_batches_tracked.fill_(7)


def _transfer(ref, model, tmp_path):
    """Move ``ref``'s state dict into ``model`` through a safetensors file, as a user would."""
    st_torch = pytest.importorskip("safetensors.torch")
    if not hasattr(fluxion, "load_safetensors"):
        pytest.skip("fluxion.load_safetensors is not available yet")
    path = tmp_path / "weights.safetensors"
    st_torch.save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(path))
    result = model.load_state_dict(fluxion.load_safetensors(str(path)))
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []


def _np(t):
    return t.detach().numpy()


def _assert_state_dicts_equal(model, ref, rtol=0.0, atol=0.0):
    ours, theirs = model.state_dict(), ref.state_dict()
    assert list(ours) == list(theirs)
    for k in theirs:
        np.testing.assert_allclose(
            _np(ours[k]), theirs[k].detach().numpy(), rtol=rtol, atol=atol, err_msg=k
        )


def _fluxion_rng_is_torch_identical() -> bool:
    fluxion.manual_seed(99)
    torch.manual_seed(99)
    a, b = fluxion.rand(3), torch.rand(3)
    c, d = fluxion.randn(5), torch.randn(5)
    return _np(a).tolist() == b.numpy().tolist() and _np(c).tolist() == d.numpy().tolist()


# ---------------------------------------------------------------------------- LeNet-5


def test_lenet5_parameters_match_torch_names_and_shapes():
    model, ref = models.lenet5(), TorchLeNet5()
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert list(ours.items()) == list(theirs.items())
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in ref.parameters())
    assert models.lenet5(num_classes=3).fc3.out_features == 3


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lenet5_output_and_gradients_match_torch(tmp_path, dtype):
    ref = TorchLeNet5().to(getattr(torch, dtype))
    model = models.lenet5().to(getattr(fluxion, dtype))
    _transfer(ref, model, tmp_path)
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(dtype)
    target = np.array([1, 0, 7, 3])
    fx = fluxion.from_numpy(x.copy()).requires_grad_(True)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    out, ref_out = model(fx), ref(tx)
    assert tuple(out.shape) == (4, 10)
    tol = 1e-5 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(_np(out), _np(ref_out), rtol=tol, atol=tol)
    fluxion.nn.functional.cross_entropy(out, fluxion.from_numpy(target)).backward()
    torch.nn.functional.cross_entropy(ref_out, torch.from_numpy(target)).backward()
    np.testing.assert_allclose(_np(fx.grad), tx.grad.numpy(), rtol=tol, atol=tol)
    grads = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(
            _np(p.grad), grads[name].grad.numpy(), rtol=tol, atol=tol, err_msg=name
        )


# ---------------------------------------------------------------------------- ResNet


def test_resnet18_and_34_names_and_shapes_match_torchvision_layout():
    for build, layers in ((models.resnet18, [2, 2, 2, 2]), (models.resnet34, [3, 4, 6, 3])):
        model = build(num_classes=7)
        ref = TorchResNet(TorchBasicBlock, layers, num_classes=7)
        ours = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
        theirs = [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
        assert ours == theirs
        named = [n for n, _ in model.named_modules()]
        assert named == [n for n, _ in ref.named_modules()]
    assert "layer2.0.downsample.0.weight" in dict(ours)


def test_resnet50_names_and_shapes_match_torchvision_layout():
    model = models.resnet50(num_classes=5)
    ref = TorchResNet(TorchBottleneck, [3, 4, 6, 3], num_classes=5)
    ours = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert ours == [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]


def test_resnet18_default_num_classes_and_init_statistics():
    model = models.resnet18()
    assert model.fc.out_features == 1000
    assert sum(p.numel() for p in model.parameters()) == 11689512  # torchvision's resnet18
    # torchvision init: kaiming_normal_(fan_out, relu) for convs, BN weight 1 / bias 0
    w = _np(model.layer3[0].conv1.weight)
    fan_out = w.shape[0] * w.shape[2] * w.shape[3]
    assert abs(w.std() - np.sqrt(2.0 / fan_out)) < 0.05 * np.sqrt(2.0 / fan_out)
    assert abs(w.mean()) < 0.05 * np.sqrt(2.0 / fan_out)
    for m in model.modules():
        if isinstance(m, fluxion.nn.BatchNorm2d):
            assert bool((m.weight == 1).all()) and bool((m.bias == 0).all())


def test_resnet_zero_init_residual_and_weights_argument():
    model = models.resnet18(num_classes=2, zero_init_residual=True)
    assert all(
        float(b.bn2.weight.abs().sum()) == 0 for s in (model.layer1, model.layer4) for b in s
    )
    assert float(model.layer1[0].bn1.weight.sum()) == 64
    with pytest.raises(ValueError, match="cannot be downloaded"):
        models.resnet18(weights="IMAGENET1K_V1")


def test_resnet18_seeded_init_equals_torch():
    """With a torch-identical generator, the same seed gives torchvision's exact weights."""
    if not _fluxion_rng_is_torch_identical():
        pytest.skip("fluxion's generator does not yet reproduce torch's streams (issue 6)")
    torch.manual_seed(0)
    ref = TorchResNet(TorchBasicBlock, [2, 2, 2, 2], num_classes=10)
    fluxion.manual_seed(0)
    model = models.resnet18(num_classes=10)
    # NOTE: rtol, not bit equality: one weight of 11 M (a value near 2e-10) differs by one
    # float32 ulp in fluxion's normal sampler at the time of writing (reported to issue 6);
    # equal streams otherwise give equal weights, and any drift in draw order fails here.
    _assert_state_dicts_equal(model, ref, rtol=1e-6)


@pytest.fixture(scope="module")
def resnet_pair(tmp_path_factory):
    torch.manual_seed(0)
    ref = TorchResNet(TorchBasicBlock, [2, 2, 2, 2], num_classes=10)
    _randomize_norm_stats(ref)
    model = models.resnet18(num_classes=10)
    _transfer(ref, model, tmp_path_factory.mktemp("resnet"))
    return model, ref


def _run_both(model, ref, x, target):
    fx = fluxion.from_numpy(x.copy()).requires_grad_(True)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    model.zero_grad()
    ref.zero_grad()
    out, ref_out = model(fx), ref(tx)
    fluxion.nn.functional.cross_entropy(out, fluxion.from_numpy(target)).backward()
    torch.nn.functional.cross_entropy(ref_out, torch.from_numpy(target)).backward()
    return fx, tx, out, ref_out


def _assert_grads_close(model, ref, fx, tx, rtol, atol):
    np.testing.assert_allclose(_np(fx.grad), tx.grad.numpy(), rtol=rtol, atol=atol)
    grads = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        g = grads[name].grad.numpy()
        scale = max(float(np.abs(g).max()), 1e-12)
        np.testing.assert_allclose(_np(p.grad), g, rtol=rtol, atol=atol * scale, err_msg=name)


def test_resnet18_loaded_from_safetensors_eval_matches_torch(resnet_pair):
    model, ref = resnet_pair
    _assert_state_dicts_equal(model, ref, rtol=1e-4, atol=1e-5)
    model.eval()
    ref.eval()
    x = np.random.default_rng(1).standard_normal((2, 3, 64, 64)).astype(np.float32)
    fx, tx, out, ref_out = _run_both(model, ref, x, np.array([3, 9]))
    np.testing.assert_allclose(_np(out), _np(ref_out), rtol=1e-4, atol=1e-4)
    _assert_grads_close(model, ref, fx, tx, rtol=1e-3, atol=1e-4)


def test_resnet18_train_mode_matches_torch_and_updates_running_stats(resnet_pair):
    model, ref = resnet_pair
    model.train()
    ref.train()
    x = np.random.default_rng(2).standard_normal((2, 3, 64, 64)).astype(np.float32)
    target = np.array([0, 5])
    fx, tx, out, ref_out = _run_both(model, ref, x, target)
    np.testing.assert_allclose(_np(out), _np(ref_out), rtol=1e-4, atol=1e-4)
    _assert_state_dicts_equal(model, ref, rtol=1e-4, atol=1e-5)
    # Gradients in float64: with batch statistics of two images this point has ReLU/max-pool
    # near-ties (torch's own float64 input gradient moves by up to 7e-3 under 1e-5 relative
    # input noise), so the float32 roundings of two correct implementations may route a
    # gradient through different elements. Float64 leaves no such tie at this tolerance.
    model64, ref64 = copy.deepcopy(model).double(), copy.deepcopy(ref).double()
    fx, tx, _, _ = _run_both(model64, ref64, x.astype(np.float64), target)
    _assert_grads_close(model64, ref64, fx, tx, rtol=1e-7, atol=1e-9)
