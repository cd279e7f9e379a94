"""mcpgate's Python runtime for Lambda functions.

Speaks the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API) with the standard library only: loads
the handler named by _HANDLER ("module.function", module path relative to LAMBDA_TASK_ROOT),
then loops on invocation/next -> handler -> response / error.
"""
import importlib
import json
import os
import sys
import time
import traceback
import urllib.error
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def _post(path, body, headers=None):
    data = body if isinstance(body, bytes) else body.encode("utf-8")
    req = urllib.request.Request(API + path, data=data, method="POST")
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req) as r:
            r.read()
    except urllib.error.HTTPError as e:
        e.read()


def _error_doc(exc, type_name=None, tb=None):
    stack = traceback.format_list(traceback.extract_tb(tb if tb is not None else exc.__traceback__))
    return {
        "errorMessage": str(exc),
        "errorType": type_name or type(exc).__name__,
        "requestId": "",
        "stackTrace": [s for s in stack],
    }


class _Obj:
    def __init__(self, d):
        for k, v in (d or {}).items():
            setattr(self, k, v)


class ClientContext:
    def __init__(self, d):
        d = d or {}
        self.client = _Obj(d.get("client")) if d.get("client") is not None else None
        self.custom = d.get("custom")
        self.env = d.get("env")


class CognitoIdentity:
    def __init__(self, d):
        d = d or {}
        self.cognito_identity_id = d.get("cognitoIdentityId")
        self.cognito_identity_pool_id = d.get("cognitoIdentityPoolId")


class LambdaContext:
    def __init__(self, request_id, deadline_ms, arn, client_context, identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self._deadline_ms = deadline_ms
        self.client_context = ClientContext(client_context) if client_context is not None else None
        self.identity = CognitoIdentity(identity)

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def __repr__(self):
        return "LambdaContext([aws_request_id=%s,function_name=%s])" % (
            self.aws_request_id, self.function_name)


def _load_handler():
    spec = os.environ.get("_HANDLER", "")
    root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError:
        raise _InitError("Runtime.MalformedHandlerName",
                         "Bad handler '%s': not enough values to unpack (expected 2, got 1)" % spec)
    modpath = modname.replace("/", ".")
    try:
        mod = importlib.import_module(modpath)
    except ModuleNotFoundError as e:
        raise _InitError("Runtime.ImportModuleError",
                         "Unable to import module '%s': %s" % (modname, e))
    except SyntaxError as e:
        raise _InitError("Runtime.UserCodeSyntaxError",
                         "Syntax error in module '%s': %s" % (modname, e))
    except Exception as e:
        raise _InitError("Runtime.ImportModuleError",
                         "Unable to import module '%s': %s" % (modname, e))
    fn = getattr(mod, fname, None)
    if fn is None:
        raise _InitError("Runtime.HandlerNotFound",
                         "Handler '%s' missing on module '%s'" % (fname, modname))
    return fn


class _InitError(Exception):
    def __init__(self, type_name, message):
        super().__init__(message)
        self.type_name = type_name


def main():
    try:
        handler = _load_handler()
    except _InitError as e:
        doc = {"errorMessage": str(e), "errorType": e.type_name, "requestId": "", "stackTrace": []}
        print("[ERROR] %s: %s" % (e.type_name, e), flush=True)
        _post("/init/error", json.dumps(doc), {"Lambda-Runtime-Function-Error-Type": e.type_name})
        sys.exit(1)
    except Exception as e:  # anything raised while importing
        doc = _error_doc(e, "Runtime.ImportModuleError")
        _post("/init/error", json.dumps(doc),
              {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
        sys.exit(1)

    while True:
        with urllib.request.urlopen(API + "/invocation/next") as r:
            body = r.read()
            h = r.headers
        request_id = h.get("Lambda-Runtime-Aws-Request-Id")
        deadline = int(h.get("Lambda-Runtime-Deadline-Ms") or 0)
        arn = h.get("Lambda-Runtime-Invoked-Function-Arn")
        trace = h.get("Lambda-Runtime-Trace-Id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        cc = h.get("Lambda-Runtime-Client-Context")
        ident = h.get("Lambda-Runtime-Cognito-Identity")
        try:
            event = json.loads(body) if body else {}
            ctx = LambdaContext(request_id, deadline, arn,
                                json.loads(cc) if cc else None,
                                json.loads(ident) if ident else None)
            result = handler(event, ctx)
            out = json.dumps(result)
        except Exception as e:
            doc = _error_doc(e)
            doc["requestId"] = request_id
            sys.stdout.write("[ERROR] %s: %s\n" % (doc["errorType"], doc["errorMessage"]))
            sys.stdout.write("".join(doc["stackTrace"]))
            sys.stdout.flush()
            _post("/invocation/%s/error" % request_id, json.dumps(doc),
                  {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
            continue
        _post("/invocation/%s/response" % request_id, out)


if __name__ == "__main__":
    main()
