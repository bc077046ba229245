"""The study application (``pixelwise study`` / ``pixelwise demo``) on top of the library: :mod:`.config` (the
schema), :mod:`.runner` (train, evaluate, time), :mod:`.evalsets`, :mod:`.results` (typed numbers),
:mod:`.tables`, :mod:`.plots` and :mod:`.html` (the report)."""
