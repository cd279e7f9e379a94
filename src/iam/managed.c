/* AWS managed policies that gateway setups attach, with the documents AWS publishes (the default
 * versions listed in the AWS Managed Policy Reference Guide; ReadOnlyAccess is not included).
 * Documents are kept compact; the statements are AWS's, in AWS's order. Policy ids are AWS's where
 * they are published, else stable ids chosen by mcpgate (see docs/iam-api.md). */
#include <string.h>

#include "iam/iam.h"

static const struct mg_iam_aws_policy s_policies[] = {
    {"AdministratorAccess", "/", "arn:aws:iam::aws:policy/AdministratorAccess",
     "ANPAIWMBCKSKIEE64ZLYK", "v1", "2015-02-06T18:39:46Z", "2015-02-06T18:39:46Z",
     "Provides full access to AWS services and resources.",
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Reso"
     "urce\":\"*\"}]}"},
    {"PowerUserAccess", "/", "arn:aws:iam::aws:policy/PowerUserAccess", "ANPAJYRXTHIB4FOVS3ZXS",
     "v12", "2015-02-06T18:39:47Z", "2026-02-12T17:59:14Z",
     "Provides full access to AWS services and resources, but does not allow management of Users "
     "and groups.",
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"NotAction\":[\"iam:*\",\"organizations:*\""
     ",\"account:*\"],\"Resource\":\"*\",\"Effect\":\"Allow\"},{\"Action\":[\"account:GetAccou"
     "ntInformation\",\"account:GetGovCloudAccountInformation\",\"account:GetPrimaryEmail\",\""
     "account:ListRegions\",\"iam:CreateServiceLinkedRole\",\"iam:DeleteServiceLinkedRole\",\""
     "iam:ListRoles\",\"organizations:DescribeEffectivePolicy\",\"organizations:DescribeOrgani"
     "zation\"],\"Resource\":\"*\",\"Effect\":\"Allow\"}]}"},
    {"IAMFullAccess", "/", "arn:aws:iam::aws:policy/IAMFullAccess", "ANPAI7XKCFMBPM3QQRRVQ", "v2",
     "2015-02-06T18:40:38Z", "2019-06-21T19:40:00Z",
     "Provides full access to IAM via the AWS Management Console.",
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"iam:*\",\""
     "organizations:DescribeAccount\",\"organizations:DescribeOrganization\",\"organizations:D"
     "escribeOrganizationalUnit\",\"organizations:DescribePolicy\",\"organizations:ListChildre"
     "n\",\"organizations:ListParents\",\"organizations:ListPoliciesForTarget\",\"organization"
     "s:ListRoots\",\"organizations:ListPolicies\",\"organizations:ListTargetsForPolicy\"],\"R"
     "esource\":\"*\"}]}"},
    {"AWSLambda_FullAccess", "/", "arn:aws:iam::aws:policy/AWSLambda_FullAccess",
     "ANPAZKAPJZG4OXQPYWZ5D", "v5", "2020-11-23T19:30:00Z", "2026-02-11T22:18:56Z",
     "Grants full access to AWS Lambda service, AWS Lambda console features, and other related AWS "
     "services.",
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Action\":[\"cloudformation:DescribeStacks\""
     ",\"cloudformation:ListStackResources\",\"cloudwatch:ListMetrics\",\"cloudwatch:GetMetric"
     "Data\",\"ec2:DescribeSecurityGroups\",\"ec2:DescribeSubnets\",\"ec2:DescribeVpcs\",\"kms"
     ":DescribeKey\",\"kms:ListAliases\",\"iam:GetPolicy\",\"iam:GetPolicyVersion\",\"iam:GetR"
     "ole\",\"iam:GetRolePolicy\",\"iam:ListAttachedRolePolicies\",\"iam:ListRolePolicies\",\""
     "iam:ListRoles\",\"lambda:*\",\"logs:DescribeLogGroups\",\"states:DescribeStateMachine\","
     "\"states:ListStateMachines\",\"tag:GetResources\",\"xray:GetTraceSummaries\",\"xray:Batc"
     "hGetTraces\"],\"Resource\":\"*\",\"Effect\":\"Allow\"},{\"Action\":\"iam:PassRole\",\"Re"
     "source\":\"*\",\"Effect\":\"Allow\",\"Condition\":{\"StringEquals\":{\"iam:PassedToServi"
     "ce\":\"lambda.amazonaws.com\"}}},{\"Action\":[\"logs:DescribeLogStreams\",\"logs:GetLogE"
     "vents\",\"logs:FilterLogEvents\",\"logs:StartLiveTail\",\"logs:StopLiveTail\"],\"Resourc"
     "e\":\"arn:aws:logs:*:*:log-group:/aws/lambda/*\",\"Effect\":\"Allow\"},{\"Action\":\"iam"
     ":CreateServiceLinkedRole\",\"Resource\":\"arn:aws:iam::*:role/aws-service-role/lambda.am"
     "azonaws.com/AWSServiceRoleForLambda\",\"Effect\":\"Allow\",\"Condition\":{\"StringEquals"
     "\":{\"iam:AWSServiceName\":\"lambda.amazonaws.com\"}}}]}"},
    {"AWSLambdaBasicExecutionRole", "/service-role/",
     "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", "ANPAJNCQGXC42545SKXIK",
     "v1", "2015-04-09T15:03:43Z", "2015-04-09T15:03:43Z",
     "Provides write permissions to CloudWatch Logs.",
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"logs:Crea"
     "teLogGroup\",\"logs:CreateLogStream\",\"logs:PutLogEvents\"],\"Resource\":\"*\"}]}"},
    {"AWSLambdaRole", "/service-role/", "arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
     "ANPAJX4DPCRGTC4NFDUXI", "v1", "2015-02-06T18:41:28Z", "2015-02-06T18:41:28Z",
     "Default policy for AWS Lambda service role.",
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"lambda:In"
     "vokeFunction\"],\"Resource\":[\"*\"]}]}"},
    {"BedrockAgentCoreFullAccess", "/", "arn:aws:iam::aws:policy/BedrockAgentCoreFullAccess",
     "ANPAZKAPJZG4MGAGENTCR", "v5", "2025-07-16T13:37:00Z", "2025-12-02T13:34:12Z",
     "Provides full access to Amazon Bedrock AgentCore and limited access to related services",
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Action\":[\"bedrock-agentcore:*\"],\"Resou"
     "rce\":\"arn:aws:bedrock-agentcore:*:*:*\",\"Effect\":\"Allow\",\"Sid\":\"BedrockAgentCor"
     "eFullAccess\"},{\"Action\":[\"iam:GetRole\",\"iam:GetRolePolicy\",\"iam:ListAttachedRole"
     "Policies\",\"iam:ListRolePolicies\",\"iam:ListRoles\"],\"Resource\":\"arn:aws:iam::*:rol"
     "e/*\",\"Effect\":\"Allow\",\"Sid\":\"IAMListAccess\"},{\"Action\":\"iam:PassRole\",\"Res"
     "ource\":\"arn:aws:iam::*:role/*BedrockAgentCore*\",\"Effect\":\"Allow\",\"Condition\":{\""
     "StringEquals\":{\"iam:PassedToService\":\"bedrock-agentcore.amazonaws.com\"}},\"Sid\":\""
     "BedrockAgentCorePassRoleAccess\"},{\"Action\":[\"secretsmanager:CreateSecret\",\"secrets"
     "manager:PutSecretValue\",\"secretsmanager:GetSecretValue\",\"secretsmanager:DeleteSecret"
     "\"],\"Resource\":\"arn:aws:secretsmanager:*:*:secret:bedrock-agentcore*\",\"Effect\":\"A"
     "llow\",\"Sid\":\"SecretsManagerAccess\"},{\"Action\":[\"kms:ListKeys\",\"kms:DescribeKey"
     "\"],\"Resource\":[\"arn:aws:kms:*:*:key/*\"],\"Effect\":\"Allow\",\"Condition\":{\"Strin"
     "gEquals\":{\"aws:ResourceAccount\":\"${aws:PrincipalAccount}\"}},\"Sid\":\"BedrockAgentC"
     "oreKMSReadAccess\"},{\"Action\":[\"kms:Decrypt\",\"kms:GenerateDataKey\",\"kms:ListGrant"
     "s\"],\"Resource\":[\"arn:aws:kms:*:*:key/*\"],\"Effect\":\"Allow\",\"Condition\":{\"ForA"
     "nyValue:StringEquals\":{\"aws:CalledVia\":[\"bedrock-agentcore.amazonaws.com\"]},\"Strin"
     "gEquals\":{\"aws:ResourceAccount\":\"${aws:PrincipalAccount}\"}},\"Sid\":\"BedrockAgentC"
     "oreKMSAccess\"},{\"Action\":[\"kms:CreateGrant\"],\"Resource\":[\"arn:aws:kms:*:*:key/*\""
     "],\"Effect\":\"Allow\",\"Condition\":{\"StringLike\":{\"kms:EncryptionContext:aws:bedroc"
     "k-agentcore-gateway:arn\":\"arn:aws:bedrock-agentcore:*:*:gateway/*\",\"kms:ViaService\""
     ":[\"bedrock-agentcore.*.amazonaws.com\"]},\"StringEquals\":{\"kms:GrantConstraintType\":"
     "\"EncryptionContextSubset\"},\"ForAllValues:StringEquals\":{\"kms:GrantOperations\":[\"D"
     "ecrypt\",\"GenerateDataKey\"]}},\"Sid\":\"BedrockAgentCoreKMSGrantsAccess\"},{\"Action\""
     ":[\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::bedrock-agentcore-gateway-*\"],\"Effect"
     "\":\"Allow\",\"Condition\":{\"StringEquals\":{\"aws:CalledViaLast\":\"bedrock-agentcore."
     "amazonaws.com\",\"s3:ResourceAccount\":\"${aws:PrincipalAccount}\"}},\"Sid\":\"BedrockAg"
     "entCoreS3Access\"},{\"Action\":[\"lambda:ListFunctions\"],\"Resource\":[\"arn:aws:lambda"
     ":*:*:*\"],\"Effect\":\"Allow\",\"Sid\":\"BedrockAgentCoreGatewayLambdaAccess\"},{\"Actio"
     "n\":[\"apigateway:GET\"],\"Resource\":[\"arn:aws:apigateway:*::/restapis/*/stages/*/expo"
     "rts/*\"],\"Effect\":\"Allow\",\"Sid\":\"BedrockAgentCoreGatewayApiGateway\"},{\"Action\""
     ":[\"logs:Get*\",\"logs:List*\",\"logs:StartQuery\",\"logs:StopQuery\",\"logs:Describe*\""
     ",\"logs:TestMetricFilter\",\"logs:FilterLogEvents\"],\"Resource\":[\"arn:aws:logs:*:*:lo"
     "g-group:/aws/bedrock-agentcore/*\",\"arn:aws:logs:*:*:log-group:/aws/application-signals"
     "/data:*\",\"arn:aws:logs:*:*:log-group:aws/spans:*\"],\"Effect\":\"Allow\",\"Sid\":\"Log"
     "gingAccess\"},{\"Action\":[\"application-autoscaling:DescribeScalingPolicies\",\"applica"
     "tion-signals:BatchGet*\",\"application-signals:Get*\",\"application-signals:List*\",\"au"
     "toscaling:Describe*\",\"cloudwatch:BatchGet*\",\"cloudwatch:Describe*\",\"cloudwatch:Gen"
     "erateQuery\",\"cloudwatch:Get*\",\"cloudwatch:List*\",\"oam:ListSinks\",\"rum:BatchGet*\""
     ",\"rum:Get*\",\"rum:List*\",\"synthetics:Describe*\",\"synthetics:Get*\",\"synthetics:Li"
     "st*\",\"xray:BatchGet*\",\"xray:Get*\",\"xray:List*\",\"xray:StartTraceRetrieval\",\"xra"
     "y:CancelTraceRetrieval\",\"logs:DescribeLogGroups\",\"logs:StartLiveTail\",\"logs:StopLi"
     "veTail\"],\"Resource\":\"*\",\"Effect\":\"Allow\",\"Sid\":\"ObservabilityReadOnlyPermiss"
     "ions\"},{\"Action\":[\"xray:GetTraceSegmentDestination\",\"xray:UpdateTraceSegmentDestin"
     "ation\",\"xray:GetIndexingRules\",\"xray:UpdateIndexingRule\"],\"Resource\":\"*\",\"Effe"
     "ct\":\"Allow\",\"Sid\":\"TransactionSearchXRayPermissions\"},{\"Action\":[\"logs:CreateL"
     "ogGroup\",\"logs:CreateLogStream\",\"logs:PutRetentionPolicy\"],\"Resource\":[\"arn:aws:"
     "logs:*:*:log-group:/aws/application-signals/data:*\",\"arn:aws:logs:*:*:log-group:aws/sp"
     "ans:*\"],\"Effect\":\"Allow\",\"Sid\":\"TransactionSearchLogGroupPermissions\"},{\"Actio"
     "n\":[\"logs:DescribeResourcePolicies\",\"logs:PutResourcePolicy\"],\"Resource\":[\"*\"],"
     "\"Effect\":\"Allow\",\"Condition\":{\"StringEquals\":{\"aws:ResourceAccount\":\"${aws:Pr"
     "incipalAccount}\"}},\"Sid\":\"TransactionSearchLogsPermissions\"},{\"Action\":[\"applica"
     "tion-signals:StartDiscovery\"],\"Resource\":\"*\",\"Effect\":\"Allow\",\"Sid\":\"Transac"
     "tionSearchApplicationSignalsPermissions\"},{\"Action\":\"iam:CreateServiceLinkedRole\",\""
     "Resource\":\"arn:aws:iam::*:role/aws-service-role/application-signals.cloudwatch.amazona"
     "ws.com/AWSServiceRoleForCloudWatchApplicationSignals\",\"Effect\":\"Allow\",\"Condition\""
     ":{\"StringLike\":{\"iam:AWSServiceName\":\"application-signals.cloudwatch.amazonaws.com\""
     "}},\"Sid\":\"CloudWatchApplicationSignalsCreateServiceLinkedRolePermissions\"},{\"Action"
     "\":\"iam:GetRole\",\"Resource\":\"arn:aws:iam::*:role/aws-service-role/application-signa"
     "ls.cloudwatch.amazonaws.com/AWSServiceRoleForCloudWatchApplicationSignals\",\"Effect\":\""
     "Allow\",\"Sid\":\"CloudWatchApplicationSignalsGetRolePermissions\"},{\"Action\":\"iam:Cr"
     "eateServiceLinkedRole\",\"Resource\":\"arn:aws:iam::*:role/aws-service-role/network.bedr"
     "ock-agentcore.amazonaws.com/AWSServiceRoleForBedrockAgentCoreNetwork\",\"Effect\":\"Allo"
     "w\",\"Condition\":{\"StringEquals\":{\"iam:AWSServiceName\":\"network.bedrock-agentcore."
     "amazonaws.com\"}},\"Sid\":\"CreateBedrockAgentCoreNetworkServiceLinkedRolePermissions\"}"
     ",{\"Action\":\"iam:CreateServiceLinkedRole\",\"Resource\":\"arn:aws:iam::*:role/aws-serv"
     "ice-role/runtime-identity.bedrock-agentcore.amazonaws.com/AWSServiceRoleForBedrockAgentC"
     "oreRuntimeIdentity\",\"Effect\":\"Allow\",\"Condition\":{\"StringEquals\":{\"iam:AWSServ"
     "iceName\":\"runtime-identity.bedrock-agentcore.amazonaws.com\"}},\"Sid\":\"CreateBedrock"
     "AgentCoreRuntimeIdentityServiceLinkedRolePermissions\"},{\"Action\":[\"cloudtrail:Create"
     "ServiceLinkedChannel\"],\"Resource\":\"arn:aws:cloudtrail:*:*:channel/aws-service-channe"
     "l/application-signals/*\",\"Effect\":\"Allow\",\"Sid\":\"CloudWatchApplicationSignalsClo"
     "udTrailPermissions\"},{\"Action\":[\"s3:CreateBucket\",\"s3:PutBucketPolicy\",\"s3:PutBu"
     "cketVersioning\",\"s3:PutObject\"],\"Resource\":[\"arn:aws:s3:::bedrock-agentcore-runtim"
     "e-*\"],\"Effect\":\"Allow\",\"Condition\":{\"StringEquals\":{\"s3:ResourceAccount\":\"${"
     "aws:PrincipalAccount}\"}},\"Sid\":\"BedrockAgentCoreRuntimeS3WriteAccess\"},{\"Action\":"
     "[\"s3:GetObject\",\"s3:GetObjectVersion\",\"s3:ListBucket\",\"s3:ListBucketVersions\"],\""
     "Resource\":\"arn:aws:s3:::*\",\"Effect\":\"Allow\",\"Condition\":{\"StringEquals\":{\"s3"
     ":ResourceAccount\":\"${aws:PrincipalAccount}\"}},\"Sid\":\"BedrockAgentCoreRuntimeS3Read"
     "Access\"},{\"Action\":[\"s3:ListAllMyBuckets\"],\"Resource\":\"*\",\"Effect\":\"Allow\","
     "\"Condition\":{\"StringEquals\":{\"s3:ResourceAccount\":\"${aws:PrincipalAccount}\"}},\""
     "Sid\":\"BedrockAgentCoreRuntimeS3ListAccess\"},{\"Action\":[\"ecr:DescribeRepositories\""
     ",\"ecr:DescribeImages\",\"ecr:ListImages\"],\"Resource\":[\"arn:aws:ecr:*:*:repository/*"
     "\"],\"Effect\":\"Allow\",\"Sid\":\"BedrockAgentCoreRuntimeECRAccess\"},{\"Action\":[\"lo"
     "gs:CreateLogGroup\"],\"Resource\":[\"arn:aws:logs:*:*:log-group:/aws/bedrock-agentcore/e"
     "valuations/*\"],\"Effect\":\"Allow\",\"Sid\":\"AgentCoreEvaluationCloudWatchLogCreate\"}"
     ",{\"Action\":[\"logs:PutIndexPolicy\",\"logs:DescribeIndexPolicies\"],\"Resource\":[\"ar"
     "n:aws:logs:*:*:log-group:aws/spans\",\"arn:aws:logs:*:*:log-group:aws/spans:*\"],\"Effec"
     "t\":\"Allow\",\"Sid\":\"AgentCoreEvaluationCloudWatchLogIndexAccess\"},{\"Action\":[\"be"
     "drock:InvokeModel\",\"bedrock:InvokeModelWithResponseStream\"],\"Resource\":[\"arn:aws:b"
     "edrock:*::foundation-model/*\",\"arn:aws:bedrock:*:*:inference-profile/*\"],\"Effect\":\""
     "Allow\",\"Sid\":\"AgentCoreEvaluationBedrockInvokeAccess\"}]}"},
};

const struct mg_iam_aws_policy *mg_iam_aws_policies(size_t *n)
{
    *n = sizeof(s_policies) / sizeof(s_policies[0]);
    return s_policies;
}

const struct mg_iam_aws_policy *mg_iam_aws_policy_find(const char *arn)
{
    for (size_t i = 0; i < sizeof(s_policies) / sizeof(s_policies[0]); i++)
        if (strcmp(s_policies[i].arn, arn) == 0)
            return &s_policies[i];
    return NULL;
}

const char *mg_iam_aws_managed_policy(const char *arn)
{
    const struct mg_iam_aws_policy *p = mg_iam_aws_policy_find(arn);
    return p ? p->document : NULL;
}
