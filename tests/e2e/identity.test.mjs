// AgentCore Identity with the unchanged AWS SDKs (bedrock-agentcore-control and
// bedrock-agentcore): API-key and OAuth2 credential providers, workload identities, the token
// vault, workload access tokens and GetResourceApiKey; errors, authorization, accounts apart,
// secrets never answered nor stored in the clear, restart; boto3.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  BedrockAgentCoreControlClient,
  CreateApiKeyCredentialProviderCommand, GetApiKeyCredentialProviderCommand,
  UpdateApiKeyCredentialProviderCommand, DeleteApiKeyCredentialProviderCommand,
  ListApiKeyCredentialProvidersCommand, CreateOauth2CredentialProviderCommand,
  GetOauth2CredentialProviderCommand, UpdateOauth2CredentialProviderCommand,
  DeleteOauth2CredentialProviderCommand, ListOauth2CredentialProvidersCommand,
  CreateWorkloadIdentityCommand, GetWorkloadIdentityCommand, UpdateWorkloadIdentityCommand,
  DeleteWorkloadIdentityCommand, ListWorkloadIdentitiesCommand, GetTokenVaultCommand,
  SetTokenVaultCMKCommand, CreateGatewayCommand, CreateGatewayTargetCommand,
  DeleteGatewayTargetCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import {
  BedrockAgentCoreClient, GetWorkloadAccessTokenCommand, GetWorkloadAccessTokenForJWTCommand,
  GetWorkloadAccessTokenForUserIdCommand, GetResourceApiKeyCommand,
} from '@aws-sdk/client-bedrock-agentcore';
import { psql } from './lib/pg.mjs';
import { defaultAccounts, sharedStore, startServer } from './lib/server.mjs';
import { makeClient } from './lib/aws.mjs';
import { boto3Env, boto3Python } from './lib/python.mjs';

const A = '111122223333';
const B = '444455556666';
const API_KEY = 'sk-live-4f1c9a7e2b8d4e6f0a1b2c3d4e5f6071';
const CLIENT_SECRET = 'cs-9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d';
const issued = []; // workload access tokens, for the never-logged check

function accountsWithUsers() {
  const accounts = defaultAccounts();
  accounts[0].roles = { gwrole: { name: 'gwrole', assumeRolePolicyDocument: { Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: 'bedrock-agentcore.amazonaws.com' }, Action: 'sts:AssumeRole' }] } } };
  // a user with only read access to credential providers
  accounts[0].users.reader = {
    ...defaultAccounts()[0].users.dev,
    name: 'reader',
    arn: `arn:aws:iam::${A}:user/reader`,
    inlinePolicies: {
      r: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Resource: '*', Action: [
        'bedrock-agentcore:GetApiKeyCredentialProvider', 'bedrock-agentcore:ListApiKeyCredentialProviders',
      ] }] },
    },
  };
  return accounts;
}

async function expectError(p, name, re) {
  await assert.rejects(p, (e) => {
    assert.equal(e.name, name, `${e.name}: ${e.message}`);
    if (re) assert.match(e.message, re);
    return true;
  });
}

/** Every file under the data directory, concatenated (the database, its WAL and journal). */
async function dataBytes(dir) {
  const parts = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) parts.push(await dataBytes(p));
    else if (e.isFile()) parts.push(await readFile(p));
  }
  return Buffer.concat(parts);
}

describe('AgentCore Identity', () => {
  let gw, accounts, ctlA, ctlB, dpA, dpB;
  let dataDir;
  let shared; // the restart case starts a second server on the same store
  before(async () => {
    accounts = accountsWithUsers();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'mcpgate-identity-'));
    shared = await sharedStore();
    gw = await startServer({ accounts, args: ['--data', dataDir, '--log-level', 'debug'], ...shared.opts });
    ctlA = makeClient(BedrockAgentCoreControlClient, gw, accounts[0].root);
    ctlB = makeClient(BedrockAgentCoreControlClient, gw, accounts[1].root);
    dpA = makeClient(BedrockAgentCoreClient, gw, accounts[0].root);
    dpB = makeClient(BedrockAgentCoreClient, gw, accounts[1].root);
  });
  after(async () => {
    await gw?.stop();
    assert.doesNotMatch(gw?.stderr() ?? '', /ERROR: AddressSanitizer|runtime error/);
    await rm(dataDir, { recursive: true, force: true });
    await shared?.drop();
  });

  test('API key providers: create, get, update, list, delete; the key never answered', async () => {
    const c = await ctlA.send(new CreateApiKeyCredentialProviderCommand({ name: 'weather', apiKey: API_KEY,
      tags: { team: 'a' } }));
    assert.equal(c.$metadata.httpStatusCode, 201);
    assert.equal(c.name, 'weather');
    assert.equal(c.credentialProviderArn,
      `arn:aws:bedrock-agentcore:us-east-1:${A}:token-vault/default/apikeycredentialprovider/weather`);
    assert.match(c.apiKeySecretArn.secretArn,
      new RegExp(`^arn:aws:secretsmanager:us-east-1:${A}:secret:bedrock-agentcore-identity!default/apikey/weather-[A-Za-z0-9]{6}$`));
    assert.equal(c.apiKeySecretSource, 'MANAGED');
    const g = await ctlA.send(new GetApiKeyCredentialProviderCommand({ name: 'weather' }));
    assert.equal(g.credentialProviderArn, c.credentialProviderArn);
    assert.equal(g.apiKeySecretArn.secretArn, c.apiKeySecretArn.secretArn);
    assert.ok(g.createdTime instanceof Date && g.lastUpdatedTime instanceof Date);
    assert.ok(Math.abs(g.createdTime.getTime() - Date.now()) < 60000);
    assert.ok(!JSON.stringify(g).includes(API_KEY));
    assert.equal(g.apiKey, undefined);

    const u = await ctlA.send(new UpdateApiKeyCredentialProviderCommand({ name: 'weather', apiKey: `${API_KEY}-2` }));
    assert.equal(u.$metadata.httpStatusCode, 200);
    assert.ok(u.lastUpdatedTime.getTime() >= g.lastUpdatedTime.getTime());
    assert.equal(u.createdTime.getTime(), g.createdTime.getTime());
    assert.ok(!JSON.stringify(u).includes(API_KEY));

    await ctlA.send(new CreateApiKeyCredentialProviderCommand({ name: 'maps', apiKey: 'maps-key' }));
    const l = await ctlA.send(new ListApiKeyCredentialProvidersCommand({}));
    assert.deepEqual(l.credentialProviders.map((p) => p.name), ['maps', 'weather']);
    assert.ok(l.credentialProviders.every((p) => p.createdTime instanceof Date && p.credentialProviderArn));
    assert.ok(!JSON.stringify(l).includes(API_KEY));
    const p1 = await ctlA.send(new ListApiKeyCredentialProvidersCommand({ maxResults: 1 }));
    assert.equal(p1.credentialProviders.length, 1);
    assert.equal(p1.nextToken, 'maps');
    const p2 = await ctlA.send(new ListApiKeyCredentialProvidersCommand({ maxResults: 1, nextToken: p1.nextToken }));
    assert.deepEqual(p2.credentialProviders.map((p) => p.name), ['weather']);
    assert.equal(p2.nextToken, undefined);

    const d = await ctlA.send(new DeleteApiKeyCredentialProviderCommand({ name: 'maps' }));
    assert.equal(d.$metadata.httpStatusCode, 204);
    await expectError(ctlA.send(new GetApiKeyCredentialProviderCommand({ name: 'maps' })),
      'ResourceNotFoundException', /maps not found/);
  });

  test('API key providers: errors', async () => {
    await expectError(ctlA.send(new CreateApiKeyCredentialProviderCommand({ name: 'weather', apiKey: 'x' })),
      'ConflictException', /already exists/);
    await expectError(ctlA.send(new DeleteApiKeyCredentialProviderCommand({ name: 'nope' })),
      'ResourceNotFoundException');
    await expectError(ctlA.send(new UpdateApiKeyCredentialProviderCommand({ name: 'nope', apiKey: 'x' })),
      'ResourceNotFoundException');
    await assert.rejects(ctlA.send(new CreateApiKeyCredentialProviderCommand({ name: 'bad name', apiKey: 'x' })), (e) => {
      assert.equal(e.name, 'ValidationException');
      assert.equal(e.message, "1 validation error detected: Value 'bad name' at 'name' failed to satisfy constraint: "
        + 'Member must satisfy regular expression pattern: [a-zA-Z0-9\\-_]+');
      assert.equal(e.reason, 'FieldValidationFailed');
      assert.equal(e.fieldList[0].name, 'name');
      return true;
    });
    // a sensitive member's value is never echoed
    const long = 'K'.repeat(65537);
    await assert.rejects(ctlA.send(new CreateApiKeyCredentialProviderCommand({ name: 'long', apiKey: long })), (e) => {
      assert.equal(e.name, 'ValidationException');
      assert.match(e.message, /at 'apiKey' failed to satisfy constraint: Member must have length less than or equal to 65536/);
      assert.ok(!e.message.includes('KKKK'));
      return true;
    });
    await expectError(ctlA.send(new CreateApiKeyCredentialProviderCommand({ name: 'nokey' })),
      'ValidationException', /apiKey is required/);
    await expectError(ctlA.send(new CreateApiKeyCredentialProviderCommand({ name: 'ext',
      apiKeySecretSource: 'EXTERNAL', apiKeySecretConfig: { secretId: 's', jsonKey: 'k' } })),
    'ValidationException', /EXTERNAL/);
  });

  test('the quota of 50 API key providers per account', async () => {
    const l = await ctlB.send(new ListApiKeyCredentialProvidersCommand({}));
    for (let i = l.credentialProviders.length; i < 50; i++) {
      await ctlB.send(new CreateApiKeyCredentialProviderCommand({ name: `q${String(i).padStart(2, '0')}`, apiKey: 'k' }));
    }
    await expectError(ctlB.send(new CreateApiKeyCredentialProviderCommand({ name: 'q50', apiKey: 'k' })),
      'ServiceQuotaExceededException', /50/);
    const all = [];
    let nextToken;
    do {
      const r = await ctlB.send(new ListApiKeyCredentialProvidersCommand({ nextToken, maxResults: 20 }));
      all.push(...r.credentialProviders);
      nextToken = r.nextToken;
    } while (nextToken);
    assert.equal(all.length, 50);
    for (const p of all) await ctlB.send(new DeleteApiKeyCredentialProviderCommand({ name: p.name }));
  });

  test('OAuth2 providers: custom (discovery URL and metadata) and vendors', async () => {
    const c = await ctlA.send(new CreateOauth2CredentialProviderCommand({
      name: 'idp', credentialProviderVendor: 'CustomOauth2',
      oauth2ProviderConfigInput: { customOauth2ProviderConfig: {
        oauthDiscovery: { discoveryUrl: 'https://idp.example.com/.well-known/openid-configuration' },
        clientId: 'client-1', clientSecret: CLIENT_SECRET } },
    }));
    assert.equal(c.$metadata.httpStatusCode, 201);
    assert.equal(c.credentialProviderArn,
      `arn:aws:bedrock-agentcore:us-east-1:${A}:token-vault/default/oauth2credentialprovider/idp`);
    assert.match(c.clientSecretArn.secretArn, /:secret:bedrock-agentcore-identity!default\/oauth2\/idp-[A-Za-z0-9]{6}$/);
    assert.equal(c.status, 'READY');
    assert.match(c.callbackUrl, /\/identities\/oauth2\/callback\/[0-9a-f-]{36}$/);
    assert.deepEqual(c.oauth2ProviderConfigOutput.customOauth2ProviderConfig, {
      oauthDiscovery: { discoveryUrl: 'https://idp.example.com/.well-known/openid-configuration' },
      clientId: 'client-1' });
    assert.ok(!JSON.stringify(c).includes(CLIENT_SECRET));

    const g = await ctlA.send(new GetOauth2CredentialProviderCommand({ name: 'idp' }));
    assert.equal(g.credentialProviderVendor, 'CustomOauth2');
    assert.ok(g.createdTime instanceof Date);
    assert.ok(!JSON.stringify(g).includes(CLIENT_SECRET));

    const meta = { issuer: 'https://as.example.com', authorizationEndpoint: 'https://as.example.com/authorize',
      tokenEndpoint: 'https://as.example.com/token', tokenEndpointAuthMethods: ['client_secret_post'] };
    const u = await ctlA.send(new UpdateOauth2CredentialProviderCommand({
      name: 'idp', credentialProviderVendor: 'CustomOauth2',
      oauth2ProviderConfigInput: { customOauth2ProviderConfig: {
        oauthDiscovery: { authorizationServerMetadata: meta }, clientId: 'client-2' } },
    }));
    assert.equal(u.oauth2ProviderConfigOutput.customOauth2ProviderConfig.clientId, 'client-2');
    assert.deepEqual(u.oauth2ProviderConfigOutput.customOauth2ProviderConfig.oauthDiscovery,
      { authorizationServerMetadata: meta });
    assert.equal(u.clientSecretArn.secretArn, c.clientSecretArn.secretArn);

    const ms = await ctlA.send(new CreateOauth2CredentialProviderCommand({
      name: 'ms', credentialProviderVendor: 'MicrosoftOauth2',
      oauth2ProviderConfigInput: { microsoftOauth2ProviderConfig: { clientId: 'm', clientSecret: 's', tenantId: 'contoso' } },
    }));
    assert.equal(ms.oauth2ProviderConfigOutput.microsoftOauth2ProviderConfig.oauthDiscovery
      .authorizationServerMetadata.tokenEndpoint, 'https://login.microsoftonline.com/contoso/oauth2/v2.0/token');
    const gh = await ctlA.send(new CreateOauth2CredentialProviderCommand({
      name: 'gh', credentialProviderVendor: 'GithubOauth2',
      oauth2ProviderConfigInput: { githubOauth2ProviderConfig: { clientId: 'g', clientSecret: 's' } },
    }));
    assert.equal(gh.oauth2ProviderConfigOutput.githubOauth2ProviderConfig.oauthDiscovery
      .authorizationServerMetadata.tokenEndpoint, 'https://github.com/login/oauth/access_token');
    const okta = await ctlA.send(new CreateOauth2CredentialProviderCommand({
      name: 'okta', credentialProviderVendor: 'OktaOauth2',
      oauth2ProviderConfigInput: { includedOauth2ProviderConfig: { clientId: 'o', clientSecret: 's',
        issuer: 'https://dev-1.okta.com/oauth2/default' } },
    }));
    assert.equal(okta.oauth2ProviderConfigOutput.includedOauth2ProviderConfig.oauthDiscovery.discoveryUrl,
      'https://dev-1.okta.com/oauth2/default/.well-known/openid-configuration');

    const l = await ctlA.send(new ListOauth2CredentialProvidersCommand({}));
    assert.deepEqual(l.credentialProviders.map((p) => [p.name, p.credentialProviderVendor]),
      [['gh', 'GithubOauth2'], ['idp', 'CustomOauth2'], ['ms', 'MicrosoftOauth2'], ['okta', 'OktaOauth2']]);

    await expectError(ctlA.send(new CreateOauth2CredentialProviderCommand({
      name: 'idp', credentialProviderVendor: 'GithubOauth2',
      oauth2ProviderConfigInput: { githubOauth2ProviderConfig: { clientId: 'g', clientSecret: 's' } } })),
    'ConflictException');
    await expectError(ctlA.send(new CreateOauth2CredentialProviderCommand({
      name: 'mismatch', credentialProviderVendor: 'GoogleOauth2',
      oauth2ProviderConfigInput: { githubOauth2ProviderConfig: { clientId: 'g', clientSecret: 's' } } })),
    'ValidationException', /does not configure the credentialProviderVendor GoogleOauth2/);
    await expectError(ctlA.send(new CreateOauth2CredentialProviderCommand({
      name: 'nosecret', credentialProviderVendor: 'GoogleOauth2',
      oauth2ProviderConfigInput: { googleOauth2ProviderConfig: { clientId: 'g' } } })),
    'ValidationException', /clientSecret is required/);
    await expectError(ctlA.send(new CreateOauth2CredentialProviderCommand({
      name: 'baddisc', credentialProviderVendor: 'CustomOauth2',
      oauth2ProviderConfigInput: { customOauth2ProviderConfig: { clientId: 'c', clientSecret: 's',
        oauthDiscovery: { discoveryUrl: 'https://idp.example.com/openid' } } } })),
    'ValidationException', /discoveryUrl/);
    for (const name of ['ms', 'gh', 'okta']) {
      const d = await ctlA.send(new DeleteOauth2CredentialProviderCommand({ name }));
      assert.equal(d.$metadata.httpStatusCode, 204);
    }
    await expectError(ctlA.send(new GetOauth2CredentialProviderCommand({ name: 'gh' })), 'ResourceNotFoundException');
  });

  test('an OAuth2 provider that a gateway target names is not deleted (ConflictException)', async () => {
    const p = await ctlA.send(new CreateOauth2CredentialProviderCommand({
      name: 'inuse', credentialProviderVendor: 'GithubOauth2',
      oauth2ProviderConfigInput: { githubOauth2ProviderConfig: { clientId: 'g', clientSecret: 's' } } }));
    const g = await ctlA.send(new CreateGatewayCommand({ name: 'idgw', roleArn: `arn:aws:iam::${A}:role/gwrole`,
      authorizerType: 'AWS_IAM', protocolType: 'MCP' }));
    // the model's acps form of the ARN names the same provider
    const t = await ctlA.send(new CreateGatewayTargetCommand({ gatewayIdentifier: g.gatewayId, name: 'upstream',
      targetConfiguration: { mcp: { mcpServer: { endpoint: 'http://127.0.0.1:9/mcp' } } },
      credentialProviderConfigurations: [{ credentialProviderType: 'OAUTH', credentialProvider: {
        oauthCredentialProvider: { providerArn: p.credentialProviderArn.replace(':bedrock-agentcore:', ':acps:'),
          scopes: ['repo'] } } }] }));
    await expectError(ctlA.send(new DeleteOauth2CredentialProviderCommand({ name: 'inuse' })), 'ConflictException',
      new RegExp(`used by target ${t.targetId} of gateway ${g.gatewayId}`));
    assert.ok(await ctlA.send(new GetOauth2CredentialProviderCommand({ name: 'inuse' })));
    await ctlA.send(new DeleteGatewayTargetCommand({ gatewayIdentifier: g.gatewayId, targetId: t.targetId }));
    const d = await ctlA.send(new DeleteOauth2CredentialProviderCommand({ name: 'inuse' }));
    assert.equal(d.$metadata.httpStatusCode, 204);
  });

  test('workload identities and the token vault', async () => {
    const c = await ctlA.send(new CreateWorkloadIdentityCommand({ name: 'agent-1',
      allowedResourceOauth2ReturnUrls: ['https://app.example.com/cb'] }));
    assert.equal(c.$metadata.httpStatusCode, 201);
    assert.equal(c.workloadIdentityArn,
      `arn:aws:bedrock-agentcore:us-east-1:${A}:workload-identity-directory/default/workload-identity/agent-1`);
    assert.deepEqual(c.allowedResourceOauth2ReturnUrls, ['https://app.example.com/cb']);
    const u = await ctlA.send(new UpdateWorkloadIdentityCommand({ name: 'agent-1',
      allowedResourceOauth2ReturnUrls: ['https://app.example.com/cb2'] }));
    assert.deepEqual(u.allowedResourceOauth2ReturnUrls, ['https://app.example.com/cb2']);
    const g = await ctlA.send(new GetWorkloadIdentityCommand({ name: 'agent-1' }));
    assert.ok(g.createdTime instanceof Date && g.lastUpdatedTime instanceof Date);
    await ctlA.send(new CreateWorkloadIdentityCommand({ name: 'agent-2' }));
    const l = await ctlA.send(new ListWorkloadIdentitiesCommand({}));
    assert.deepEqual(l.workloadIdentities.map((w) => w.name), ['agent-1', 'agent-2']);
    await expectError(ctlA.send(new CreateWorkloadIdentityCommand({ name: 'agent-2' })),
      'ValidationException', /already exists/);
    await ctlA.send(new DeleteWorkloadIdentityCommand({ name: 'agent-2' }));
    await expectError(ctlA.send(new GetWorkloadIdentityCommand({ name: 'agent-2' })), 'ResourceNotFoundException');
    await expectError(ctlA.send(new CreateWorkloadIdentityCommand({ name: 'ab' })), 'ValidationException');

    const v = await ctlA.send(new GetTokenVaultCommand({}));
    assert.equal(v.tokenVaultId, 'default');
    assert.equal(v.kmsConfiguration.keyType, 'ServiceManagedKey');
    const kms = `arn:aws:kms:us-east-1:${A}:key/12345678-1234-1234-1234-123456789012`;
    const s = await ctlA.send(new SetTokenVaultCMKCommand({ kmsConfiguration: { keyType: 'CustomerManagedKey', kmsKeyArn: kms } }));
    assert.equal(s.kmsConfiguration.kmsKeyArn, kms);
    const v2 = await ctlA.send(new GetTokenVaultCommand({ tokenVaultId: 'default' }));
    assert.equal(v2.kmsConfiguration.keyType, 'CustomerManagedKey');
    assert.equal((await ctlB.send(new GetTokenVaultCommand({}))).kmsConfiguration.keyType, 'ServiceManagedKey');
    await expectError(ctlA.send(new GetTokenVaultCommand({ tokenVaultId: 'other' })), 'ResourceNotFoundException');
    await expectError(ctlA.send(new SetTokenVaultCMKCommand({ kmsConfiguration: { keyType: 'CustomerManagedKey' } })),
      'ValidationException', /kmsKeyArn is required/);
  });

  test('workload access tokens and GetResourceApiKey', async () => {
    const t = await dpA.send(new GetWorkloadAccessTokenCommand({ workloadName: 'agent-1' }));
    assert.ok(t.workloadAccessToken.length > 20);
    issued.push(t.workloadAccessToken);
    const k = await dpA.send(new GetResourceApiKeyCommand({ workloadIdentityToken: t.workloadAccessToken,
      resourceCredentialProviderName: 'weather' }));
    assert.equal(k.apiKey, `${API_KEY}-2`);

    const tu = await dpA.send(new GetWorkloadAccessTokenForUserIdCommand({ workloadName: 'agent-1', userId: 'alice' }));
    assert.notEqual(tu.workloadAccessToken, t.workloadAccessToken);
    assert.equal((await dpA.send(new GetResourceApiKeyCommand({ workloadIdentityToken: tu.workloadAccessToken,
      resourceCredentialProviderName: 'weather' }))).apiKey, `${API_KEY}-2`);
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const jwt = `${b64({ alg: 'none' })}.${b64({ iss: 'https://idp.example.com', sub: 'u1', exp: Math.floor(Date.now() / 1000) + 600 })}.sig`;
    const tj = await dpA.send(new GetWorkloadAccessTokenForJWTCommand({ workloadName: 'agent-1', userToken: jwt }));
    assert.ok(tj.workloadAccessToken);
    const nosub = `${b64({ alg: 'none' })}.${b64({ iss: 'x' })}.sig`;
    await expectError(dpA.send(new GetWorkloadAccessTokenForJWTCommand({ workloadName: 'agent-1', userToken: nosub })),
      'ValidationException', /iss and sub/);

    await expectError(dpA.send(new GetWorkloadAccessTokenCommand({ workloadName: 'nobody' })), 'ResourceNotFoundException');
    await expectError(dpA.send(new GetResourceApiKeyCommand({ workloadIdentityToken: t.workloadAccessToken,
      resourceCredentialProviderName: 'nope' })), 'ResourceNotFoundException');
    const forged = t.workloadAccessToken.slice(0, -4) + (t.workloadAccessToken.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    await expectError(dpA.send(new GetResourceApiKeyCommand({ workloadIdentityToken: forged,
      resourceCredentialProviderName: 'weather' })), 'ValidationException', /not valid/);
    // account B cannot use account A's token
    await expectError(dpB.send(new GetResourceApiKeyCommand({ workloadIdentityToken: t.workloadAccessToken,
      resourceCredentialProviderName: 'weather' })), 'AccessDeniedException');
  });

  test('accounts apart: B sees none of A\'s resources', async () => {
    const l = await ctlB.send(new ListApiKeyCredentialProvidersCommand({}));
    assert.equal(l.credentialProviders.length, 0);
    await expectError(ctlB.send(new GetApiKeyCredentialProviderCommand({ name: 'weather' })), 'ResourceNotFoundException');
    await expectError(ctlB.send(new DeleteApiKeyCredentialProviderCommand({ name: 'weather' })), 'ResourceNotFoundException');
    await expectError(ctlB.send(new GetOauth2CredentialProviderCommand({ name: 'idp' })), 'ResourceNotFoundException');
    await expectError(ctlB.send(new GetWorkloadIdentityCommand({ name: 'agent-1' })), 'ResourceNotFoundException');
    assert.equal((await ctlB.send(new ListOauth2CredentialProvidersCommand({}))).credentialProviders.length, 0);
    assert.equal((await ctlB.send(new ListWorkloadIdentitiesCommand({}))).workloadIdentities.length, 0);
    // B may make its own of the same name
    const c = await ctlB.send(new CreateApiKeyCredentialProviderCommand({ name: 'weather', apiKey: 'b-key' }));
    assert.match(c.credentialProviderArn, new RegExp(`:${B}:token-vault/`));
    await ctlB.send(new DeleteApiKeyCredentialProviderCommand({ name: 'weather' }));
    assert.ok(await ctlA.send(new GetApiKeyCredentialProviderCommand({ name: 'weather' })));
  });

  test('IAM: a user without permission is denied', async () => {
    const dev = makeClient(BedrockAgentCoreControlClient, gw, accounts[0].users.dev);
    await expectError(dev.send(new ListApiKeyCredentialProvidersCommand({})), 'AccessDeniedException',
      /bedrock-agentcore:ListApiKeyCredentialProviders/);
    await expectError(dev.send(new CreateWorkloadIdentityCommand({ name: 'dev-wl' })), 'AccessDeniedException');
    const devDp = makeClient(BedrockAgentCoreClient, gw, accounts[0].users.dev);
    await expectError(devDp.send(new GetWorkloadAccessTokenCommand({ workloadName: 'agent-1' })), 'AccessDeniedException');
    const reader = makeClient(BedrockAgentCoreControlClient, gw, accounts[0].users.reader);
    const g = await reader.send(new GetApiKeyCredentialProviderCommand({ name: 'weather' }));
    assert.equal(g.name, 'weather');
    await expectError(reader.send(new DeleteApiKeyCredentialProviderCommand({ name: 'weather' })), 'AccessDeniedException',
      /apikeycredentialprovider\/weather/);
  });

  test('the secrets are not in the data directory in the clear', async () => {
    let bytes = await dataBytes(dataDir);
    if (gw.store) {
      // on PostgreSQL: no SQLite file here, and the store's rows are what is checked
      assert.equal(bytes.indexOf('SQLite format 3'), -1, 'an SQLite database in the data directory');
      const rows = await psql("SELECT coalesce(string_agg(encode(doc, 'escape'), E'\\n'), '') FROM documents", { uri: gw.store }) +
        await psql("SELECT coalesce(string_agg(encode(value, 'escape'), E'\\n'), '') FROM meta", { uri: gw.store });
      bytes = Buffer.concat([bytes, Buffer.from(rows)]);
    } else {
      assert.ok(bytes.indexOf('SQLite format 3') !== -1, 'the database is there');
    }
    // the providers are (their names and ARNs), their secrets are not
    assert.notEqual(bytes.indexOf('apikeycredentialprovider/weather'), -1);
    for (const s of [API_KEY, CLIENT_SECRET, 'maps-key']) assert.equal(bytes.indexOf(s), -1, `${s} found`);
    // the server logs at debug level here: still no secret, no token
    const log = gw.stderr() + gw.stdout();
    assert.ok(log.length > 0);
    for (const s of [API_KEY, CLIENT_SECRET, 'maps-key', ...issued]) assert.ok(!log.includes(s), 'a secret was logged');
  });

  test('a restart keeps the providers, and their secrets still decrypt', async () => {
    const t = await dpA.send(new GetWorkloadAccessTokenCommand({ workloadName: 'agent-1' }));
    await gw.stop();
    assert.doesNotMatch(gw.stderr(), /ERROR: AddressSanitizer|runtime error/);
    // with ASAN_OPTIONS=detect_leaks=1: nothing of the vault leaks
    assert.doesNotMatch(gw.stderr(), /in mg_vault|vault\/[a-z]+\.c/);
    gw = await startServer({ accounts, args: ['--data', dataDir, '--log-level', 'debug'], ...shared.opts });
    ctlA = makeClient(BedrockAgentCoreControlClient, gw, accounts[0].root);
    dpA = makeClient(BedrockAgentCoreClient, gw, accounts[0].root);
    const g = await ctlA.send(new GetApiKeyCredentialProviderCommand({ name: 'weather' }));
    assert.equal(g.name, 'weather');
    assert.equal((await ctlA.send(new GetOauth2CredentialProviderCommand({ name: 'idp' }))).name, 'idp');
    // the token issued before the restart still opens (the vault key is kept in the store)
    const k = await dpA.send(new GetResourceApiKeyCommand({ workloadIdentityToken: t.workloadAccessToken,
      resourceCredentialProviderName: 'weather' }));
    assert.equal(k.apiKey, `${API_KEY}-2`);
  });

  test('boto3: create, get and list an API key provider', () => {
    const { python } = boto3Python();
    const script = `
import boto3, sys
c = boto3.client('bedrock-agentcore-control', endpoint_url=sys.argv[1], region_name='us-east-1',
                 aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
r = c.create_api_key_credential_provider(name='boto', apiKey='boto-secret-key')
assert r['credentialProviderArn'].endswith(':token-vault/default/apikeycredentialprovider/boto'), r
g = c.get_api_key_credential_provider(name='boto')
assert g['name'] == 'boto' and 'apiKey' not in g, g
assert g['createdTime'].year >= 2024, g
names = [p['name'] for p in c.list_api_key_credential_providers()['credentialProviders']]
assert 'boto' in names, names
try:
    c.create_api_key_credential_provider(name='boto', apiKey='x')
    raise SystemExit('no error')
except c.exceptions.ConflictException:
    pass
c.delete_api_key_credential_provider(name='boto')
print('ok')
`;
    const r = spawnSync(python, ['-c', script, gw.endpoint, accounts[0].root.accessKeyId,
      accounts[0].root.secretAccessKey], { encoding: 'utf8', env: boto3Env() });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /ok/);
  });
});
