"""The case-file schema: what a user can write, with units, defaults and checks.

Schema only: nothing here imports the runtime (DOLFINx, the loop, the solvers). The
option strings of a case become runtime objects in exactly one place,
:mod:`bonefem.build`.

* :mod:`bonefem.config.case` -- the case file (:class:`Case`), loading and validation.
* :mod:`bonefem.config.loading` -- load cases: supports, loads, cycles per day.
"""

from bonefem.config.case import Case, case_to_toml_dict, load_case, parse_case

__all__ = ["Case", "case_to_toml_dict", "load_case", "parse_case"]
