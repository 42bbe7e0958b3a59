"""The wheel holds libattn.so but no Python extension: tag it py3-none-<plat>
(any Python 3, this platform) instead of pure or CPython-version-specific."""
import sysconfig

from setuptools import setup
from wheel.bdist_wheel import bdist_wheel


class PlatformWheel(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        return "py3", "none", plat


setup(cmdclass={"bdist_wheel": PlatformWheel})
