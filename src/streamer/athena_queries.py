"""Statements on Amazon Athena through boto3: start one, wait for its end, read its rows.

`streamer compact --engine athena` and `streamer audit --engine athena` both run their SQL here,
so there is one way to wait for Athena: poll from `poll_seconds`, half as long again after each
answer, at most 10 s apart, and stop the query when it outlives `timeout`. Starting and waiting
are separate calls, so a caller can start several queries and then wait for each (they run in
Athena at the same time). What Athena refuses (a failed, cancelled or stopped query) is raised as
`AthenaQueryFailed` with Athena's reason, which names the object it could not read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from streamer.errors import StreamerError

log = logging.getLogger(__name__)

DONE = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
MAX_POLL_SECONDS = 10.0


class AthenaQueryFailed(StreamerError):
    """An Athena query failed, was cancelled, or ran past its deadline and was stopped."""


@dataclass(frozen=True, slots=True)
class AthenaQueries:
    """`client` is a boto3 Athena client (or anything with its methods)."""

    client: Any
    workgroup: str
    database: str
    sleep: Callable[[float], None] = field(default=time.sleep)
    monotonic: Callable[[], float] = field(default=time.monotonic)
    poll_seconds: float = 1.0
    timeout: float = 3600.0

    def start(self, text: str) -> str:
        """Starts one statement in the workgroup, against the database; its execution id."""
        started = self.client.start_query_execution(
            QueryString=text,
            QueryExecutionContext={"Database": self.database},
            WorkGroup=self.workgroup,
        )
        qid: str = started["QueryExecutionId"]
        return qid

    def wait(self, qid: str, what: str) -> dict[str, Any]:
        """The execution once it succeeded; `AthenaQueryFailed` (starting with `what`) if not."""
        deadline = self.monotonic() + self.timeout
        delay = self.poll_seconds
        while True:
            execution: dict[str, Any] = self.client.get_query_execution(QueryExecutionId=qid)[
                "QueryExecution"
            ]
            status = execution["Status"]
            if status["State"] == "SUCCEEDED":
                log.debug("athena.query_succeeded id=%s", qid)
                return execution
            if status["State"] in DONE:
                reason = status.get("StateChangeReason", "no reason given")
                raise AthenaQueryFailed(
                    f"{what}: Athena query {qid} {status['State'].lower()}: {reason}"
                )
            if self.monotonic() > deadline:
                self.client.stop_query_execution(QueryExecutionId=qid)
                raise AthenaQueryFailed(
                    f"{what}: Athena query {qid} ran past {self.timeout:.0f} s and was stopped"
                )
            self.sleep(delay)
            delay = min(delay * 1.5, MAX_POLL_SECONDS)

    def run(self, text: str, what: str) -> dict[str, Any]:
        """Starts one statement and waits for it."""
        return self.wait(self.start(text), what)

    def rows(self, qid: str) -> Iterator[tuple[str | None, ...]]:
        """The rows of a finished SELECT, as Athena's text (None for NULL), page by page; the
        header row Athena puts first is left out."""
        token: str | None = None
        while True:
            page = self.client.get_query_results(
                QueryExecutionId=qid, **({"NextToken": token} if token else {})
            )
            for row in page["ResultSet"]["Rows"][0 if token else 1 :]:
                yield tuple(d.get("VarCharValue") for d in row["Data"])
            token = page.get("NextToken")
            if not token:
                return
