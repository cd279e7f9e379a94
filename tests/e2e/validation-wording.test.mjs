// Validation errors in AWS's own words, for a sample of operations of each protocol, as the
// real SDKs see them: the AWS SDK for JavaScript v3 and boto3 (with botocore's client-side
// parameter validation off, so that the bad input reaches the server). Query (IAM, STS): code
// ValidationError, type Sender; rest-json (Lambda, AgentCore control): ValidationException,
// and for AgentCore its `reason` and `fieldList`. The wording is AWS's pattern:
//   1 validation error detected: Value 'x' at 'member' failed to satisfy constraint: Member must ...
// with `Value null` for a missing member, no value for a sensitive one, and the model's pattern.
//
// Cases where mcpgate does not answer in AWS's words yet are in WORDING_GAPS below; they run
// (and fail) only with MCPGATE_WORDING_GAPS=1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { IAMClient, CreateRoleCommand, CreateUserCommand, ListRolesCommand, ListUsersCommand } from '@aws-sdk/client-iam';
import { STSClient, AssumeRoleCommand } from '@aws-sdk/client-sts';
import { LambdaClient, CreateFunctionCommand, GetFunctionCommand, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import {
  BedrockAgentCoreControlClient, CreateGatewayCommand, CreateGatewayTargetCommand, ListGatewaysCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { defaultAccounts, startServer } from './lib/server.mjs';
import { makeClient, parseXmlError, sendSigned } from './lib/aws.mjs';
import { boto3Env, boto3Python } from './lib/python.mjs';

const A = '111122223333';
const ROLE = `arn:aws:iam::${A}:role/exec`;
const TRUST = { Version: '2012-10-17', Statement: [{ Effect: 'Allow',
  Principal: { Service: ['lambda.amazonaws.com', 'bedrock-agentcore.amazonaws.com'] }, Action: 'sts:AssumeRole' }] };
const TRUST_TEXT = JSON.stringify(TRUST);
const ZIP = 'UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=='; // an empty zip archive, base64

const PREFIX = '1 validation error detected: ';
const LAMBDA_NAME = '(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?'
  + '(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?';
const LAMBDA_NAMESPACED = '(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?'
  + '(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?';

const gwInput = (extra) => ({ name: 'gw1', roleArn: ROLE, authorizerType: 'AWS_IAM', protocolType: 'MCP', ...extra });
const fnInput = (extra) => ({ FunctionName: 'fn1', Role: ROLE, Runtime: 'python3.12', Handler: 'app.handler',
  Code: { ZipFile: ZIP }, ...extra });
const target = { mcp: { lambda: { lambdaArn: `arn:aws:lambda:us-east-1:${A}:function:fn1`,
  toolSchema: { inlinePayload: [{ name: 't', description: 'd', inputSchema: { type: 'object' } }] } } } };

/** One field failure in AWS's words, without the "1 validation error detected: " prefix. */
function field(value, member, constraint) {
  const v = value === null ? 'Value null' : value === undefined ? 'Value' : `Value '${value}'`;
  return `${v} at '${member}' failed to satisfy constraint: Member must ${constraint}`;
}

/**
 * A case: the service (iam | sts | lambda | control), the operation, its input (SDK member names;
 * Code.ZipFile in base64), and the answer: HTTP status, error code, message, and for AgentCore
 * the reason and the fieldList names.
 */
function kase(name, service, op, input, expect) {
  return { name, service, op, input, expect: { status: 400, ...expect } };
}

function iamCase(name, op, input, member, value, constraint) {
  return kase(name, 'iam', op, input, { code: 'ValidationError', message: PREFIX + field(value, member, constraint) });
}

function stsCase(name, input, member, value, constraint) {
  return kase(name, 'sts', 'AssumeRole', { RoleArn: ROLE, RoleSessionName: 'ss', ...input },
    { code: 'ValidationError', message: PREFIX + field(value, member, constraint) });
}

function lambdaCase(name, op, input, member, value, constraint) {
  return kase(name, 'lambda', op, input, { code: 'ValidationException', message: PREFIX + field(value, member, constraint) });
}

function controlCase(name, op, input, member, value, constraint) {
  return kase(name, 'control', op, input, { code: 'ValidationException', message: PREFIX + field(value, member, constraint),
    reason: 'FieldValidationFailed', fields: [{ name: member, message: field(value, member, constraint) }] });
}

const CASES = [
  iamCase('IAM CreateRole: a 65-character name', 'CreateRole',
    { RoleName: 'r'.repeat(65), AssumeRolePolicyDocument: TRUST_TEXT },
    'roleName', 'r'.repeat(65), 'have length less than or equal to 64'),
  iamCase('IAM CreateRole: a name with characters outside the pattern', 'CreateRole',
    { RoleName: 'bad name!', AssumeRolePolicyDocument: TRUST_TEXT },
    'roleName', 'bad name!', 'satisfy regular expression pattern: [\\w+=,.@-]+'),
  iamCase('IAM CreateRole: no AssumeRolePolicyDocument', 'CreateRole', { RoleName: 'r1' },
    'assumeRolePolicyDocument', null, 'not be null'),
  iamCase('IAM CreateUser: a path without its slashes', 'CreateUser', { UserName: 'u1', Path: 'noslash' },
    'path', 'noslash', 'satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)'),
  iamCase('IAM CreateUser: a path with a space', 'CreateUser', { UserName: 'u1', Path: '/a b/' },
    'path', '/a b/', 'satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)'),
  stsCase('STS AssumeRole: DurationSeconds 899', { DurationSeconds: 899 },
    'durationSeconds', '899', 'have value greater than or equal to 900'),
  stsCase('STS AssumeRole: DurationSeconds 43201', { DurationSeconds: 43201 },
    'durationSeconds', '43201', 'have value less than or equal to 43200'),
  stsCase('STS AssumeRole: a RoleArn shorter than 20', { RoleArn: 'arn:aws:iam::1:role' },
    'roleArn', 'arn:aws:iam::1:role', 'have length greater than or equal to 20'),
  stsCase('STS AssumeRole: no RoleSessionName', { RoleSessionName: undefined },
    'roleSessionName', null, 'not be null'),
  stsCase('STS AssumeRole: a RoleSessionName outside the pattern', { RoleSessionName: 'bad name!' },
    'roleSessionName', 'bad name!', 'satisfy regular expression pattern: [\\w+=,.@-]*'),
  stsCase('STS AssumeRole: a one-character RoleSessionName', { RoleSessionName: 'a' },
    'roleSessionName', 'a', 'have length greater than or equal to 2'),
  lambdaCase('Lambda CreateFunction: Timeout 0', 'CreateFunction', fnInput({ Timeout: 0 }),
    'timeout', '0', 'have value greater than or equal to 1'),
  lambdaCase('Lambda CreateFunction: Timeout 901', 'CreateFunction', fnInput({ Timeout: 901 }),
    'timeout', '901', 'have value less than or equal to 900'),
  lambdaCase('Lambda CreateFunction: MemorySize 127', 'CreateFunction', fnInput({ MemorySize: 127 }),
    'memorySize', '127', 'have value greater than or equal to 128'),
  lambdaCase('Lambda GetFunction: a name outside the pattern', 'GetFunction', { FunctionName: 'bad name!' },
    'functionName', 'bad name!', `satisfy regular expression pattern: ${LAMBDA_NAMESPACED}`),
  lambdaCase('Lambda CreateFunction: a name outside the pattern', 'CreateFunction', fnInput({ FunctionName: 'bad name!' }),
    'functionName', 'bad name!', `satisfy regular expression pattern: ${LAMBDA_NAME}`),
  // the model's constraints are checked before the role
  lambdaCase('Lambda CreateFunction: Timeout 0 with a role that does not exist', 'CreateFunction',
    fnInput({ Timeout: 0, Role: `arn:aws:iam::${A}:role/missing` }),
    'timeout', '0', 'have value greater than or equal to 1'),
  lambdaCase('Lambda CreateFunction: MemorySize 127 with a role that does not exist', 'CreateFunction',
    fnInput({ MemorySize: 127, Role: `arn:aws:iam::${A}:role/missing` }),
    'memorySize', '127', 'have value greater than or equal to 128'),
  // Lambda's own bound, above the model's range, is checked before the role too
  lambdaCase('Lambda CreateFunction: Timeout 901 with a role that does not exist', 'CreateFunction',
    fnInput({ Timeout: 901, Role: `arn:aws:iam::${A}:role/missing` }),
    'timeout', '901', 'have value less than or equal to 900'),
  controlCase('AgentCore CreateGateway: a name outside the pattern', 'CreateGateway', gwInput({ name: 'bad name!' }),
    'name', 'bad name!', 'satisfy regular expression pattern: ([0-9a-zA-Z][-]?){1,48}'),
  controlCase('AgentCore CreateGateway: no roleArn', 'CreateGateway', gwInput({ roleArn: undefined }),
    'roleArn', null, 'not be null'),
  controlCase('AgentCore CreateGateway: a protocolType outside the enum', 'CreateGateway', gwInput({ protocolType: 'XYZ' }),
    'protocolType', 'XYZ', 'satisfy enum value set: [MCP]'),
  // the target name is a sensitive member: its value is not repeated
  controlCase('AgentCore CreateGatewayTarget: a name outside the pattern (sensitive)', 'CreateGatewayTarget',
    { gatewayIdentifier: 'gw1-abcdefghij', name: 'bad name!', targetConfiguration: target },
    'name', undefined, 'satisfy regular expression pattern: ([0-9a-zA-Z][-]?){1,100}'),
  controlCase('AgentCore ListGateways: maxResults 0', 'ListGateways', { maxResults: 0 },
    'maxResults', '0', 'have value greater than or equal to 1'),
  controlCase('AgentCore ListGateways: maxResults 1001', 'ListGateways', { maxResults: 1001 },
    'maxResults', '1001', 'have value less than or equal to 1000'),
];

// Where mcpgate's answer differs from AWS's today (each with what it says instead).
const WORDING_GAPS = [
];

const JS = {
  iam: { Client: IAMClient, commands: { CreateRole: CreateRoleCommand, CreateUser: CreateUserCommand } },
  sts: { Client: STSClient, commands: { AssumeRole: AssumeRoleCommand } },
  lambda: { Client: LambdaClient, commands: { CreateFunction: CreateFunctionCommand, GetFunction: GetFunctionCommand } },
  control: { Client: BedrockAgentCoreControlClient,
    commands: { CreateGateway: CreateGatewayCommand, CreateGatewayTarget: CreateGatewayTargetCommand,
      ListGateways: ListGatewaysCommand } },
};
const BOTO3 = { iam: 'iam', sts: 'sts', lambda: 'lambda', control: 'bedrock-agentcore-control' };

let gw;
let key;

before(async () => {
  const accounts = defaultAccounts();
  accounts[0].roles = { exec: { name: 'exec', assumeRolePolicyDocument: TRUST } };
  gw = await startServer({ accounts });
  key = gw.accounts[0].root;
});

after(async () => {
  await gw?.stop();
});

function jsInput(c) {
  const input = structuredClone(c.input);
  for (const k of Object.keys(input)) if (input[k] === undefined) delete input[k];
  if (input.Code?.ZipFile) input.Code.ZipFile = Buffer.from(input.Code.ZipFile, 'base64');
  return input;
}

/** {status, code, message, type, reason, fields} of a case sent with the JS SDK. */
async function viaJs(c) {
  const { Client, commands } = JS[c.service];
  const client = makeClient(Client, gw, key);
  try {
    await client.send(new commands[c.op](jsInput(c)));
    return { status: 200 };
  } catch (e) {
    return { status: e.$metadata?.httpStatusCode, code: e.name, message: e.message, type: e.Type,
      reason: e.reason, fields: e.fieldList };
  } finally {
    client.destroy();
  }
}

// Runs the cases in one boto3 process; prints one JSON answer per case.
const BOTO3_SCRIPT = `
import base64, json, sys
import boto3
from botocore.config import Config
from botocore import xform_name
from botocore.exceptions import ClientError
req = json.load(sys.stdin)
s = boto3.session.Session(region_name="us-east-1", aws_access_key_id=req["key"][0], aws_secret_access_key=req["key"][1])
cfg = Config(parameter_validation=False, retries={"max_attempts": 1})
clients = {}
out = []
for c in req["cases"]:
    name = c["client"]
    if name not in clients:
        clients[name] = s.client(name, endpoint_url=req["endpoint"], config=cfg)
    cl = clients[name]
    args = {k: v for k, v in c["input"].items() if v is not None}
    if "Code" in args and "ZipFile" in args["Code"]:
        args["Code"] = dict(args["Code"], ZipFile=base64.b64decode(args["Code"]["ZipFile"]))
    method = getattr(cl, xform_name(c["op"]))
    try:
        method(**args)
        out.append({"status": 200})
    except ClientError as e:
        r = e.response
        err = r.get("Error", {})
        out.append({"status": r.get("ResponseMetadata", {}).get("HTTPStatusCode"), "code": err.get("Code"),
                    "message": err.get("Message"), "type": err.get("Type"),
                    "reason": r.get("reason", err.get("reason")), "fields": r.get("fieldList", err.get("fieldList"))})
print(json.dumps(out))
`;

let boto3Answers;

/** process.env without the caller's AWS settings (profiles, endpoints, keys). */
function cleanEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
}

/** The boto3 answers of `cases`, in order (one Python process for all of them). */
function viaBoto3(cases) {
  const { python } = boto3Python();
  const req = {
    endpoint: gw.endpoint, key: [key.accessKeyId, key.secretAccessKey],
    cases: cases.map((c) => ({ client: BOTO3[c.service], op: c.op,
      input: JSON.parse(JSON.stringify(c.input, (k, v) => (v === undefined ? null : v))) })),
  };
  const r = spawnSync(python, ['-c', BOTO3_SCRIPT], { input: JSON.stringify(req), encoding: 'utf8',
    env: boto3Env({ ...cleanEnv(), AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' }),
    timeout: 60000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function check(c, got, client) {
  const e = c.expect;
  const where = `${c.name} (${client})`;
  assert.equal(got.status, e.status, `${where}: HTTP status; message: ${got.message}`);
  assert.equal(got.code, e.code, `${where}: error code`);
  assert.equal(got.message, e.message, `${where}: message`);
  if (c.service === 'iam' || c.service === 'sts') assert.equal(got.type, 'Sender', `${where}: error type`);
  if (e.reason) {
    assert.equal(got.reason, e.reason, `${where}: reason`);
    assert.deepEqual(got.fields, e.fields, `${where}: fieldList`);
  }
}

describe('validation errors in AWS words: AWS SDK for JavaScript v3', () => {
  for (const c of CASES) {
    test(c.name, async () => check(c, await viaJs(c), 'JS SDK'));
  }
});

describe('validation errors in AWS words: boto3', () => {
  for (const [i, c] of CASES.entries()) {
    test(c.name, () => {
      boto3Answers ??= viaBoto3(CASES);
      check(c, boto3Answers[i], 'boto3');
    });
  }
});

const XML_ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const xmlUnescape = (t) => t.replace(/&(amp|lt|gt|quot|apos);/g, (_, e) => XML_ENTITIES[e]);

describe('validation errors on the wire', () => {
  test('query (IAM): an XML ErrorResponse of type Sender, code ValidationError', async () => {
    const res = await sendSigned(gw, key, { service: 'iam',
      body: `Action=CreateRole&Version=2010-05-08&RoleName=${'r'.repeat(65)}` +
        `&AssumeRolePolicyDocument=${encodeURIComponent(TRUST_TEXT)}` });
    assert.equal(res.status, 400);
    assert.match(res.text, /^(<\?xml[^>]*>\s*)?<ErrorResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/">/);
    const err = parseXmlError(res.text);
    assert.equal(err.type, 'Sender');
    assert.equal(err.code, 'ValidationError');
    assert.equal(xmlUnescape(err.message),
      PREFIX + field('r'.repeat(65), 'roleName', 'have length less than or equal to 64'));
    assert.ok(err.requestId);
  });

  test('rest-json (Lambda): x-amzn-errortype ValidationException and a JSON message', async () => {
    const res = await sendSigned(gw, key, { service: 'lambda', method: 'GET',
      path: '/2015-03-31/functions/bad%20name%21' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('x-amzn-errortype')?.split(':')[0], 'ValidationException');
    assert.match(res.headers.get('content-type') ?? '', /json/);
    const body = JSON.parse(res.text);
    assert.equal(body.message ?? body.Message,
      PREFIX + field('bad name!', 'functionName', `satisfy regular expression pattern: ${LAMBDA_NAMESPACED}`));
  });

  test('rest-json (AgentCore control): the message, reason and fieldList in the JSON body', async () => {
    const res = await sendSigned(gw, key, { service: 'bedrock-agentcore', method: 'POST', path: '/gateways/',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify(gwInput({ protocolType: 'XYZ' })) });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('x-amzn-errortype')?.split(':')[0], 'ValidationException');
    const detail = field('XYZ', 'protocolType', 'satisfy enum value set: [MCP]');
    const { message, reason, fieldList } = JSON.parse(res.text);
    assert.deepEqual({ message, reason, fieldList }, { message: PREFIX + detail, reason: 'FieldValidationFailed',
      fieldList: [{ name: 'protocolType', message: detail }] });
  });
});

if (process.env.MCPGATE_WORDING_GAPS) {
  describe('aws wording gaps', () => {
    let answers;
    for (const [i, c] of WORDING_GAPS.entries()) {
      test(`${c.name} (JS SDK)`, async () => check(c, await viaJs(c), 'JS SDK'));
      test(`${c.name} (boto3)`, () => {
        answers ??= viaBoto3(WORDING_GAPS);
        check(c, answers[i], 'boto3');
      });
    }
  });
}

test('nothing was created by the refused requests, and the server stops cleanly', async () => {
  const iam = makeClient(IAMClient, gw, key);
  assert.deepEqual((await iam.send(new ListRolesCommand({}))).Roles.map((r) => r.RoleName), ['exec']);
  assert.deepEqual((await iam.send(new ListUsersCommand({}))).Users.map((u) => u.UserName), ['dev']);
  iam.destroy();
  const lambda = makeClient(LambdaClient, gw, key);
  assert.deepEqual((await lambda.send(new ListFunctionsCommand({}))).Functions, []);
  lambda.destroy();
  const control = makeClient(BedrockAgentCoreControlClient, gw, key);
  assert.deepEqual((await control.send(new ListGatewaysCommand({}))).items, []);
  control.destroy();
  const st = await gw.stop();
  assert.equal(st.code, 0, gw.stderr().slice(-2000));
});
