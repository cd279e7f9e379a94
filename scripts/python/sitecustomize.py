"""Teaches an older botocore the endpoint settings of newer ones, so that scripts written for a
current boto3 run unchanged against mcpgate with a distribution's boto3 (Debian 12 ships
boto3 1.26 / botocore 1.29).

botocore 1.31 and later take a client's endpoint from AWS_ENDPOINT_URL_<SERVICE>,
AWS_ENDPOINT_URL and the profile's `endpoint_url` setting; older ones ignore all three and
send every request, the AssumeRole of a `role_arn` + `source_profile` profile included, to AWS
itself. With this folder on PYTHONPATH (scripts/run prints the export; the boto3 tests set it),
such a botocore is given the same behaviour: an `endpoint_url` passed to the client
still wins, then the environment variables, then the profile. A botocore that already has the
feature, or has AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true, is left alone.

Nothing is imported until the program imports botocore itself.
"""
import importlib.abc
import importlib.machinery
import os
import sys


def _configured_endpoint(session, service_name):
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    service_id = service_name
    try:
        model = session.get_service_model(service_name)
        service_id = model.service_id.hyphenize()
    except Exception:  # an unknown service: botocore itself reports it
        pass
    env_name = "AWS_ENDPOINT_URL_" + service_id.upper().replace("-", "_").replace(" ", "_")
    for name in (env_name, "AWS_ENDPOINT_URL"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        return session.get_scoped_config().get("endpoint_url") or None
    except Exception:  # a profile that does not exist: botocore itself reports it
        return None


def _patch(session_module):
    from botocore import __version__ as version

    major, minor = (int(x) for x in version.split(".")[:2])
    if (major, minor) >= (1, 31):
        return
    cls = session_module.Session
    original = cls.create_client
    if getattr(original, "_mcpgate_endpoints", False):
        return

    def create_client(self, service_name, *args, **kwargs):
        # endpoint_url is the 6th positional parameter of create_client.
        if len(args) < 5 and kwargs.get("endpoint_url") is None:
            url = _configured_endpoint(self, service_name)
            if url:
                kwargs["endpoint_url"] = url
        return original(self, service_name, *args, **kwargs)

    create_client._mcpgate_endpoints = True
    cls.create_client = create_client


class _Loader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        try:
            _patch(module)
        except Exception as e:  # never break botocore itself
            print(f"mcpgate sitecustomize: endpoint settings not added: {e}", file=sys.stderr)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != "botocore.session":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


sys.meta_path.insert(0, _Finder())

# Run the distribution's own sitecustomize too (this one hides it from the import system).
_here = os.path.dirname(os.path.abspath(__file__))
for _dir in sys.path:
    _candidate = os.path.join(_dir or ".", "sitecustomize.py")
    if os.path.abspath(_dir or ".") != _here and os.path.isfile(_candidate):
        with open(_candidate, encoding="utf-8") as _f:
            exec(compile(_f.read(), _candidate, "exec"), {"__name__": "sitecustomize"})
        break
