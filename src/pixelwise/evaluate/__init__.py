"""Evaluation: image-quality metrics (:mod:`.metrics`), model evaluation over a dataset (:mod:`.evaluate`)
and inference benchmarks (:mod:`.bench`). Submodules are imported on demand so that importing
``pixelwise.evaluate`` stays cheap."""
