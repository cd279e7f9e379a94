"""The cross-account walkthrough with boto3, driven through AWS profiles (role_arn +
source_profile) exactly as a user's scripts are. MCP calls are signed with botocore's SigV4.

Usage: AWS_CONFIG_FILE=... AWS_SHARED_CREDENTIALS_FILE=... python3 walkthrough_boto3.py
Prints one JSON object with what each step produced (the test asserts on it)."""
import io
import json
import sys
import time
import urllib.error
import urllib.request
import zipfile

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

REGION = "us-east-1"
CODE = '''import json

def handler(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps({"message": f"Hello from Gateway! Input: {event}"})
    }
'''


def trust(principal):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]})


class Mcp:
    """A small Streamable HTTP MCP client that signs every request with SigV4."""

    def __init__(self, url, session):
        self.url, self.creds, self.sid, self.next_id = url, session.get_credentials(), None, 0

    def _post(self, msg):
        body = json.dumps(msg).encode()
        headers = {"Content-Type": "application/json",
                   "Accept": "application/json, text/event-stream"}
        if self.sid:
            headers["Mcp-Session-Id"] = self.sid
            headers["MCP-Protocol-Version"] = "2025-06-18"
        req = AWSRequest(method="POST", url=self.url, data=body, headers=headers)
        SigV4Auth(self.creds.get_frozen_credentials(), "bedrock-agentcore", REGION).add_auth(req)
        http = urllib.request.Request(self.url, data=body, method="POST",
                                      headers=dict(req.headers.items()))
        with urllib.request.urlopen(http, timeout=30) as resp:
            self.sid = resp.headers.get("Mcp-Session-Id") or self.sid
            text = resp.read().decode()
            if resp.headers.get("Content-Type", "").startswith("text/event-stream"):
                data = [l[5:].strip() for l in text.splitlines() if l.startswith("data:")]
                text = data[-1] if data else ""
            return json.loads(text) if text else None

    def request(self, method, params=None):
        self.next_id += 1
        out = self._post({"jsonrpc": "2.0", "id": self.next_id, "method": method,
                          "params": params or {}})
        if "error" in out:
            raise RuntimeError(out["error"])
        return out["result"]

    def connect(self):
        self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "boto3-walkthrough", "version": "1"}})
        self._post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return self


def list_tools(url, session):
    try:
        tools = Mcp(url, session).connect().request("tools/list")["tools"]
        return {"ok": True, "tools": [f"{t['name']}: {t['description']}" for t in tools]}
    except urllib.error.HTTPError as e:
        return {"ok": False, "status": e.code}


def wait_ready(get):
    for _ in range(200):
        status = get()["status"]
        if status == "READY":
            return
        if status == "FAILED":
            raise RuntimeError("FAILED")
        time.sleep(0.3)
    raise RuntimeError("not READY in time")


def main():
    r = {}
    a = boto3.Session(profile_name="account-a", region_name=REGION)
    b = boto3.Session(profile_name="account-b", region_name=REGION)
    r["callerA"] = a.client("sts").get_caller_identity()["Arn"]
    r["callerB"] = b.client("sts").get_caller_identity()["Arn"]
    iam, lam, ac = a.client("iam"), a.client("lambda"), a.client("bedrock-agentcore-control")

    gw_role = iam.create_role(RoleName="AgentCoreGatewayServiceRole",
                              AssumeRolePolicyDocument=trust(
                                  {"Service": "bedrock-agentcore.amazonaws.com"}))["Role"]["Arn"]
    fn_role = iam.create_role(RoleName="CrossAccountTestLambdaRole",
                              AssumeRolePolicyDocument=trust({"Service": "lambda.amazonaws.com"}))
    iam.attach_role_policy(RoleName="CrossAccountTestLambdaRole",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("lambda_function.py", CODE)
    fn = lam.create_function(FunctionName="cross-account-gateway-test", Runtime="python3.12",
                             Handler="lambda_function.handler", Role=fn_role["Role"]["Arn"],
                             Code={"ZipFile": buf.getvalue()})
    lambda_arn = fn["FunctionArn"]
    iam.put_role_policy(RoleName="AgentCoreGatewayServiceRole", PolicyName="LambdaInvoke",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                            {"Effect": "Allow", "Action": "lambda:InvokeFunction",
                             "Resource": lambda_arn}]}))
    gw = ac.create_gateway(name="cross-account-test", description="Cross-account access test gateway",
                           protocolType="MCP", authorizerType="AWS_IAM", roleArn=gw_role)
    gid, url, garn = gw["gatewayId"], gw["gatewayUrl"], gw["gatewayArn"]
    r["gatewayArn"] = garn
    wait_ready(lambda: ac.get_gateway(gatewayIdentifier=gid))
    tgt = ac.create_gateway_target(
        gatewayIdentifier=gid, name="echo-tools",
        targetConfiguration={"mcp": {"lambda": {"lambdaArn": lambda_arn, "toolSchema": {"inlinePayload": [{
            "name": "echo_message", "description": "Echo back a message for testing",
            "inputSchema": {"type": "object", "properties": {"message": {
                "type": "string", "description": "The message to echo"}}, "required": ["message"]}}]}}}},
        credentialProviderConfigurations=[{"credentialProviderType": "GATEWAY_IAM_ROLE"}])
    tid = tgt["targetId"]
    wait_ready(lambda: ac.get_gateway_target(gatewayIdentifier=gid, targetId=tid))

    r["listA"] = list_tools(url, a)
    r["listB1"] = list_tools(url, b)

    def policy(principal, resource):
        return json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "AllowCrossAccountInvoke", "Effect": "Allow", "Principal": {"AWS": principal},
            "Action": "bedrock-agentcore:InvokeGateway", "Resource": resource}]})

    try:
        ac.put_resource_policy(resourceArn=garn, policy=policy("arn:aws:iam::444455556666:root", "*"))
        r["starRefused"] = None
    except ac.exceptions.ValidationException as e:
        r["starRefused"] = e.response["Error"]["Code"]
    ac.put_resource_policy(resourceArn=garn, policy=policy("arn:aws:iam::444455556666:root", garn))
    r["listB2"] = list_tools(url, b)
    call = Mcp(url, b).connect().request("tools/call", {
        "name": "echo-tools___echo_message", "arguments": {"message": "hello from boto3"}})
    r["callB"] = "".join(c.get("text", "") for c in call["content"])

    # cleanup, in the walkthrough's order
    ac.delete_resource_policy(resourceArn=garn)
    ac.delete_gateway_target(gatewayIdentifier=gid, targetId=tid)
    ac.delete_gateway(gatewayIdentifier=gid)
    lam.delete_function(FunctionName="cross-account-gateway-test")
    for role in ["CrossAccountTestLambdaRole", "AgentCoreGatewayServiceRole"]:
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            iam.delete_role_policy(RoleName=role, PolicyName=name)
        for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=role, PolicyArn=p["PolicyArn"])
        iam.delete_role(RoleName=role)
    r["cleanup"] = "done"
    json.dump(r, sys.stdout)


if __name__ == "__main__":
    main()
