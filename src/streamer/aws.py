"""The boto3 session every AWS client here starts from: the standard credential chain, with
`AWS_REGION` honoured (ECS sets it; botocore itself reads only `AWS_DEFAULT_REGION` and
profiles) and `AWS_ENDPOINT_URL` left to botocore (it routes every client to an emulator)."""

from __future__ import annotations

import os
from typing import Any

from streamer.errors import ConfigError


def session() -> Any:
    import boto3

    region = os.environ.get("AWS_REGION") or None
    result = boto3.session.Session(region_name=region)
    if not result.region_name:
        raise ConfigError(
            "AWS_REGION",
            "no AWS region is configured",
            "Set AWS_REGION (e.g. us-east-1), AWS_DEFAULT_REGION, or a region in the profile.",
        )
    return result
