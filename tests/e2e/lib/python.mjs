// The Python that runs the boto3 tests, and the environment it needs.
//
// scripts/deps installs Debian's python3-boto3 (boto3 1.26 / botocore 1.29), which predates
// AgentCore and the `endpoint_url` profile setting: AWS_DATA_PATH points it at the vendored
// AgentCore models (models/) and PYTHONPATH at scripts/python (whose sitecustomize adds the
// endpoint settings of newer botocores). A Python with a newer boto3 gets the same environment,
// which it does not need but does not mind.
//
// The boto3 tests never skip: when no Python can import boto3 with the AgentCore models, they
// fail with this module's message (run scripts/deps).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './server.mjs';

export const modelsDir = path.join(repoRoot, 'models');
export const pythonShimDir = path.join(repoRoot, 'scripts', 'python');

function prepend(dir, value) {
  return value ? `${dir}${path.delimiter}${value}` : dir;
}

/** process.env plus what boto3 needs (or `base` instead of process.env). */
export function boto3Env(base = process.env) {
  return {
    ...base,
    AWS_DATA_PATH: prepend(modelsDir, base.AWS_DATA_PATH),
    PYTHONPATH: prepend(pythonShimDir, base.PYTHONPATH),
  };
}

const PROBE = 'import boto3, botocore; s = boto3.session.Session(); '
  + 'assert {"bedrock-agentcore-control", "bedrock-agentcore"} <= set(s.get_available_services()); '
  + 'print(boto3.__version__, botocore.__version__)';

let found;

/**
 * {python, version} of the first of MCPGATE_BOTO3_PYTHON, /usr/bin/python3 (Debian's, with
 * python3-boto3) and the python3 on PATH that imports boto3 and knows the AgentCore services;
 * throws naming what was tried when none does.
 */
export function boto3Python() {
  if (found) return found;
  const candidates = [process.env.MCPGATE_BOTO3_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean);
  const tried = [];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', PROBE], { env: boto3Env(), encoding: 'utf8' });
    if (r.status === 0) {
      found = { python, version: r.stdout.trim() };
      return found;
    }
    tried.push(`${python}: ${(r.error?.message ?? r.stderr.trim().split('\n').pop()) || `exit ${r.status}`}`);
  }
  throw new Error(`no Python imports boto3 with the AgentCore models (run scripts/deps, which `
    + `installs Debian's python3-boto3); tried ${tried.join('; ')}`);
}
