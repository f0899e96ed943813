"""Translate a SAM template with samtranslator, as CloudFormation's
AWS::Serverless-2016-10-31 transform does, once per set of parameter values,
and print the results as a JSON list (one process: importing the libraries
takes most of the time).

    python3 sam_translate.py TEMPLATE '[{"AuthMode": "jwt", ...}, ...]'

The parameter values are those SAM sees (it resolves some intrinsics with
them); Conditions stay in the output for the caller to evaluate. samtranslator
comes with cfn-lint (pip install cfn-lint); the YAML loader is cfn-lint's,
which reads the short intrinsic forms (!Ref, !Sub, ...).
"""
import json
import os
import sys

from cfnlint.decode import cfn_yaml
from samtranslator.parser import parser
from samtranslator.translator.translator import Translator


def main():
    path, param_sets = sys.argv[1], json.loads(sys.argv[2])
    with open(path, encoding="utf-8") as f:
        template = cfn_yaml.loads(f.read(), path)
    # What sam package does after sam build: each function's local code
    # (CodeUri .) becomes the S3 object it uploaded.
    for logical_id, res in template.get("Resources", {}).items():
        if res.get("Type") == "AWS::Serverless::Function":
            res.setdefault("Properties", {})["CodeUri"] = "s3://artifacts/" + logical_id + ".zip"
    # SAM's ARNs name a partition by region; any real one will do.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # No managed policy names are used by the template: an empty map.
    out = []
    for params in param_sets:
        out.append(Translator(managed_policy_map={}, sam_parser=parser.Parser()).translate(
            sam_template=json.loads(json.dumps(template)),
            parameter_values=params,
            passthrough_metadata=True,
        ))
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
