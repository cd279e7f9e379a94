// PostgreSQL for end-to-end tests. scripts/test starts a throwaway server (scripts/pg-server) and
// passes its superuser URI in MCPGATE_TEST_PG; each mcpgate server under test gets a database of
// its own (or, for several nodes, one database they share), created here and dropped afterwards.
//
//   import { pgAvailable, freshDatabase } from './lib/pg.mjs';
//   test('...', { skip: pgAvailable() ? false : 'no PostgreSQL (MCPGATE_TEST_PG unset)' }, ...)
//   const db = await freshDatabase();   // { uri, name, drop() }
//   const gw = await startServer({ store: db.uri });
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The throwaway server's superuser URI, or null when the suite runs without PostgreSQL. */
export function pgAdminUri() {
  const u = process.env.MCPGATE_TEST_PG;
  return u && /^postgres(ql)?:\/\//.test(u) ? u : null;
}

export function pgAvailable() {
  return pgAdminUri() !== null;
}

/** Runs one SQL statement as the superuser with psql (no shell: the statement is one argument). */
export async function psql(sql, { uri = pgAdminUri() } = {}) {
  if (!uri) throw new Error('no PostgreSQL: MCPGATE_TEST_PG is not set');
  const { stdout } = await run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', uri, '-c', sql],
    { timeout: 30000 });
  return stdout.trim();
}

/** The admin URI with another database name (the path), keeping user, password, host, port. */
export function uriFor(dbname, admin = pgAdminUri()) {
  const u = new URL(admin);
  u.pathname = '/' + dbname;
  return u.toString();
}

/** Creates an empty database; resolves { name, uri, drop() }. drop() terminates its connections. */
export async function freshDatabase(prefix = 'e2e') {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await psql(`CREATE DATABASE ${name}`);
  return {
    name,
    uri: uriFor(name),
    drop: async () => {
      await psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`);
      await psql(`DROP DATABASE IF EXISTS ${name}`);
    },
  };
}
