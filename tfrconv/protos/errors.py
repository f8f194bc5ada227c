"""The one error the schema tools raise: a release missing, a descriptor the printer cannot
express, or protoc refusing the sources. The command line prints it as one line."""


class GenerateError(Exception):
    pass
