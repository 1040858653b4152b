"""The Athena stand-in (`tests/athena_fake.py`) reads both of Athena's wire protocols, whichever
the installed botocore speaks: JSON 1.1 (`X-Amz-Target`, up to botocore 1.44.13) and REST-JSON
(method and path, from 1.44.18). The installed botocore sends one of them; the other is sent by
a client made from the same model rewritten to JSON 1.1 (botocore keeps that serializer), so both
are checked whichever botocore uv.lock holds. A JSON 1.1 model cannot be turned into REST-JSON
(it has no routes): under such a botocore the REST-JSON case skips."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from tests import athena_wire
from tests.athena_fake import FakeAthena, serve

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def installed_protocol() -> str:
    model = botocore.session.get_session().get_service_model("athena")
    return str(model.protocol)


def session_speaking(protocol: str, data_path: Path) -> boto3.Session:
    """A boto3 session whose Athena client speaks `protocol`."""
    if protocol == installed_protocol():
        return boto3.Session()
    if protocol != "json":
        pytest.skip(f"botocore {botocore.__version__} speaks {installed_protocol()} to Athena")
    model = copy.deepcopy(botocore.loaders.Loader().load_service_model("athena", "service-2"))
    model["metadata"].update(
        protocol="json", protocols=["json"], jsonVersion="1.1", targetPrefix="AmazonAthena"
    )
    for operation in model["operations"].values():
        operation["http"] = {"method": "POST", "requestUri": "/"}
    for shape in model["shapes"].values():
        for member in shape.get("members", {}).values():
            if member.pop("location", None):
                member.pop("locationName", None)
    folder = data_path / "athena" / model["metadata"]["apiVersion"]
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(data_path))
    return boto3.Session(botocore_session=session)


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client(
        "s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1", **CREDENTIALS
    )
    client.create_bucket(Bucket="lake")
    try:
        yield client
    finally:
        server.stop()


@pytest.mark.parametrize("protocol", ["json", "rest-json"])
def test_the_fake_answers_either_protocol(protocol: str, s3: Any, tmp_path: Path) -> None:
    fake = FakeAthena(s3, "lake")
    with serve(fake) as url:
        athena = session_speaking(protocol, tmp_path).client(
            "athena", endpoint_url=url, region_name="us-east-1", **CREDENTIALS
        )
        assert athena.meta.service_model.protocol == protocol
        started = athena.start_query_execution(
            QueryString="SELECT 41 + 1 AS answer",
            WorkGroup="streamer",
            QueryExecutionContext={"Database": "crypto"},
        )["QueryExecutionId"]
        states = [
            athena.get_query_execution(QueryExecutionId=started)["QueryExecution"]["Status"][
                "State"
            ]
            for _ in range(2)
        ]
        assert states == ["RUNNING", "SUCCEEDED"]
        rows = athena.get_query_results(QueryExecutionId=started, MaxResults=10)["ResultSet"]
        assert [[c["VarCharValue"] for c in r["Data"]] for r in rows["Rows"]] == [
            ["answer"],
            ["42"],
        ]
        athena.stop_query_execution(QueryExecutionId=started)
        described = athena.get_query_execution(QueryExecutionId=started)["QueryExecution"]
        assert described["Status"]["State"] == "CANCELLED"
        assert (described["WorkGroup"], described["QueryExecutionContext"]) == (
            "streamer",
            {"Database": "crypto"},
        )
        with pytest.raises(ClientError) as error:
            athena.get_query_execution(QueryExecutionId="no/such-id")
        assert error.value.response["Error"]["Code"] == "InvalidRequestException"
        assert "no/such-id" in error.value.response["Error"]["Message"]
        with pytest.raises(ClientError) as error:  # an operation the fake does not serve
            athena.list_work_groups()
        assert error.value.response["Error"]["Code"] in (
            "InvalidRequestException",
            "UnknownOperationException",
        )
    assert fake.statements == ["SELECT 41 + 1 AS answer"]


def test_rest_paths_and_query_strings_are_read_by_the_model() -> None:
    if installed_protocol() != "rest-json":
        pytest.skip(f"botocore {botocore.__version__} speaks {installed_protocol()} to Athena")
    call = athena_wire.read(
        "GET", "/query-executions/a%2Fb/results?MaxResults=10&NextToken=t%3D", {}, b""
    )
    assert (call.operation, call.protocol) == ("GetQueryResults", "rest-json")
    assert call.params == {"QueryExecutionId": "a/b", "MaxResults": 10, "NextToken": "t="}
    call = athena_wire.read("POST", "/query-executions", {}, b'{"QueryString": "SELECT 1"}')
    assert (call.operation, call.params) == ("StartQueryExecution", {"QueryString": "SELECT 1"})
    with pytest.raises(athena_wire.UnknownOperation):
        athena_wire.read("POST", "/", {}, b"{}")
