"""Create the lake's bucket and delivery streams on an AWS emulator (moto, LocalStack).

In AWS, Terraform owns these resources (`infra/terraform/`). Against an emulator, for the
local stack and the tests, this module creates the same shape from the same schema: one
Direct PUT stream `<prefix>-<dataset>` per dataset plus `<prefix>-rejects`, each with an
extended S3 destination whose prefix is the dataset's template from `schema.py`.
"""

from __future__ import annotations

from typing import Any

from streamer.schema import DATASETS, ERROR_PREFIX_TEMPLATE, REJECTS, Dataset, stream_name


def destination(dataset: Dataset, bucket: str, role_arn: str) -> dict[str, Any]:
    return {
        "RoleARN": role_arn,
        "BucketARN": f"arn:aws:s3:::{bucket}",
        "Prefix": dataset.prefix_template,
        "ErrorOutputPrefix": ERROR_PREFIX_TEMPLATE,
        "CompressionFormat": "GZIP",
        "BufferingHints": {"IntervalInSeconds": 0, "SizeInMBs": 5},
    }


def provision(
    s3: Any,
    firehose: Any,
    bucket: str,
    prefix: str = "crypto",
    role_arn: str = "arn:aws:iam::000000000000:role/streamer-firehose",
) -> list[str]:
    """Create the bucket and every stream that does not exist yet; returns the stream names."""
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
    have = set(firehose.list_delivery_streams(Limit=100).get("DeliveryStreamNames", []))
    names = []
    for dataset in (*DATASETS.values(), REJECTS):
        name = stream_name(prefix, dataset.name)
        names.append(name)
        if name in have:
            continue
        firehose.create_delivery_stream(
            DeliveryStreamName=name,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration=destination(dataset, bucket, role_arn),
        )
    return names


def provision_from_environment(bucket: str, prefix: str, wait_seconds: float) -> list[str]:
    """`streamer provision`: boto3 clients from the standard AWS environment (`AWS_ENDPOINT_URL`
    pointing at the emulator), retried until the emulator answers or `wait_seconds` pass."""
    import random

    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError
    from tenacity import Retrying, retry_if_exception_type, stop_after_delay

    from streamer.aws import session
    from streamer.retry import Backoff

    aws = session()
    for attempt in Retrying(
        stop=stop_after_delay(wait_seconds),
        wait=Backoff(random.Random(), first=0.25, cap=2.0),
        retry=retry_if_exception_type((ClientError, ConnectionError, HTTPClientError)),
        reraise=True,
    ):
        with attempt:
            return provision(aws.client("s3"), aws.client("firehose"), bucket, prefix)
    raise AssertionError("unreachable: tenacity returns or re-raises")  # pragma: no cover
