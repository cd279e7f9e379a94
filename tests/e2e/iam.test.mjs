// The IAM API and STS AssumeRole against the real binary, with @aws-sdk/client-iam and
// @aws-sdk/client-sts (and boto3 when python3 can import it): roles, users, policies, tags,
// pagination, cross-account AssumeRole, session policies, authorization of IAM calls.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  AttachRolePolicyCommand, CreateAccessKeyCommand, CreatePolicyCommand, CreatePolicyVersionCommand,
  CreateRoleCommand, CreateUserCommand, DeleteAccessKeyCommand, DeletePolicyCommand,
  DeleteRoleCommand, DeleteRolePolicyCommand, DeleteUserCommand, DeleteUserPolicyCommand, DetachRolePolicyCommand,
  GetPolicyCommand, GetPolicyVersionCommand, GetRoleCommand, GetRolePolicyCommand, GetUserCommand,
  IAMClient, ListAccessKeysCommand, ListAttachedRolePoliciesCommand, ListPoliciesCommand,
  ListPolicyVersionsCommand, ListRolePoliciesCommand, DeletePolicyVersionCommand, ListRolesCommand, ListRoleTagsCommand,
  ListUsersCommand, PutRolePolicyCommand, PutUserPolicyCommand, GetUserPolicyCommand,
  TagRoleCommand, UntagRoleCommand, UpdateAssumeRolePolicyCommand, UpdateRoleCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  BedrockAgentCoreControlClient, CreateGatewayCommand, PutResourcePolicyCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { defaultAccounts, startServer } from './lib/server.mjs';
import { makeClient, parseXmlError, sendSigned, xmlText } from './lib/aws.mjs';
import { boto3Env, boto3Python } from './lib/python.mjs';

const A = '111122223333';
const B = '444455556666';

let gw;
let acctA;
let acctB;

const iam = (key) => makeClient(IAMClient, gw, key);
const sts = (key) => makeClient(STSClient, gw, key);

function trust(principal, extra = {}) {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole', ...extra }],
  });
}

function allow(action, resource = '*') {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: resource }] });
}

async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('the call succeeded but should have been refused');
}

function credsOf(out) {
  return {
    accessKeyId: out.Credentials.AccessKeyId,
    secretAccessKey: out.Credentials.SecretAccessKey,
    sessionToken: out.Credentials.SessionToken,
  };
}

before(async () => {
  const accounts = defaultAccounts();
  // B's dev may assume roles; B's `plain` user has no policy at all.
  accounts[1].users.dev.inlinePolicies = {
    assume: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] },
  };
  const extra = defaultAccounts()[1].users.dev;
  accounts[1].users.plain = { ...extra, name: 'plain', arn: `arn:aws:iam::${B}:user/plain` };
  // A's dev may assume roles in its own account and read its own user.
  accounts[0].users.dev.inlinePolicies = {
    assume: {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' },
        { Effect: 'Allow', Action: 'iam:GetUser', Resource: 'arn:aws:iam::*:user/${aws:username}' },
      ],
    },
  };
  gw = await startServer({ accounts });
  [acctA, acctB] = gw.accounts;
});

after(async () => {
  if (gw) await gw.stop();
});

describe('roles', () => {
  test('CreateRole, GetRole: ids, ARNs with paths, URL-encoded trust policy', async () => {
    const doc = trust({ AWS: `arn:aws:iam::${B}:root` });
    const out = await iam(acctA.root).send(new CreateRoleCommand({
      RoleName: 'CrossRole', Path: '/team/', AssumeRolePolicyDocument: doc, Description: 'cross account',
    }));
    assert.match(out.Role.RoleId, /^AROA[A-Z2-7]{17}$/);
    assert.equal(out.Role.Arn, `arn:aws:iam::${A}:role/team/CrossRole`);
    assert.equal(out.Role.Path, '/team/');
    assert.equal(out.Role.MaxSessionDuration, 3600);
    // IAM returns policy documents URL-encoded (RFC 3986); the SDK hands them over as they are.
    assert.equal(decodeURIComponent(out.Role.AssumeRolePolicyDocument), doc);
    const got = await iam(acctA.root).send(new GetRoleCommand({ RoleName: 'CrossRole' }));
    assert.equal(got.Role.RoleId, out.Role.RoleId);
    assert.equal(got.Role.Description, 'cross account');
    assert.ok(got.Role.CreateDate instanceof Date);
  });

  test('CreateRole twice: EntityAlreadyExists (409)', async () => {
    const e = await failure(iam(acctA.root).send(new CreateRoleCommand({
      RoleName: 'CrossRole', AssumeRolePolicyDocument: trust({ AWS: A }),
    })));
    assert.match(e.name, /EntityAlreadyExists/);
    assert.equal(e.$metadata.httpStatusCode, 409);
    assert.equal(e.message, 'Role with name CrossRole already exists.');
  });

  test('GetRole of an unknown role: NoSuchEntity (404)', async () => {
    const e = await failure(iam(acctA.root).send(new GetRoleCommand({ RoleName: 'Nope' })));
    assert.match(e.name, /NoSuchEntity/);
    assert.equal(e.$metadata.httpStatusCode, 404);
    assert.equal(e.message, 'The role with name Nope cannot be found.');
  });

  test('malformed policy documents of every kind: MalformedPolicyDocument', async () => {
    const c = iam(acctA.root);
    const bad = [
      () => c.send(new CreateRoleCommand({ RoleName: 'BadTrust', AssumeRolePolicyDocument: '{"Version":"2012-10-17"' })),
      () => c.send(new CreateRoleCommand({ RoleName: 'BadTrust', AssumeRolePolicyDocument: allow('s3:*') })),
      () => c.send(new PutRolePolicyCommand({ RoleName: 'CrossRole', PolicyName: 'p', PolicyDocument: '{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}' })),
      () => c.send(new PutRolePolicyCommand({ RoleName: 'CrossRole', PolicyName: 'p', PolicyDocument: trust({ AWS: A }) })),
      () => c.send(new CreatePolicyCommand({ PolicyName: 'bad', PolicyDocument: '[]' })),
    ];
    for (const call of bad) {
      const e = await failure(call());
      assert.match(e.name, /MalformedPolicyDocument/, e.message);
      assert.equal(e.$metadata.httpStatusCode, 400);
      assert.ok(e.message.length > 5);
    }
    const roles = await c.send(new ListRolesCommand({}));
    assert.ok(!roles.Roles.some((r) => r.RoleName === 'BadTrust'));
  });

  test('a policy that is not JSON: MalformedPolicyDocument with the line, column and reason', async () => {
    const c = iam(acctA.root);
    const e = await failure(c.send(new CreateRoleCommand({ RoleName: 'BadJson', AssumeRolePolicyDocument: '{"Version":"2012-10-17"' })));
    assert.equal(e.name, 'MalformedPolicyDocumentException');
    assert.equal(e.message, "Syntax errors in policy. (line 1, column 23: '}' expected near end of file)");
    const e2 = await failure(c.send(new PutRolePolicyCommand({
      RoleName: 'CrossRole', PolicyName: 'p',
      PolicyDocument: '{"Version": "2012-10-17",\n "Statement": [{"Effect": "Allow", "Action": "s3:*" "Resource": "*"}]}',
    })));
    assert.equal(e2.name, 'MalformedPolicyDocumentException');
    assert.equal(e2.message, 'Syntax errors in policy. (line 2, column 62: \'}\' expected near \'"Resource"\')');
  });

  test('inline role policy: put, get (URL-encoded), list, delete', async () => {
    const c = iam(acctA.root);
    const doc = allow('s3:GetObject', 'arn:aws:s3:::bucket/*');
    await c.send(new PutRolePolicyCommand({ RoleName: 'CrossRole', PolicyName: 'read', PolicyDocument: doc }));
    const got = await c.send(new GetRolePolicyCommand({ RoleName: 'CrossRole', PolicyName: 'read' }));
    assert.equal(got.RoleName, 'CrossRole');
    assert.equal(got.PolicyName, 'read');
    assert.notEqual(got.PolicyDocument, doc, 'documents come back URL-encoded');
    assert.equal(decodeURIComponent(got.PolicyDocument), doc);
    const list = await c.send(new ListRolePoliciesCommand({ RoleName: 'CrossRole' }));
    assert.deepEqual(list.PolicyNames, ['read']);
    assert.equal(list.IsTruncated, false);
    await c.send(new DeleteRolePolicyCommand({ RoleName: 'CrossRole', PolicyName: 'read' }));
    const e = await failure(c.send(new GetRolePolicyCommand({ RoleName: 'CrossRole', PolicyName: 'read' })));
    assert.match(e.name, /NoSuchEntity/);
  });

  test('DeleteRole with an attached or inline policy: DeleteConflict (409)', async () => {
    const c = iam(acctA.root);
    await c.send(new CreateRoleCommand({ RoleName: 'Attached', AssumeRolePolicyDocument: trust({ AWS: A }) }));
    await c.send(new AttachRolePolicyCommand({ RoleName: 'Attached', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }));
    const att = await c.send(new ListAttachedRolePoliciesCommand({ RoleName: 'Attached' }));
    assert.deepEqual(att.AttachedPolicies, [{ PolicyName: 'AdministratorAccess', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }]);
    let e = await failure(c.send(new DeleteRoleCommand({ RoleName: 'Attached' })));
    assert.match(e.name, /DeleteConflict/);
    assert.equal(e.$metadata.httpStatusCode, 409);
    assert.equal(e.message, 'Cannot delete entity, must detach all policies first.');
    await c.send(new DetachRolePolicyCommand({ RoleName: 'Attached', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }));
    await c.send(new PutRolePolicyCommand({ RoleName: 'Attached', PolicyName: 'x', PolicyDocument: allow('s3:*') }));
    e = await failure(c.send(new DeleteRoleCommand({ RoleName: 'Attached' })));
    assert.equal(e.message, 'Cannot delete entity, must delete policies first.');
    await c.send(new DeleteRolePolicyCommand({ RoleName: 'Attached', PolicyName: 'x' }));
    await c.send(new DeleteRoleCommand({ RoleName: 'Attached' }));
    e = await failure(c.send(new GetRoleCommand({ RoleName: 'Attached' })));
    assert.match(e.name, /NoSuchEntity/);
  });

  test('attaching an unknown policy: NoSuchEntity with IAM wording', async () => {
    const arn = `arn:aws:iam::${A}:policy/DoesNotExist`;
    const e = await failure(iam(acctA.root).send(new AttachRolePolicyCommand({ RoleName: 'CrossRole', PolicyArn: arn })));
    assert.match(e.name, /NoSuchEntity/);
    assert.equal(e.message, `Policy ${arn} does not exist or is not attachable.`);
  });

  test('ListRoles pages with MaxItems and Marker', async () => {
    const c = iam(acctB.root);
    for (const n of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']) {
      await c.send(new CreateRoleCommand({ RoleName: n, Path: '/paged/', AssumeRolePolicyDocument: trust({ AWS: B }) }));
    }
    const seen = [];
    let marker;
    let pages = 0;
    do {
      const out = await c.send(new ListRolesCommand({ PathPrefix: '/paged/', MaxItems: 2, Marker: marker }));
      pages++;
      assert.ok(out.Roles.length <= 2);
      seen.push(...out.Roles.map((r) => r.RoleName));
      marker = out.IsTruncated ? out.Marker : undefined;
      if (out.IsTruncated) assert.ok(out.Marker);
    } while (marker);
    assert.equal(pages, 3);
    assert.deepEqual(seen, ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']);
    const e = await failure(c.send(new ListRolesCommand({ MaxItems: 0 })));
    assert.match(e.name, /ValidationError/);
  });

  test('tags round trip: TagRole, ListRoleTags, UntagRole, GetRole', async () => {
    const c = iam(acctA.root);
    await c.send(new TagRoleCommand({ RoleName: 'CrossRole', Tags: [{ Key: 'team', Value: 'agents' }, { Key: 'env', Value: 'dev' }] }));
    await c.send(new TagRoleCommand({ RoleName: 'CrossRole', Tags: [{ Key: 'env', Value: 'prod' }] }));
    let out = await c.send(new ListRoleTagsCommand({ RoleName: 'CrossRole' }));
    assert.deepEqual(out.Tags, [{ Key: 'team', Value: 'agents' }, { Key: 'env', Value: 'prod' }]);
    await c.send(new UntagRoleCommand({ RoleName: 'CrossRole', TagKeys: ['team'] }));
    out = await c.send(new ListRoleTagsCommand({ RoleName: 'CrossRole' }));
    assert.deepEqual(out.Tags, [{ Key: 'env', Value: 'prod' }]);
    const role = await c.send(new GetRoleCommand({ RoleName: 'CrossRole' }));
    assert.deepEqual(role.Role.Tags, [{ Key: 'env', Value: 'prod' }]);
  });

  test('UpdateRole changes MaxSessionDuration; out-of-range values are refused', async () => {
    const c = iam(acctA.root);
    await c.send(new UpdateRoleCommand({ RoleName: 'CrossRole', MaxSessionDuration: 7200 }));
    const role = await c.send(new GetRoleCommand({ RoleName: 'CrossRole' }));
    assert.equal(role.Role.MaxSessionDuration, 7200);
    const e = await failure(c.send(new UpdateRoleCommand({ RoleName: 'CrossRole', MaxSessionDuration: 100 })));
    assert.match(e.name, /ValidationError/);
  });
});

describe('users, access keys and managed policies', () => {
  test('CreateUser, GetUser (self and by name), ListUsers', async () => {
    const c = iam(acctA.root);
    const out = await c.send(new CreateUserCommand({ UserName: 'builder', Path: '/ci/' }));
    assert.match(out.User.UserId, /^AIDA[A-Z2-7]{17}$/);
    assert.equal(out.User.Arn, `arn:aws:iam::${A}:user/ci/builder`);
    const me = await iam(acctA.users.dev).send(new GetUserCommand({}));
    assert.equal(me.User.UserName, 'dev');
    const root = await c.send(new GetUserCommand({}));
    assert.equal(root.User.Arn, `arn:aws:iam::${A}:root`);
    const list = await c.send(new ListUsersCommand({}));
    assert.deepEqual(list.Users.map((u) => u.UserName).sort(), ['builder', 'dev']);
  });

  test('access keys: create (AKIA + 40-char secret), use, list, delete', async () => {
    const c = iam(acctA.root);
    const key = await c.send(new CreateAccessKeyCommand({ UserName: 'builder' }));
    assert.match(key.AccessKey.AccessKeyId, /^AKIA[A-Z2-7]{16}$/);
    assert.equal(key.AccessKey.SecretAccessKey.length, 40);
    assert.equal(key.AccessKey.Status, 'Active');
    const who = await sts({ accessKeyId: key.AccessKey.AccessKeyId, secretAccessKey: key.AccessKey.SecretAccessKey })
      .send(new GetCallerIdentityCommand({}));
    assert.equal(who.Arn, `arn:aws:iam::${A}:user/ci/builder`);
    const list = await c.send(new ListAccessKeysCommand({ UserName: 'builder' }));
    assert.equal(list.AccessKeyMetadata.length, 1);
    const e = await failure(c.send(new DeleteUserCommand({ UserName: 'builder' })));
    assert.equal(e.message, 'Cannot delete entity, must delete access keys first.');
    await c.send(new DeleteAccessKeyCommand({ UserName: 'builder', AccessKeyId: key.AccessKey.AccessKeyId }));
    const gone = await failure(sts({ accessKeyId: key.AccessKey.AccessKeyId, secretAccessKey: key.AccessKey.SecretAccessKey })
      .send(new GetCallerIdentityCommand({})));
    assert.equal(gone.name, 'InvalidClientTokenId');
  });

  test('inline user policy: put, get; over 2048 characters: LimitExceeded', async () => {
    const c = iam(acctA.root);
    const doc = allow('s3:ListBucket');
    await c.send(new PutUserPolicyCommand({ UserName: 'builder', PolicyName: 'list', PolicyDocument: doc }));
    const got = await c.send(new GetUserPolicyCommand({ UserName: 'builder', PolicyName: 'list' }));
    assert.equal(decodeURIComponent(got.PolicyDocument), doc);
    const big = allow(Array.from({ length: 150 }, (_, i) => `s3:Action${i}`));
    const e = await failure(c.send(new PutUserPolicyCommand({ UserName: 'builder', PolicyName: 'big', PolicyDocument: big })));
    assert.match(e.name, /LimitExceeded/);
    assert.equal(e.$metadata.httpStatusCode, 409);
  });

  test('customer managed policies: create, versions, get, list, delete', async () => {
    const c = iam(acctA.root);
    const v1 = allow('lambda:InvokeFunction');
    const out = await c.send(new CreatePolicyCommand({ PolicyName: 'Invoke', Path: '/app/', PolicyDocument: v1, Description: 'invoke' }));
    assert.match(out.Policy.PolicyId, /^ANPA[A-Z2-7]{17}$/);
    assert.equal(out.Policy.Arn, `arn:aws:iam::${A}:policy/app/Invoke`);
    assert.equal(out.Policy.DefaultVersionId, 'v1');
    const arn = out.Policy.Arn;
    const v2 = allow('lambda:*');
    const nv = await c.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: v2, SetAsDefault: true }));
    assert.equal(nv.PolicyVersion.VersionId, 'v2');
    assert.equal(nv.PolicyVersion.IsDefaultVersion, true);
    const got = await c.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v2' }));
    assert.equal(decodeURIComponent(got.PolicyVersion.Document), v2);
    const versions = await c.send(new ListPolicyVersionsCommand({ PolicyArn: arn }));
    assert.deepEqual(versions.Versions.map((v) => v.VersionId), ['v2', 'v1']);
    const pol = await c.send(new GetPolicyCommand({ PolicyArn: arn }));
    assert.equal(pol.Policy.DefaultVersionId, 'v2');
    const local = await c.send(new ListPoliciesCommand({ Scope: 'Local' }));
    assert.deepEqual(local.Policies.map((p) => p.PolicyName), ['Invoke']);
    const e = await failure(c.send(new DeletePolicyCommand({ PolicyArn: arn })));
    assert.match(e.name, /DeleteConflict/);
  });

  test('a change to a customer managed policy reaches the roles that attach it, and only its account', async () => {
    const c = iam(acctA.root);
    await c.send(new CreateRoleCommand({ RoleName: 'Managed', AssumeRolePolicyDocument: trust({ AWS: `arn:aws:iam::${A}:user/dev` }) }));
    const made = await c.send(new CreatePolicyCommand({ PolicyName: 'ReadRoles', Path: '/m/', PolicyDocument: allow('iam:ListRoles') }));
    await c.send(new AttachRolePolicyCommand({ RoleName: 'Managed', PolicyArn: made.Policy.Arn }));
    const session = async () => iam(credsOf(await sts(acctA.users.dev).send(new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${A}:role/Managed`, RoleSessionName: 'mm' }))));
    let s = await session();
    await s.send(new ListRolesCommand({}));
    assert.equal((await failure(s.send(new GetRoleCommand({ RoleName: 'Managed' })))).name, 'AccessDenied');
    // a new default version: the role's decisions follow at once
    await c.send(new CreatePolicyVersionCommand({ PolicyArn: made.Policy.Arn, PolicyDocument: allow('iam:GetRole'), SetAsDefault: true }));
    assert.equal((await s.send(new GetRoleCommand({ RoleName: 'Managed' }))).Role.RoleName, 'Managed');
    assert.equal((await failure(s.send(new ListRolesCommand({})))).name, 'AccessDenied');
    // another account's policy of the same name changes nothing here
    await iam(acctB.root).send(new CreatePolicyVersionCommand({ PolicyArn: made.Policy.Arn, PolicyDocument: allow('iam:*'), SetAsDefault: true }))
      .catch(() => {});
    await iam(acctB.root).send(new CreatePolicyCommand({ PolicyName: 'ReadRoles', Path: '/m/', PolicyDocument: allow('iam:*') }));
    assert.equal((await failure(s.send(new ListRolesCommand({})))).name, 'AccessDenied');
    // gone and made again under another path: the attached ARN no longer names it
    await c.send(new DetachRolePolicyCommand({ RoleName: 'Managed', PolicyArn: made.Policy.Arn }));
    await c.send(new DeletePolicyVersionCommand({ PolicyArn: made.Policy.Arn, VersionId: 'v1' }));
    await c.send(new DeletePolicyCommand({ PolicyArn: made.Policy.Arn }));
    s = await session();
    assert.equal((await failure(s.send(new GetRoleCommand({ RoleName: 'Managed' })))).name, 'AccessDenied');
    const other = await c.send(new CreatePolicyCommand({ PolicyName: 'ReadRoles', Path: '/n/', PolicyDocument: allow('iam:GetRole') }));
    await c.send(new AttachRolePolicyCommand({ RoleName: 'Managed', PolicyArn: other.Policy.Arn }));
    assert.equal((await s.send(new GetRoleCommand({ RoleName: 'Managed' }))).Role.RoleName, 'Managed');
  });

  test('AWS managed policies are listed and served with their published documents', async () => {
    const c = iam(acctA.root);
    const all = await c.send(new ListPoliciesCommand({ Scope: 'AWS', MaxItems: 1000 }));
    const names = all.Policies.map((p) => p.PolicyName);
    for (const n of ['AdministratorAccess', 'PowerUserAccess', 'IAMFullAccess', 'AWSLambdaBasicExecutionRole',
      'AWSLambda_FullAccess', 'AWSLambdaRole', 'BedrockAgentCoreFullAccess']) {
      assert.ok(names.includes(n), `${n} missing from ListPolicies`);
    }
    const admin = await c.send(new GetPolicyCommand({ PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }));
    assert.equal(admin.Policy.PolicyId, 'ANPAIWMBCKSKIEE64ZLYK');
    const basic = 'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';
    const p = await c.send(new GetPolicyCommand({ PolicyArn: basic }));
    assert.equal(p.Policy.Path, '/service-role/');
    const v = await c.send(new GetPolicyVersionCommand({ PolicyArn: basic, VersionId: p.Policy.DefaultVersionId }));
    const doc = JSON.parse(decodeURIComponent(v.PolicyVersion.Document));
    assert.deepEqual(doc.Statement[0].Action, ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents']);
  });
});

describe('STS AssumeRole', () => {
  const crossArn = `arn:aws:iam::${A}:role/team/CrossRole`;

  test('a user of B with sts:AssumeRole assumes a role of A that trusts B', async () => {
    const out = await sts(acctB.users.dev).send(new AssumeRoleCommand({ RoleArn: crossArn, RoleSessionName: 'alice@example' }));
    assert.match(out.Credentials.AccessKeyId, /^ASIA[A-Z2-7]{16}$/);
    assert.equal(out.Credentials.SecretAccessKey.length, 40);
    assert.ok(out.Credentials.SessionToken.length > 100);
    assert.ok(out.Credentials.Expiration instanceof Date);
    const ttl = out.Credentials.Expiration.getTime() - Date.now();
    assert.ok(ttl > 3500e3 && ttl <= 3600e3, `expiration ${out.Credentials.Expiration}`);
    assert.equal(out.AssumedRoleUser.Arn, `arn:aws:sts::${A}:assumed-role/CrossRole/alice@example`);
    assert.match(out.AssumedRoleUser.AssumedRoleId, /^AROA[A-Z2-7]{17}:alice@example$/);
    const who = await sts(credsOf(out)).send(new GetCallerIdentityCommand({}));
    assert.equal(who.Arn, `arn:aws:sts::${A}:assumed-role/CrossRole/alice@example`);
    assert.equal(who.Account, A);
    assert.equal(who.UserId, out.AssumedRoleUser.AssumedRoleId);
  });

  test('DurationSeconds: 900 accepted, over MaxSessionDuration and under 900 refused', async () => {
    const out = await sts(acctB.users.dev).send(new AssumeRoleCommand({ RoleArn: crossArn, RoleSessionName: 's900', DurationSeconds: 900 }));
    const ttl = out.Credentials.Expiration.getTime() - Date.now();
    assert.ok(ttl > 800e3 && ttl <= 900e3);
    let e = await failure(sts(acctB.users.dev).send(new AssumeRoleCommand({ RoleArn: crossArn, RoleSessionName: 's', DurationSeconds: 900 })));
    assert.match(e.name, /ValidationError/, 'a one-character session name is too short');
    e = await failure(sts(acctB.users.dev).send(new AssumeRoleCommand({ RoleArn: crossArn, RoleSessionName: 'long', DurationSeconds: 7201 })));
    assert.match(e.name, /ValidationError/);
    e = await failure(sts(acctB.users.dev).send(new AssumeRoleCommand({ RoleArn: crossArn, RoleSessionName: 'short', DurationSeconds: 899 })));
    assert.match(e.name, /ValidationError/);
  });

  test("without B's identity permission: AccessDenied", async () => {
    const e = await failure(sts(acctB.users.plain).send(new AssumeRoleCommand({ RoleArn: crossArn, RoleSessionName: 'nope' })));
    assert.equal(e.name, 'AccessDenied');
    assert.equal(e.$metadata.httpStatusCode, 403);
    assert.match(e.message, new RegExp(`^User: arn:aws:iam::${B}:user/plain is not authorized to perform: sts:AssumeRole on resource: ${crossArn}`));
  });

  test('a trust policy that names another account: AccessDenied', async () => {
    await iam(acctA.root).send(new CreateRoleCommand({ RoleName: 'OtherTrust', AssumeRolePolicyDocument: trust({ AWS: 'arn:aws:iam::999988887777:root' }) }));
    const arn = `arn:aws:iam::${A}:role/OtherTrust`;
    const e = await failure(sts(acctB.users.dev).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'nope' })));
    assert.equal(e.name, 'AccessDenied');
    assert.match(e.message, /is not authorized to perform: sts:AssumeRole on resource: /);
    // then the trust policy is changed to admit B: now it works
    await iam(acctA.root).send(new UpdateAssumeRolePolicyCommand({ RoleName: 'OtherTrust', PolicyDocument: trust({ AWS: B }) }));
    const ok = await sts(acctB.users.dev).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'yes' }));
    assert.ok(ok.Credentials.AccessKeyId);
  });

  test('an unknown role and root callers: AccessDenied', async () => {
    let e = await failure(sts(acctB.users.dev).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/Ghost`, RoleSessionName: 'x1' })));
    assert.equal(e.name, 'AccessDenied');
    e = await failure(sts(acctB.root).send(new AssumeRoleCommand({ RoleArn: crossArn, RoleSessionName: 'x1' })));
    assert.equal(e.name, 'AccessDenied');
  });

  test('a role with only s3:* cannot call iam:CreateRole', async () => {
    await iam(acctA.root).send(new CreateRoleCommand({ RoleName: 'S3Only', AssumeRolePolicyDocument: trust({ AWS: `arn:aws:iam::${A}:user/dev` }) }));
    await iam(acctA.root).send(new PutRolePolicyCommand({ RoleName: 'S3Only', PolicyName: 's3', PolicyDocument: allow('s3:*') }));
    const out = await sts(acctA.users.dev).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/S3Only`, RoleSessionName: 'worker' }));
    const e = await failure(iam(credsOf(out)).send(new CreateRoleCommand({ RoleName: 'Escalate', AssumeRolePolicyDocument: trust({ AWS: A }) })));
    assert.equal(e.name, 'AccessDenied');
    assert.equal(e.$metadata.httpStatusCode, 403);
    assert.match(e.message, new RegExp(`User: arn:aws:sts::${A}:assumed-role/S3Only/worker is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::${A}:role/Escalate`));
    // and a user without IAM permissions cannot list roles either
    const e2 = await failure(iam(acctB.users.plain).send(new ListRolesCommand({})));
    assert.equal(e2.name, 'AccessDenied');
    assert.match(e2.message, new RegExp(`iam:ListRoles on resource: arn:aws:iam::${B}:role/`));
  });

  test('a role with IAMFullAccess can manage IAM through its session', async () => {
    const c = iam(acctA.root);
    await c.send(new CreateRoleCommand({ RoleName: 'Admin', AssumeRolePolicyDocument: trust({ AWS: `arn:aws:iam::${A}:user/dev` }) }));
    await c.send(new AttachRolePolicyCommand({ RoleName: 'Admin', PolicyArn: 'arn:aws:iam::aws:policy/IAMFullAccess' }));
    const out = await sts(acctA.users.dev).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/Admin`, RoleSessionName: 'admin' }));
    const made = await iam(credsOf(out)).send(new CreateRoleCommand({ RoleName: 'MadeBySession', AssumeRolePolicyDocument: trust({ AWS: A }) }));
    assert.equal(made.Role.RoleName, 'MadeBySession');
    // role chaining: a role trusted by the Admin role; sessions made by sessions last at most one hour
    await c.send(new CreateRoleCommand({ RoleName: 'ChainTarget', MaxSessionDuration: 7200, AssumeRolePolicyDocument: trust({ AWS: `arn:aws:iam::${A}:role/Admin` }) }));
    await c.send(new PutRolePolicyCommand({ RoleName: 'Admin', PolicyName: 'assume', PolicyDocument: allow('sts:AssumeRole') }));
    const target = `arn:aws:iam::${A}:role/ChainTarget`;
    const e = await failure(sts(credsOf(out)).send(new AssumeRoleCommand({ RoleArn: target, RoleSessionName: 'chain', DurationSeconds: 3601 })));
    assert.match(e.name, /ValidationError/);
    assert.match(e.message, /role chaining/);
    const chained = await sts(credsOf(out)).send(new AssumeRoleCommand({ RoleArn: target, RoleSessionName: 'chain' }));
    const who = await sts(credsOf(chained)).send(new GetCallerIdentityCommand({}));
    assert.equal(who.Arn, `arn:aws:sts::${A}:assumed-role/ChainTarget/chain`);
  });

  test('session policies limit the session', async () => {
    const c = iam(acctA.root);
    await c.send(new CreateRoleCommand({ RoleName: 'Wide', AssumeRolePolicyDocument: trust({ AWS: `arn:aws:iam::${A}:user/dev` }) }));
    await c.send(new AttachRolePolicyCommand({ RoleName: 'Wide', PolicyArn: 'arn:aws:iam::aws:policy/IAMFullAccess' }));
    const out = await sts(acctA.users.dev).send(new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${A}:role/Wide`, RoleSessionName: 'narrow', Policy: allow('iam:GetRole'),
    }));
    assert.ok(out.PackedPolicySize > 0);
    const s = iam(credsOf(out));
    const got = await s.send(new GetRoleCommand({ RoleName: 'Wide' }));
    assert.equal(got.Role.RoleName, 'Wide');
    const e = await failure(s.send(new ListRolesCommand({})));
    assert.equal(e.name, 'AccessDenied');
    assert.match(e.message, /session policy/);
    // a malformed session policy is refused
    const bad = await failure(sts(acctA.users.dev).send(new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${A}:role/Wide`, RoleSessionName: 'bad', Policy: '{"Statement":"x"}',
    })));
    assert.match(bad.name, /MalformedPolicyDocument/);
  });

  test('session tags become aws:PrincipalTag', async () => {
    const c = iam(acctA.root);
    await c.send(new CreateRoleCommand({
      RoleName: 'Tagged',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:user/dev` }, Action: ['sts:AssumeRole', 'sts:TagSession'] }],
      }),
    }));
    await c.send(new PutRolePolicyCommand({
      RoleName: 'Tagged', PolicyName: 'byTag',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'iam:GetRole', Resource: '*', Condition: { StringEquals: { 'aws:PrincipalTag/team': 'agents' } } }],
      }),
    }));
    const arn = `arn:aws:iam::${A}:role/Tagged`;
    const yes = await sts(acctA.users.dev).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 't1', Tags: [{ Key: 'team', Value: 'agents' }] }));
    await iam(credsOf(yes)).send(new GetRoleCommand({ RoleName: 'Tagged' }));
    const no = await sts(acctA.users.dev).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 't2', Tags: [{ Key: 'team', Value: 'other' }] }));
    const e = await failure(iam(credsOf(no)).send(new GetRoleCommand({ RoleName: 'Tagged' })));
    assert.equal(e.name, 'AccessDenied');
  });

  test('aws:SourceIp is the caller\'s address', async () => {
    const c = iam(acctA.root);
    await c.send(new CreateRoleCommand({
      RoleName: 'ByAddress',
      AssumeRolePolicyDocument: trust({ AWS: `arn:aws:iam::${A}:user/dev` }),
    }));
    const put = (cidr) => c.send(new PutRolePolicyCommand({
      RoleName: 'ByAddress', PolicyName: 'byIp',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'iam:GetRole', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': cidr } } }],
      }),
    }));
    const out = await sts(acctA.users.dev).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/ByAddress`, RoleSessionName: 'ip' }));
    const s = iam(credsOf(out));
    await put('127.0.0.1/32');
    assert.equal((await s.send(new GetRoleCommand({ RoleName: 'ByAddress' }))).Role.RoleName, 'ByAddress');
    await put('127.0.0.2/32');
    assert.equal((await failure(s.send(new GetRoleCommand({ RoleName: 'ByAddress' })))).name, 'AccessDenied');
    await put('10.0.0.0/8');
    assert.equal((await failure(s.send(new GetRoleCommand({ RoleName: 'ByAddress' })))).name, 'AccessDenied');
  });

  test('a tampered session token gets InvalidClientTokenId', async () => {
    const out = await sts(acctB.users.dev).send(new AssumeRoleCommand({ RoleArn: crossArn, RoleSessionName: 'tamper' }));
    const creds = credsOf(out);
    const t = creds.sessionToken;
    const i = Math.floor(t.length / 2);
    const flipped = t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
    let e = await failure(sts({ ...creds, sessionToken: flipped }).send(new GetCallerIdentityCommand({})));
    assert.equal(e.name, 'InvalidClientTokenId');
    // a valid token with another session's key id
    const other = await sts(acctB.users.dev).send(new AssumeRoleCommand({ RoleArn: crossArn, RoleSessionName: 'other' }));
    e = await failure(sts({ ...creds, sessionToken: other.Credentials.SessionToken }).send(new GetCallerIdentityCommand({})));
    assert.equal(e.name, 'InvalidClientTokenId');
    // no token at all
    e = await failure(sts({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey }).send(new GetCallerIdentityCommand({})));
    assert.equal(e.name, 'InvalidClientTokenId');
  });

  test('raw AssumeRole XML has the STS shape', async () => {
    const body = new URLSearchParams({ Action: 'AssumeRole', Version: '2011-06-15', RoleArn: crossArn, RoleSessionName: 'raw' }).toString();
    const res = await sendSigned(gw, acctB.users.dev, { body });
    assert.equal(res.status, 200, res.text);
    assert.match(res.text, /<AssumeRoleResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/);
    assert.match(res.text, /<AssumeRoleResult>/);
    assert.ok(xmlText(res.text, 'SessionToken'));
    assert.ok(!res.text.includes('<PackedPolicySize>'));
    const denied = await sendSigned(gw, acctB.users.plain, { body });
    assert.equal(denied.status, 403);
    assert.equal(parseXmlError(denied.text).code, 'AccessDenied');
  });

  test('secrets and session tokens are never logged', async () => {
    const out = await sts(acctB.users.dev).send(new AssumeRoleCommand({ RoleArn: crossArn, RoleSessionName: 'logcheck' }));
    await sts(credsOf(out)).send(new GetCallerIdentityCommand({}));
    const log = gw.stderr();
    assert.ok(!log.includes(out.Credentials.SecretAccessKey));
    assert.ok(!log.includes(out.Credentials.SessionToken.slice(0, 40)));
  });
});

describe('IAM names ignore letter case', () => {
  test('names are unique whatever their case: CreateRole TEAMROLE next to teamrole is refused', async () => {
    const c = iam(acctA.root);
    await c.send(new CreateRoleCommand({ RoleName: 'teamrole', AssumeRolePolicyDocument: trust({ AWS: A }) }));
    const e = await failure(c.send(new CreateRoleCommand({
      RoleName: 'TEAMROLE', AssumeRolePolicyDocument: trust({ AWS: A }),
    })));
    assert.equal(e.name, 'EntityAlreadyExistsException');
    assert.equal(e.$metadata.httpStatusCode, 409);
    assert.equal(e.message, 'Role with name TEAMROLE already exists.');
    // A lookup in another case finds the role as it was created.
    const got = await c.send(new GetRoleCommand({ RoleName: 'TeamRole' }));
    assert.equal(got.Role.RoleName, 'teamrole');
    assert.equal(got.Role.Arn, `arn:aws:iam::${A}:role/teamrole`);
    const roles = await c.send(new ListRolesCommand({ MaxItems: 1000 }));
    assert.equal(roles.Roles.filter((r) => r.RoleName.toLowerCase() === 'teamrole').length, 1);
    // Inline policy names too: a put in another case replaces the policy under its first name.
    await c.send(new PutRolePolicyCommand({ RoleName: 'TEAMROLE', PolicyName: 'Perm', PolicyDocument: allow('s3:GetObject') }));
    await c.send(new PutRolePolicyCommand({ RoleName: 'teamrole', PolicyName: 'PERM', PolicyDocument: allow('s3:PutObject') }));
    const names = await c.send(new ListRolePoliciesCommand({ RoleName: 'teamRole' }));
    assert.deepEqual(names.PolicyNames, ['Perm']);
    const pol = await c.send(new GetRolePolicyCommand({ RoleName: 'teamrole', PolicyName: 'perm' }));
    assert.equal(pol.PolicyName, 'Perm');
    assert.equal(pol.RoleName, 'teamrole');
    assert.match(decodeURIComponent(pol.PolicyDocument), /s3:PutObject/);
    await c.send(new DeleteRolePolicyCommand({ RoleName: 'TeamRole', PolicyName: 'pERM' }));
    await c.send(new DeleteRoleCommand({ RoleName: 'TEAMROLE' }));
    const gone = await failure(c.send(new GetRoleCommand({ RoleName: 'teamrole' })));
    assert.match(gone.name, /NoSuchEntity/);
  });

  test('names are unique whatever their case: users and managed policies', async () => {
    const c = iam(acctA.root);
    await c.send(new CreateUserCommand({ UserName: 'CaseUser' }));
    const e = await failure(c.send(new CreateUserCommand({ UserName: 'caseuser' })));
    assert.equal(e.name, 'EntityAlreadyExistsException');
    assert.equal(e.$metadata.httpStatusCode, 409);
    assert.equal(e.message, 'User with name caseuser already exists.');
    const u = await c.send(new GetUserCommand({ UserName: 'CASEUSER' }));
    assert.equal(u.User.UserName, 'CaseUser');
    await c.send(new PutUserPolicyCommand({ UserName: 'caseuser', PolicyName: 'p1', PolicyDocument: allow('s3:GetObject') }));
    const up = await c.send(new GetUserPolicyCommand({ UserName: 'CaseUser', PolicyName: 'P1' }));
    assert.equal(up.UserName, 'CaseUser');
    assert.equal(up.PolicyName, 'p1');
    await c.send(new CreatePolicyCommand({ PolicyName: 'CasePolicy', PolicyDocument: allow('s3:GetObject') }));
    const pe = await failure(c.send(new CreatePolicyCommand({ PolicyName: 'CASEPOLICY', Path: '/other/', PolicyDocument: allow('s3:GetObject') })));
    assert.equal(pe.name, 'EntityAlreadyExistsException');
    assert.equal(pe.$metadata.httpStatusCode, 409);
    assert.equal(pe.message, 'A policy called CASEPOLICY already exists. Duplicate names are not allowed.');
    await c.send(new DeleteUserPolicyCommand({ UserName: 'CASEUSER', PolicyName: 'P1' }));
    await c.send(new DeleteUserCommand({ UserName: 'caseUser' }));
    await c.send(new DeletePolicyCommand({ PolicyArn: `arn:aws:iam::${A}:policy/CasePolicy` }));
  });
});

describe('IAM input checked by the model, IAM rules by IAM (raw query requests)', () => {
  const NULL_AT = (m) => `Value null at '${m}' failed to satisfy constraint: Member must not be null`;
  async function refusedRaw(body) {
    const res = await sendSigned(gw, acctA.root, { service: 'iam', body: `${body}&Version=2010-05-08` });
    assert.equal(res.status, 400, res.text);
    const err = parseXmlError(res.text);
    assert.equal(err.code, 'ValidationError');
    return err.message.replace(/&apos;/g, "'");
  }

  test('every failure in one answer, in the model\'s member order', async () => {
    assert.equal(await refusedRaw('Action=CreateRole'),
      `2 validation errors detected: ${NULL_AT('roleName')}; ${NULL_AT('assumeRolePolicyDocument')}`);
  });

  test('enums and patterns of the model: ListPolicies Scope, GetPolicyVersion VersionId', async () => {
    assert.equal(await refusedRaw('Action=ListPolicies&Scope=Bogus'),
      "1 validation error detected: Value 'Bogus' at 'scope' failed to satisfy constraint: "
      + 'Member must satisfy enum value set: [All, AWS, Local]');
    const arn = encodeURIComponent(`arn:aws:iam::${A}:policy/None`);
    assert.equal(await refusedRaw(`Action=GetPolicyVersion&PolicyArn=${arn}&VersionId=x1`),
      "1 validation error detected: Value 'x1' at 'versionId' failed to satisfy constraint: "
      + 'Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?');
  });

  test('a Marker mcpgate did not write: Invalid Marker.', async () => {
    assert.equal(await refusedRaw('Action=ListRoles&Marker=bm90LWEtbWFya2Vy'), 'Invalid Marker.');
  });
});

describe('resource policies that are not JSON', () => {
  test('AgentCore PutResourcePolicy: ValidationException with the line, column and reason', async () => {
    await iam(acctA.root).send(new CreateRoleCommand({
      RoleName: 'GwRoleForPolicy',
      AssumeRolePolicyDocument: trust({ Service: 'bedrock-agentcore.amazonaws.com' }),
    }));
    const ac = makeClient(BedrockAgentCoreControlClient, gw, acctA.root);
    const g = await ac.send(new CreateGatewayCommand({
      name: 'policy-json', roleArn: `arn:aws:iam::${A}:role/GwRoleForPolicy`, authorizerType: 'AWS_IAM',
    }));
    const e = await failure(ac.send(new PutResourcePolicyCommand({
      resourceArn: g.gatewayArn, policy: '{"Version": "2012-10-17", "Statement": [}',
    })));
    assert.equal(e.name, 'ValidationException');
    assert.equal(e.$metadata.httpStatusCode, 400);
    assert.equal(e.message, "Invalid resource policy: Syntax errors in policy. (line 1, column 41: unexpected token near '}')");
  });
});

describe('boto3', () => {
  test('cross-account AssumeRole and GetCallerIdentity with boto3', () => {
    const { python } = boto3Python();
    const script = `
import boto3, json, sys
ep, akid, secret, role, root_akid, root_secret = sys.argv[1:7]
s = boto3.client('sts', endpoint_url=ep, region_name='us-east-1', aws_access_key_id=akid, aws_secret_access_key=secret)
c = s.assume_role(RoleArn=role, RoleSessionName='boto')['Credentials']
t = boto3.client('sts', endpoint_url=ep, region_name='us-east-1', aws_access_key_id=c['AccessKeyId'],
                 aws_secret_access_key=c['SecretAccessKey'], aws_session_token=c['SessionToken'])
i = boto3.client('iam', endpoint_url=ep, region_name='us-east-1', aws_access_key_id=root_akid,
                 aws_secret_access_key=root_secret)
try:
    i.create_role(RoleName='CROSSROLE', Path='/team/', AssumeRolePolicyDocument=json.dumps({
        'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Principal': {'AWS': 'arn:aws:iam::111122223333:root'},
                                                'Action': 'sts:AssumeRole'}]}))
    dup = 'created'
except i.exceptions.EntityAlreadyExistsException as e:
    dup = e.response['Error']['Code']
print(json.dumps({'arn': t.get_caller_identity()['Arn'], 'dup': dup}))
`;
    const r = spawnSync(python, ['-c', script, gw.endpoint, acctB.users.dev.accessKeyId, acctB.users.dev.secretAccessKey,
      `arn:aws:iam::${A}:role/team/CrossRole`, acctA.root.accessKeyId, acctA.root.secretAccessKey], { encoding: 'utf8', env: boto3Env({ ...process.env, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' }) });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).arn, `arn:aws:sts::${A}:assumed-role/CrossRole/boto`);
    assert.equal(JSON.parse(r.stdout).dup, 'EntityAlreadyExists');
  });
});
