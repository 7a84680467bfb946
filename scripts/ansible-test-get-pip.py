"""Stand-in for the get-pip.py that ansible-test downloads to put pip into the empty virtualenvs it makes for
sanity tests. That file comes from a host outside the package registries, which this project's machines cannot
reach; ansible-test looks for it in its cache first, and scripts/sanity puts this file there.

Like get-pip.py it takes pip install arguments (the pinned pip, --no-setuptools, --no-wheel), but it starts from
the pip wheel that ships with Python (ensurepip) and fetches the pinned pip from PyPI.
"""

import subprocess
import sys

NOT_FOR_PIP = ('--no-setuptools', '--no-wheel')


def main() -> int:
    # In a child process: ensurepip hides pip's configuration (certificates, mirrors) from its own process.
    status = subprocess.call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
    if status == 0:
        status = subprocess.call([sys.executable, '-m', 'pip', 'install', '--quiet',
                                  *[arg for arg in sys.argv[1:] if arg not in NOT_FOR_PIP]])
    if status == 0 and '--no-setuptools' in sys.argv:
        # ensurepip brings setuptools on Python < 3.12; ansible-test asked for a venv without it.
        status = subprocess.call([sys.executable, '-m', 'pip', 'uninstall', '--quiet', '--yes', 'setuptools'])
    return status


if __name__ == '__main__':
    sys.exit(main())
