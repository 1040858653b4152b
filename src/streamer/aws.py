"""AWS at the boundary: the boto3 session and clients, and what a botocore error means.

`session` is the standard credential chain, with `AWS_REGION` honoured (ECS sets it; botocore
itself reads only `AWS_DEFAULT_REGION` and profiles) and `AWS_ENDPOINT_URL` left to botocore
(it routes every client to an emulator). `firehose_client` turns botocore's own retries off,
since `retry.py` is the one retry policy. `classify` translates botocore's exceptions into the
three answers a caller needs: throttled, transient (both worth retrying) or permanent.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from streamer.errors import ConfigError
from streamer.retry import Retryable
from streamer.settings import FirehoseSettings

Kind = Literal["throttled", "transient", "permanent"]

THROTTLING = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "LimitExceededException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
    }
)
TRANSIENT = frozenset(
    {
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


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


def firehose_client(settings: FirehoseSettings) -> Any:
    """A boto3 Firehose client: standard credential chain, `AWS_ENDPOINT_URL` honoured."""
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},  # retry.py's policy retries
        connect_timeout=settings.request_timeout,
        read_timeout=settings.request_timeout,
        max_pool_connections=settings.max_in_flight,
        tcp_keepalive=True,
    )
    return session().client("firehose", config=config)


def classify(exc: BaseException) -> Kind:
    """'throttled', 'transient' (retry) or 'permanent' (retrying will not help)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        HTTPClientError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in THROTTLING or status == 429:
            return "throttled"
        if code in TRANSIENT or status >= 500:
            return "transient"
        return "permanent"
    if isinstance(exc, HTTPClientError | BotoConnectionError | OSError | Retryable):
        return "transient"  # connection refused or reset, timeouts, per-record failures
    if isinstance(exc, NoCredentialsError | NoRegionError | ParamValidationError):
        return "permanent"
    if isinstance(exc, BotoCoreError):
        return "transient"
    return "permanent"  # a bug (TypeError, ...) is not cured by waiting
