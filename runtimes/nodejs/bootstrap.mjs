// mcpgate's Node.js runtime for Lambda functions.
//
// Speaks the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API) with node:http only: loads the handler
// named by _HANDLER ("file.export", file relative to LAMBDA_TASK_ROOT: .js, .mjs or .cjs), then
// loops on invocation/next -> handler -> response / error. Handlers may be async functions,
// return promises, or take a callback (event, context, callback).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const BASE = '/2018-06-01/runtime';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(method, p, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const h = { ...headers };
    if (data) {
      h['Content-Type'] = 'application/json';
      h['Content-Length'] = data.length;
    }
    const req = http.request({ host, port: Number(port), method, path: BASE + p, headers: h, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

function errorDoc(err, type) {
  if (!(err instanceof Error)) {
    return { errorType: type || 'string', errorMessage: typeof err === 'string' ? err : JSON.stringify(err), trace: [] };
  }
  return {
    errorType: type || err.name || 'Error',
    errorMessage: err.message,
    trace: String(err.stack || '').split('\n'),
  };
}

class InitError extends Error {
  constructor(type, message) {
    super(message);
    this.errorType = type;
  }
}

async function loadHandler() {
  const spec = process.env._HANDLER || '';
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const dot = spec.lastIndexOf('.');
  if (dot <= 0) throw new InitError('Runtime.MalformedHandlerName', `Bad handler ${spec}`);
  const modName = spec.slice(0, dot);
  const fnPath = spec.slice(dot + 1).split('.');
  let file = null;
  for (const ext of ['.js', '.mjs', '.cjs']) {
    const f = path.resolve(root, modName + ext);
    if (fs.existsSync(f)) { file = f; break; }
  }
  if (!file) {
    throw new InitError('Runtime.ImportModuleError',
      `Error: Cannot find module '${modName}'\nRequire stack:\n- ${process.argv[1]}`);
  }
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (e) {
    if (e instanceof SyntaxError) throw new InitError('Runtime.UserCodeSyntaxError', `${e.name}: ${e.message}`);
    throw new InitError('Runtime.ImportModuleError', `${e.name}: ${e.message}`);
  }
  let fn = mod;
  for (const part of fnPath) fn = fn == null ? undefined : (fn[part] ?? (fn === mod && mod.default ? mod.default[part] : undefined));
  if (typeof fn !== 'function') {
    throw new InitError('Runtime.HandlerNotFound', `${spec} is undefined or not exported`);
  }
  return fn;
}

function makeContext(h) {
  const deadline = Number(h['lambda-runtime-deadline-ms'] || 0);
  const cc = h['lambda-runtime-client-context'];
  const ident = h['lambda-runtime-cognito-identity'];
  const env = process.env;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: h['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: h['lambda-runtime-aws-request-id'],
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: cc ? JSON.parse(cc) : undefined,
    identity: ident ? JSON.parse(ident) : undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

function runHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err, value) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err); else resolve(value);
    };
    context.done = finish;
    context.succeed = (v) => finish(null, v);
    context.fail = (e) => finish(e ?? new Error('handled'));
    try {
      const r = handler.length >= 3 ? handler(event, context, finish) : handler(event, context);
      if (r && typeof r.then === 'function') r.then((v) => finish(null, v), (e) => finish(e ?? new Error('rejected')));
      else if (handler.length < 3) finish(null, r);
    } catch (e) {
      finish(e);
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler();
  } catch (e) {
    const doc = e instanceof InitError
      ? { errorType: e.errorType, errorMessage: e.message, trace: [] }
      : errorDoc(e, 'Runtime.ImportModuleError');
    console.error(`${new Date().toISOString()}\tundefined\tERROR\t${JSON.stringify(doc)}`);
    await request('POST', '/init/error', JSON.stringify(doc), { 'Lambda-Runtime-Function-Error-Type': doc.errorType });
    process.exit(1);
  }
  for (;;) {
    let next;
    try {
      next = await request('GET', '/invocation/next');
    } catch (e) {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    const h = next.headers;
    const id = h['lambda-runtime-aws-request-id'];
    if (h['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = h['lambda-runtime-trace-id'];
    let result;
    try {
      const event = next.body.length ? JSON.parse(next.body.toString('utf8')) : {};
      result = await runHandler(handler, event, makeContext(h));
    } catch (e) {
      const doc = errorDoc(e);
      console.error(`${new Date().toISOString()}\t${id}\tERROR\tInvoke Error \t${JSON.stringify(doc)}`);
      await request('POST', `/invocation/${id}/error`, JSON.stringify(doc), { 'Lambda-Runtime-Function-Error-Type': doc.errorType });
      continue;
    }
    const out = result === undefined ? 'null' : JSON.stringify(result);
    await request('POST', `/invocation/${id}/response`, out);
  }
}

main();
