"""The study's typed results: JSON round trip with the historical flat keys, and loud failure on a wrong key."""

from __future__ import annotations

import json

import pytest

from pixelwise.errors import PixelwiseError
from pixelwise.study.results import (
    EpochRecord,
    MachineLoad,
    ModelResult,
    Scores,
    StudyResults,
    results_from_json,
    results_to_json,
    scores_from_record,
)


def _results() -> StudyResults:
    results = StudyResults(study="t", demo=True, device="CPU: test")
    epoch = EpochRecord(psnr=20.0, ssim=0.5, fid=None, fid_n=4, strengths={"0.5": {"psnr": 21.0, "ssim": 0.6}},
                        epoch=1, step=4, eval_seconds=0.1)
    results.deblur.models.append(ModelResult(key="deblurgan", name="DeblurGAN", epochs=[epoch], final=epoch))
    results.deblur.baseline = Scores(psnr=18.0, strengths={"0.5": {"psnr": 19.0}})
    results.deblur.strengths = [0.5]
    results.bench.loads = [MachineLoad(1.5, 2, 2), None]
    return results


def test_round_trip_keeps_the_flat_strength_keys():
    data = json.loads(json.dumps(results_to_json(_results())))
    model = data["deblur"]["models"][0]
    assert model["epochs"][0]["psnr@0.5"] == 21.0 and model["epochs"][0]["ssim@0.5"] == 0.6
    assert "strengths" not in model["epochs"][0] and data["deblur"]["baseline"]["psnr@0.5"] == 19.0
    assert data["deblur"]["strengths"] == [0.5]  # the task's list of strengths stays a list
    back = results_from_json(data)
    assert back == _results()
    assert back.deblur.models[0].final.get("psnr@0.5") == 21.0 and back.deblur.models[0].final.get("fid") is None


def test_a_renamed_key_is_an_error_not_a_silent_na():
    data = results_to_json(_results())
    data["deblur"]["models"][0]["runtime"] = data["deblur"]["models"][0].pop("runtime_ms")
    with pytest.raises(PixelwiseError, match="runtime"):
        results_from_json(data)


def test_scores_from_an_evaluation_record():
    record = {"psnr@1": 17.0, "ssim@1": 0.4, "psnr": 17.0, "ssim": 0.4, "fid": 3.0, "fid_n": 2, "kid": None,
              "kid_std": None}
    scores = scores_from_record(record, EpochRecord, epoch=2, step=8)
    assert scores.strengths == {"1": {"psnr": 17.0, "ssim": 0.4}} and scores.epoch == 2 and scores.fid_n == 2
