"""The coupled loop and its parts.

* :mod:`~bonefem.coupling.loop` -- :class:`CoupledRun`: step control, adaptive re-solve
  as an event of the law's integrator, outputs, checkpoints, failure handling.
* :mod:`~bonefem.coupling.stimulus` -- the mechanical stimulus model and its strategies.
* :mod:`~bonefem.coupling.material` -- bone state → densities → Young's modulus.
* :mod:`~bonefem.coupling.schedule` -- step limits and output times.
* :mod:`~bonefem.coupling.timers` -- phase timers with an injected clock.
"""
