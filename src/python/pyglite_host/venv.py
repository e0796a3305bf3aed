"""sys.path for the data directory's Python environment (src/packages, docs/packages.md).

The embedded interpreter starts as Debian's /usr/bin/python3 would: standard library, the user site
(~/.local) and the system's dist-packages. A virtual environment's python would instead read pyvenv.cfg;
ours is started by node, so the same is done here: the user site goes (a package someone installed with
`pip install --user` must not shadow the one installed from SQL), the system site-packages go unless the
server was started with --python-system-site-packages, and the environment's site-packages come after the
standard library, where site.py puts a venv's.
"""

import os
import site
import sys


def use(env):
    """Apply the environment {venv, site, systemSitePackages, log}; returns it with `site` resolved."""
    site_dir = env.get("site") or os.path.join(
        env["venv"], "lib", "python%d.%d" % sys.version_info[:2], "site-packages"
    )
    system = set(site.getsitepackages())
    drop = set()
    if site.USER_SITE:
        drop.add(site.USER_SITE)
    site.ENABLE_USER_SITE = False
    if not env.get("systemSitePackages"):
        drop |= system
        _forget(system)
    sys.path[:] = [p for p in sys.path if p not in drop and p != site_dir]
    at = next((i for i, p in enumerate(sys.path) if p in system), len(sys.path))
    sys.path.insert(at, site_dir)
    env = dict(env, site=site_dir, pth_read=os.path.isdir(site_dir))
    if env["pth_read"]:
        site.addsitedir(site_dir)  # its .pth files (already on sys.path, so not appended again)
    return env


def _under(path, dirs):
    path = str(path or "")
    return any(path == d or path.startswith(d + os.sep) for d in dirs)


def _forget(dirs):
    """What the system directories' .pth files left behind when site.py ran them at start-up, before this
    code: the modules they imported or made (Debian's distutils-precedence.pth imports _distutils_hack,
    matplotlib's nspkg.pth makes the namespace module mpl_toolkits whose __path__ would still find the
    system's subpackages), the import hooks those modules installed, and the path importers cached for the
    directories. Side effects of their code beyond that cannot be undone (docs/packages.md)."""
    gone = set()
    for name, mod in list(sys.modules.items()):
        where = [getattr(mod, "__file__", None), *(getattr(mod, "__path__", None) or [])]
        if any(_under(w, dirs) for w in where):
            gone.add(name)
            del sys.modules[name]
    sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__module__", None) not in gone]
    for d in list(sys.path_importer_cache):
        if _under(d, dirs):
            del sys.path_importer_cache[d]
