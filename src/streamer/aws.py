"""AWS at the boundary: the boto3 session and clients, and what a botocore error means.

`session` is the standard credential chain, with `AWS_REGION` honoured (ECS sets it; botocore
itself reads only `AWS_DEFAULT_REGION` and profiles) and `AWS_ENDPOINT_URL` left to botocore
(it routes every client to an emulator). `firehose_client` turns botocore's own retries off,
since `retry.py` is the one retry policy. `classify` translates botocore's exceptions into the
three answers a caller needs: throttled, transient (both worth retrying) or permanent.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Literal

from streamer.errors import ConfigError
from streamer.retry import Retryable
from streamer.settings import FirehoseSettings

log = logging.getLogger(__name__)

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


def check_streams(client: Any, streams: list[str]) -> None:
    """Before the first row: credentials that work and every delivery stream in place.

    `ConfigError` (one line, exit 2) when no credentials are found or AWS rejects them, and
    when a stream does not exist; anything else (the network, throttling, a role that may
    put but not describe) is logged and the sink starts anyway, spooling if it must.
    """
    from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

    region = client.meta.region_name
    for stream in streams:
        try:
            answer = client.describe_delivery_stream(DeliveryStreamName=stream, Limit=1)
        except (NoCredentialsError, PartialCredentialsError):
            raise ConfigError(
                "AWS credentials",
                "none were found (environment, profile, web identity or the ECS task role)",
                "Set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            ) from None
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("UnrecognizedClientException", "InvalidSignatureException",
                        "ExpiredTokenException", "InvalidClientTokenId"):  # fmt: skip
                raise ConfigError(
                    "AWS credentials",
                    f"AWS rejects them ({code})",
                    "Check AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or renew them",
                ) from None
            if code == "ResourceNotFoundException":
                raise ConfigError(
                    "STREAMER_FIREHOSE_PREFIX",
                    f"the delivery stream {stream} does not exist in {region}",
                    "Create the streams (infra/terraform, or `streamer provision` on an "
                    "emulator), or set the prefix and AWS_REGION they were made with",
                ) from None
            log.warning("firehose.unchecked stream=%s error=%s (starting anyway)", stream, code)
            return
        except Exception as exc:  # the network: the sink retries and spools
            log.warning("firehose.unchecked stream=%s error=%s (starting anyway)",
                        stream, type(exc).__name__)  # fmt: skip
            return
        status = answer.get("DeliveryStreamDescription", {}).get("DeliveryStreamStatus")
        if status != "ACTIVE":
            log.warning("firehose.stream_not_active stream=%s status=%s", stream, status)
