"""Build script: compiles the Cython twins in ext/ into the resolver package.

``TIERID_NO_EXTENSIONS=1`` skips the build (pure-Python twins only). Otherwise a compile
error fails the install: a silently missing fast path is worse than a loud failure.
"""

import os

from setuptools import Extension, setup

EXTENSIONS = {
    "resolver._handle": "ext/_handle.pyx",
    "resolver._lru": "ext/_lru.pyx",
    "resolver._dns_hot": "ext/_dns_hot.pyx",
    "resolver._hdl_codec": "ext/_hdl_codec.pyx",
    "resolver._hdl_hot": "ext/_hdl_hot.pyx",
    "resolver._cells": "ext/_cells.pyx",
}


def ext_modules() -> list:
    if os.environ.get("TIERID_NO_EXTENSIONS"):
        print("tierid: TIERID_NO_EXTENSIONS set, building pure-Python twins only")
        return []
    from Cython.Build import cythonize

    modules = [Extension(name, [src]) for name, src in EXTENSIONS.items()]
    print("tierid: building Cython extensions:", ", ".join(EXTENSIONS))
    return cythonize(modules, language_level=3, compiler_directives={"binding": False})


setup(ext_modules=ext_modules())
