// The cross-account walkthrough as a demo: runs every step against a running mcpgate and prints
// it the way the walkthrough shows it. Usage (scripts/demo does this):
//   node tests/e2e/demo.mjs ENDPOINT IDENTITIES_FILE
// Exits 0 when every step behaved as on AWS; otherwise prints
//   demo: FAILED at step "STEP": WHAT
// on stderr and exits 1.
//
// MCPGATE_DEMO_LAMBDA_CODE, when set, replaces the Python source of the walkthrough's function
// (the tests use it to prove that a failing step fails the demo).
import { readFileSync } from 'node:fs';
import { LAMBDA_CODE, runWalkthrough } from './lib/walkthrough.mjs';

const [endpoint, identitiesFile] = process.argv.slice(2);
if (!endpoint || !identitiesFile) {
  console.error('usage: node tests/e2e/demo.mjs ENDPOINT IDENTITIES_FILE');
  process.exit(2);
}
const doc = JSON.parse(readFileSync(identitiesFile, 'utf8'));
const account = (id) => {
  const a = doc.accounts.find((x) => x.id === id);
  if (!a) throw new Error(`account ${id} is not in ${identitiesFile}`);
  const op = (a.users ?? []).find((u) => u.name === 'operator');
  if (!op) throw new Error(`account ${id} has no user "operator" in ${identitiesFile}`);
  return { id, operator: op.accessKeys[0] };
};
try {
  await runWalkthrough({
    endpoint,
    accounts: { a: account('111122223333'), b: account('444455556666') },
    log: (s) => console.log(s),
    lambdaCode: process.env.MCPGATE_DEMO_LAMBDA_CODE || LAMBDA_CODE,
  });
  console.log('\nThe walkthrough ran through: every step behaved as on AWS.');
} catch (e) {
  const step = e?.step ?? 'reading the identities file';
  console.error(`\ndemo: FAILED at step "${step}": ${e?.message ?? e}`);
  process.exit(1);
}
