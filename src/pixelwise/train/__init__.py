"""Training: the run config (:mod:`.config`), the one loop (:mod:`.loop`), per-recipe strategy
(:mod:`.recipes`), the checkpoint layout (:mod:`.checkpoint`), DDP plumbing (:mod:`.distributed`) and the
run-directory writers (:mod:`.monitor`). Entry points: ``load_run_config`` and ``train``."""
