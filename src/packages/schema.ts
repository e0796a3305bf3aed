// The `pyglite` schema a database gets at its first package command: the manifest table (dumped by pg_dump,
// reinstalled by CALL pyglite.sync()), views of the installed packages and of the operations, the
// requirements.txt text, and procedures that explain themselves when the main thread did not run them.
// Plain objects in plpython3u and SQL, so a dump restores into PostgreSQL + plpython3u as well.

/** The Python of the views: what pyglite_host.init recorded (python/pyglite_host), else plain sys.path. */
const ENV_PY = `import sys
env = getattr(sys.modules.get('pyglite_host'), 'environment', None)`

/** The body of a procedure the main thread runs itself: reached only when it did not (see statements.ts). */
const NOT_HERE = (name: string) => `BEGIN
  RAISE EXCEPTION USING ERRCODE = '0A000',
    MESSAGE = 'pyglite.${name} runs only as a query of its own with literal arguments, outside a transaction block, on a pyglite server',
    HINT = 'Send e.g. CALL pyglite.install(''name==1.0'') by itself (docs/packages.md). On PostgreSQL, install with pip what SELECT pyglite.requirements_txt() lists.';
END`

export const SCHEMA_SQL = `
CREATE SCHEMA IF NOT EXISTS pyglite;
COMMENT ON SCHEMA pyglite IS 'Python packages of this pyglite server (docs/packages.md)';
GRANT USAGE ON SCHEMA pyglite TO PUBLIC;

CREATE TABLE IF NOT EXISTS pyglite.manifest (
  name text PRIMARY KEY,
  version text NOT NULL,
  requested boolean NOT NULL,
  requirement text,
  installed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pyglite.manifest IS 'the Python environment as of the last package command in this database; CALL pyglite.sync() installs it';
GRANT SELECT ON pyglite.manifest TO PUBLIC;

CREATE OR REPLACE FUNCTION pyglite.list_packages(OUT name text, OUT version text, OUT requested boolean, OUT summary text)
RETURNS SETOF record LANGUAGE plpython3u AS $py$
from importlib import metadata
${ENV_PY}
dists = metadata.distributions(path=[env['site']]) if env else metadata.distributions()
rows = {}
for d in dists:
    n = d.metadata['Name']
    if n:
        rows.setdefault(n.lower(), (n, d.version, d.read_text('REQUESTED') is not None, d.metadata['Summary']))
return [rows[k] for k in sorted(rows)]
$py$;
CREATE OR REPLACE VIEW pyglite.packages AS SELECT * FROM pyglite.list_packages();
GRANT SELECT ON pyglite.packages TO PUBLIC;

CREATE OR REPLACE FUNCTION pyglite.install_log(OUT id integer, OUT action text, OUT arguments text[],
  OUT state text, OUT started timestamptz, OUT finished timestamptz, OUT database text, OUT username text,
  OUT progress text, OUT error text, OUT output text)
RETURNS SETOF record LANGUAGE plpython3u AS $py$
import json
${ENV_PY}
if env is None:
    return []
try:
    with open(env['log'], encoding='utf-8') as f:
        entries = json.load(f)
except FileNotFoundError:
    return []
keys = ('id', 'action', 'arguments', 'state', 'started', 'finished', 'database', 'username', 'progress', 'error', 'output')
return [tuple(e.get(k) for k in keys) for e in entries]
$py$;
CREATE OR REPLACE VIEW pyglite.installs AS SELECT * FROM pyglite.install_log();
GRANT SELECT ON pyglite.installs TO PUBLIC;

CREATE OR REPLACE FUNCTION pyglite.requirements_txt() RETURNS text LANGUAGE sql STABLE AS $sql$
  SELECT coalesce(string_agg(name || '==' || version, E'\\n' ORDER BY lower(name)) || E'\\n', '')
    FROM pyglite.manifest
$sql$;

CREATE OR REPLACE FUNCTION pyglite.refresh_imports(modules text[]) RETURNS text[] LANGUAGE plpython3u AS $py$
import importlib, site
${ENV_PY}
if env is None:
    return []
d = env['site']
sys.path_importer_cache.pop(d, None)
if not env.get('pth_read'):
    site.addsitedir(d)
    env['pth_read'] = True
importlib.invalidate_caches()
return [m for m in modules if m in sys.modules]
$py$;
REVOKE ALL ON FUNCTION pyglite.refresh_imports(text[]) FROM PUBLIC;

CREATE OR REPLACE PROCEDURE pyglite.install(VARIADIC requirements text[]) LANGUAGE plpgsql AS $pl$
${NOT_HERE('install')}
$pl$;
CREATE OR REPLACE PROCEDURE pyglite.uninstall(VARIADIC names text[]) LANGUAGE plpgsql AS $pl$
${NOT_HERE('uninstall')}
$pl$;
CREATE OR REPLACE PROCEDURE pyglite.sync() LANGUAGE plpgsql AS $pl$
${NOT_HERE('sync')}
$pl$;
`
