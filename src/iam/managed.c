/* AWS managed policies that gateway setups attach, with the documents AWS publishes. */
#include <string.h>

#include "iam/iam.h"

struct s_managed {
    const char *arn;
    const char *doc;
};

static const struct s_managed s_policies[] = {
    {"arn:aws:iam::aws:policy/AdministratorAccess",
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
     "\"Resource\":\"*\"}]}"},
    {"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":["
     "\"logs:CreateLogGroup\",\"logs:CreateLogStream\",\"logs:PutLogEvents\"],"
     "\"Resource\":\"*\"}]}"},
};

const char *mg_iam_aws_managed_policy(const char *arn)
{
    for (size_t i = 0; i < sizeof(s_policies) / sizeof(s_policies[0]); i++)
        if (strcmp(s_policies[i].arn, arn) == 0)
            return s_policies[i].doc;
    return NULL;
}
