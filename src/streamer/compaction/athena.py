"""The Athena engine: Athena computes the day, this process only orchestrates.

For one dataset and day, in this order:

1. list the day's raw objects (none: nothing to do, not an error);
2. CTAS (`sql.create_table_as`) into a table of this run: Athena writes at most
   `MAX_FILES_PER_DAY` ZSTD Parquet files to a fresh location under the workgroup's results,
   lists them in the query's data manifest and counts the rows (`UpdateCount`);
   Rows whose decimals did not read (a value out of range reads as NULL) are left out; a
   second query (`sql.rejects_select`) names them, and they are written to the rejects
   dataset (`rejects.py`);
3. refuse to replace an earlier run that kept more rows (raw objects were expired since);
4. if the day was compacted before: rewrite the view without it (the day reads raw, which is
   complete) and delete its manifest;
5. copy the files to `crypto/compacted/<dataset>/year=/month=/day=/<run>-N.parquet`, then
   delete every other file there (earlier runs, crashed runs);
6. write the manifest, then rewrite the view `crypto_<dataset>` with the day in it;
7. tag the raw objects (`layout.RAW_TAG`) for the optional lifecycle rule, drop the CTAS
   table and delete its files.

A Hive `INSERT INTO` would append on a second run, and the workgroup enforces its result
location (so a CTAS cannot pick one): hence a fresh CTAS per run, copied into place. Until
step 5 nothing users read has changed; from step 4 to step 6 the day reads its raw objects. A
failed query stops the day with Athena's reason (which names an unreadable object).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

from streamer.athena_queries import AthenaQueries, AthenaQueryFailed
from streamer.compaction import rejects, sql
from streamer.compaction.layout import (
    RAW_TAG,
    compacted_day_prefix,
    day_of_manifest_key,
    file_key,
    manifest_key,
    manifest_prefix,
    raw_day_prefix,
)
from streamer.compaction.manifests import (
    Manifest,
    Outcome,
    nothing_to_compact,
    refuse_fewer_rows,
)
from streamer.errors import CompactionError, ConfigError
from streamer.schema import GLUE_DATABASE, Dataset
from streamer.settings import Settings

log = logging.getLogger(__name__)

ENGINE = "athena"


class AthenaCompactor:
    """`athena` and `s3` are boto3 clients (or anything with their methods)."""

    engine = ENGINE

    def __init__(
        self,
        bucket: str,
        workgroup: str,
        athena: Any,
        s3: Any,
        database: str = GLUE_DATABASE,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        poll_seconds: float = 1.0,
        query_timeout: float = 3600.0,
        threads: int = 16,
    ) -> None:
        self.bucket = bucket
        self.workgroup = workgroup
        self.athena = athena
        self.s3 = s3
        self.database = database
        self.threads = threads
        self.queries = AthenaQueries(
            athena, workgroup, database, sleep, monotonic, poll_seconds, query_timeout
        )

    def compact(self, dataset: Dataset, day: date, run: str, now_iso: str) -> Outcome:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._compact(dataset, day, run, now_iso)
        except (BotoCoreError, ClientError) as exc:
            raise CompactionError(f"{dataset.name} {day}: AWS refused a call: {exc}") from None

    def _compact(self, dataset: Dataset, day: date, run: str, now_iso: str) -> Outcome:
        raw = self._list(raw_day_prefix(dataset, day))
        previous = self._manifest(dataset, day)
        if not raw:
            return nothing_to_compact(dataset, day, previous)
        table = f"compaction_tmp_{dataset.name}_{run}"
        staged: list[tuple[str, str]] = []
        try:
            what = f"{dataset.name} {day}: the compaction query"
            execution = self._query(sql.create_table_as(dataset, day, table), what)
            rows = self._update_count(execution["QueryExecutionId"])
            staged = self._written_files(execution)
            rejected = self._reject_left_out(dataset, day)
            if rows == 0:
                return nothing_to_compact(dataset, day, previous)
            refuse_fewer_rows(dataset, day, rows, previous)
            manifest = self._replace(dataset, day, run, now_iso, staged, rows, raw, previous)
        finally:
            self._clean_up(dataset, day, table, staged)
        self._tag(dataset, day, [key for key, _ in raw])
        return Outcome(dataset.name, day, "compacted", manifest, rejected)

    def _reject_left_out(self, dataset: Dataset, day: date) -> int:
        """Writes the day's rows whose decimals did not read to the rejects dataset."""
        select = sql.rejects_select(dataset, sql.quote(dataset.glue_table), day)
        qid = self._query(select, f"{dataset.name} {day}: the rejects query")["QueryExecutionId"]
        rows: list[tuple[str, str, str | None, str]] = []
        for reason, raw, received_at, hour in self.queries.rows(qid):
            rows.append((reason or "", raw or "", received_at, hour or "0"))
        for key, body in rejects.objects(dataset, day, rows).items():
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        if rows:
            log.warning("compact.rejected dataset=%s day=%s rows=%d", dataset.name, day, len(rows))
        return len(rows)

    def _clean_up(
        self, dataset: Dataset, day: date, table: str, staged: list[tuple[str, str]]
    ) -> None:
        """Drop the CTAS table and delete its files; a failure here only leaves garbage that
        the results prefix's lifecycle rule expires, so it is logged, not raised."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._query(sql.drop_table(table), f"{dataset.name} {day}: dropping {table}")
            for bucket, key in staged:
                self.s3.delete_object(Bucket=bucket, Key=key)
        except (CompactionError, BotoCoreError, ClientError) as exc:
            log.warning("compact.cleanup_failed dataset=%s day=%s error=%s", dataset.name, day, exc)

    def _replace(
        self,
        dataset: Dataset,
        day: date,
        run: str,
        now_iso: str,
        staged: list[tuple[str, str]],
        rows: int,
        raw: list[tuple[str, int]],
        previous: Manifest | None,
    ) -> Manifest:
        days = self._compacted_days(dataset)
        view = f"{dataset.name} {day}: rewriting the view {dataset.table}"
        if previous is not None:
            self._query(sql.create_view(dataset, days - {day}), view)
            self._delete([manifest_key(dataset, day)])
        keys = [file_key(dataset, day, run, i) for i in range(len(staged))]
        sizes = []
        for (bucket, source), key in zip(staged, keys, strict=True):
            self.s3.copy({"Bucket": bucket, "Key": source}, self.bucket, key)
            sizes.append(self._size(key))
        stale = [k for k, _ in self._list(compacted_day_prefix(dataset, day)) if k not in keys]
        self._delete(stale)
        manifest = Manifest(
            dataset=dataset.name,
            day=day,
            run=run,
            engine=ENGINE,
            files=tuple(keys),
            rows=rows,
            raw_rows=-1,
            raw_objects=len(raw),
            raw_bytes=sum(size for _, size in raw),
            compacted_bytes=sum(sizes),
            compacted_at=now_iso,
        )
        self.s3.put_object(
            Bucket=self.bucket,
            Key=manifest_key(dataset, day),
            Body=manifest.to_json(),
            ContentType="application/json",
        )
        self._query(sql.create_view(dataset, days | {day}), view)
        return manifest

    # --- Athena ---------------------------------------------------------------------------

    def _query(self, text: str, what: str) -> dict[str, Any]:
        """Runs one statement to its end; a failure raises with Athena's reason."""
        try:
            return self.queries.run(text, what)
        except AthenaQueryFailed as exc:
            raise CompactionError(f"{exc}. The previous output is kept") from None

    def _update_count(self, qid: str) -> int:
        results = self.athena.get_query_results(QueryExecutionId=qid, MaxResults=1)
        return int(results.get("UpdateCount", 0))

    def _written_files(self, execution: dict[str, Any]) -> list[tuple[str, str]]:
        """(bucket, key) of each file a CTAS wrote, from its data manifest."""
        location = execution.get("Statistics", {}).get("DataManifestLocation")
        if not location:
            raise CompactionError(
                f"Athena query {execution['QueryExecutionId']} reported no data manifest, so "
                "the files it wrote are unknown. The previous output is kept"
            )
        bucket, key = _split_s3(location)
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        return [_split_s3(line.strip()) for line in body.splitlines() if line.strip()]

    # --- S3 -------------------------------------------------------------------------------

    def _list(self, prefix: str) -> list[tuple[str, int]]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [(o["Key"], int(o["Size"])) for page in pages for o in page.get("Contents", [])]

    def _size(self, key: str) -> int:
        return int(self.s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"])

    def _manifest(self, dataset: Dataset, day: date) -> Manifest | None:
        key = manifest_key(dataset, day)
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return Manifest.from_json(body, f"s3://{self.bucket}/{key}")

    def _compacted_days(self, dataset: Dataset) -> set[date]:
        keys = (key for key, _ in self._list(manifest_prefix(dataset)))
        return {day for day in map(day_of_manifest_key, keys) if day is not None}

    def _delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": k} for k in keys[start : start + 1000]]
            answer = self.s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True}
            )
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise CompactionError(f"cannot delete s3://{self.bucket}/{first['Key']}: {first}")

    def _tag(self, dataset: Dataset, day: date, keys: list[str]) -> None:
        """Marks the day's raw objects as compacted (for the optional lifecycle rule). An
        untagged object is only never expired, so a failure is logged, not raised."""
        from botocore.exceptions import BotoCoreError, ClientError

        tagging = {"TagSet": [{"Key": RAW_TAG[0], "Value": RAW_TAG[1]}]}

        def tag(key: str) -> None:
            self.s3.put_object_tagging(Bucket=self.bucket, Key=key, Tagging=tagging)

        try:
            with ThreadPoolExecutor(self.threads) as pool:
                list(pool.map(tag, keys))
        except (BotoCoreError, ClientError) as exc:
            log.warning("compact.tagging_failed dataset=%s day=%s error=%s", dataset.name, day, exc)


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise CompactionError(f"Athena named {uri!r} where an s3:// location was expected")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def athena_compactor(config: Settings) -> AthenaCompactor:
    """From the settings, with the standard AWS chain (ECS task role, `AWS_ENDPOINT_URL`)."""
    if not config.lake_bucket:
        raise ConfigError(
            "STREAMER_LAKE_BUCKET",
            "no lake bucket is set",
            "Set it to the bucket Terraform made (`terraform output bucket`).",
        )
    if not config.athena.workgroup:
        raise ConfigError(
            "STREAMER_ATHENA_WORKGROUP",
            "no Athena workgroup is set",
            "Set it to the workgroup Terraform made (`terraform output athena_workgroup`).",
        )
    from botocore.config import Config

    from streamer.aws import session

    aws = session()
    retries = Config(retries={"mode": "standard", "max_attempts": 10}, max_pool_connections=16)
    return AthenaCompactor(
        config.lake_bucket,
        config.athena.workgroup,
        aws.client("athena", config=retries),
        aws.client("s3", config=retries),
    )
