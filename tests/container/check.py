"""`make container`: build the image and run it for real, the way ECS and `docker compose` do.

1. Build.   `docker build`, timed; the image's size and how many steps came from the cache.
2. Service. The simulator and the service from that image, in two containers on their own
            network. The service runs as the image's user (uid 10001, not root) on a read-only
            root filesystem, its lake on a volume, its feeds pointed at the simulator by the
            `export STREAMER_...` lines the simulator prints. Passes when `streamer health`
            exits 0, Docker reports the container healthy, and trades and tickers rows are in
            its lake; then SIGTERM must end it with exit code 0 well inside ECS's stopTimeout
            (infra/terraform/ecs.tf), with every row it counted in the lake.
3. Stack.   docker-compose.yml (moto, provision, simulator, service) under a project name of its
            own and on free host ports, until Firehose (emulated) has written trades and tickers
            objects under crypto/tabular/ in the bucket; the time from `up` to the first object
            is printed. SIGTERM must end that service with exit code 0 too.

Every container, network and volume it creates is removed at the end, pass or fail. Any
failure prints the containers' logs and exits 1. A machine with no Docker engine at all skips
with exit 0 and says so ("SKIPPED: no docker engine"); an engine that is installed but does
not answer is a failure.

Run with any Python 3.11 (standard library only): `python3 tests/container/check.py`.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, TypeVar

REPO = Path(__file__).resolve().parents[2]
IMAGE_TAG = os.environ.get("CONTAINER_IMAGE_TAG", "streamer:local")  # what compose runs
RUN_ID = f"streamer-check-{os.getpid()}"
UID = "10001"
SIM_PORT = 8765
LAKE = "/var/lib/streamer/lake"
BUCKET = "streamer-lake"  # docker-compose.yml's `streamer provision --bucket`
SIM_HEALTH = (
    'python -c "import urllib.request; '
    f"urllib.request.urlopen('http://127.0.0.1:{SIM_PORT}/api/v3/ping', timeout=2)\""
)
COUNTS_SQL = (
    "SELECT (SELECT count(*) FROM crypto_trades) AS trades, "
    "(SELECT count(*) FROM crypto_tickers) AS tickers"
)
# Run inside the compose service (it has boto3 and the emulator's AWS_* settings): objects
# per dataset under crypto/tabular/, and the first line of one trades object.
LIST_BUCKET = f"""
import gzip, json, boto3
s3 = boto3.client("s3")
counts, sample = {{}}, None
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="{BUCKET}",
                                                         Prefix="crypto/tabular/"):
    for obj in page.get("Contents", []):
        dataset = obj["Key"].split("/")[2]
        counts[dataset] = counts.get(dataset, 0) + 1
        if dataset == "trades" and sample is None:
            body = s3.get_object(Bucket="{BUCKET}", Key=obj["Key"])["Body"].read()
            body = gzip.decompress(body) if body[:2] == b"\\x1f\\x8b" else body
            sample = json.loads(body.splitlines()[0])
print(json.dumps({{"counts": counts, "sample": sample}}))
"""

T = TypeVar("T")


class CheckFailed(Exception):
    """A step did not pass; the message says which and why."""


def say(message: str) -> None:
    print(f"container: {message}", flush=True)


def sh(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; with `check`, a non-zero exit is a failure."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        output = (done.stdout + done.stderr).strip()[-3000:]
        raise CheckFailed(f"`{' '.join(args[:4])} ...` exited {done.returncode}:\n{output}")
    return done


def wait_for(
    what: str, probe: Callable[[], T | None], seconds: float, seen: dict[str, object] | None = None
) -> T:
    """Call `probe` every second until it returns something other than None; fail after
    `seconds`, naming what the probe last recorded in `seen`."""
    deadline = time.monotonic() + seconds
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            last = f"; last seen: {seen}" if seen else ""
            raise CheckFailed(f"timed out after {seconds:.0f} s waiting for {what}{last}")
        time.sleep(1.0)


def inspect(name: str, template: str) -> str:
    return sh("docker", "inspect", "-f", template, name).stdout.strip()


def assert_running(name: str) -> None:
    if inspect(name, "{{.State.Running}}") != "true":
        code = inspect(name, "{{.State.ExitCode}}")
        raise CheckFailed(f"container {name} stopped (exit code {code})")


def stop_timeout() -> int:
    """ECS's stopTimeout for the container, from the Terraform task definition."""
    found = re.search(r"stopTimeout\s*=\s*(\d+)", (REPO / "infra/terraform/ecs.tf").read_text())
    if not found:
        raise CheckFailed("no stopTimeout in infra/terraform/ecs.tf")
    return int(found.group(1))


def stopped_rows(logs: str) -> dict[str, int]:
    """The per-dataset row counts of the service's last `service.stopped` log line."""
    found = re.findall(r"service\.stopped rows=(\{[^}]*\})", logs)
    if not found:
        raise CheckFailed("the service logged no service.stopped line")
    rows: dict[str, int] = ast.literal_eval(found[-1])
    return rows


# ---- 1. build ----------------------------------------------------------------------------


def build() -> str:
    """Build the image from the checkout; returns its id."""
    with tempfile.TemporaryDirectory() as tmp:
        iidfile = Path(tmp) / "iid"
        started = time.monotonic()
        done = sh(
            "docker", "build", "--iidfile", str(iidfile), "-t", IMAGE_TAG, str(REPO), timeout=1200
        )
        seconds = time.monotonic() - started
        image = iidfile.read_text().strip()
    output = done.stdout + done.stderr
    # The legacy builder prints "Step n/m : ..." and "Using cache"; BuildKit "CACHED".
    layers = len(re.findall(r"^Step \d+/\d+ : (?!FROM |ARG )", output, re.M))
    cached = len(re.findall(r"Using cache|CACHED", output))
    reused = f"{cached} of {layers} steps" if layers else f"{cached} steps"
    size_mb = int(inspect(image, "{{.Size}}")) / 1e6
    say(
        f"build {seconds:.1f} s ({reused} from the cache), "
        f"image {IMAGE_TAG} {image[7:19]} {size_mb:.0f} MB"
    )
    return image


# ---- 2. the service and the simulator, by hand -------------------------------------------


def simulator_exports(name: str) -> dict[str, str] | None:
    """The `export STREAMER_...=...` lines the simulator printed, once all are there."""
    logs = sh("docker", "logs", name).stdout
    exports = dict(re.findall(r"^export (STREAMER_[A-Z_]+)=(\S*)$", logs, re.M))
    return exports if "STREAMER_COINGECKO_COINS" in exports else None


def lake_counts(*command: str) -> dict[str, int] | None:
    """Trades and tickers rows in the lake, by `streamer query` run through `command`."""
    done = sh(*command, "query", COUNTS_SQL, "--lake", LAKE, "--format", "json", check=False)
    if done.returncode != 0:
        return None
    counts: dict[str, int] = json.loads(done.stdout)
    return counts


def check_service(image: str, cleanup: list[list[str]], logs: list[Callable[[], None]]) -> None:
    net, sim, svc, volume = RUN_ID, f"{RUN_ID}-sim", f"{RUN_ID}-svc", f"{RUN_ID}-lake"
    sh("docker", "network", "create", net)
    cleanup.append(["docker", "network", "rm", net])
    sh("docker", "volume", "create", volume)
    cleanup.append(["docker", "volume", "rm", "-f", volume])
    cleanup.insert(0, ["docker", "rm", "-f", "-v", sim, svc])
    logs.extend([lambda: print_logs(sim), lambda: print_logs(svc)])

    sh(
        "docker",
        "run",
        "-d",
        "--name",
        sim,
        "--network",
        net,
        "--read-only",
        "--health-cmd",
        SIM_HEALTH,
        "--health-interval",
        "2s",
        "--health-retries",
        "10",
        "--entrypoint",
        "streamer",
        image,
        "simulate",
        "--host",
        "0.0.0.0",
        "--port",
        str(SIM_PORT),
        "--rate",
        "50",
    )
    exports = wait_for("the simulator's export lines", lambda: simulator_exports(sim), 60)
    # The simulator names the address it listens on (0.0.0.0); other containers use its name.
    env = {
        key: value.replace(f"0.0.0.0:{SIM_PORT}", f"{sim}:{SIM_PORT}")
        for key, value in exports.items()
    }
    wait_for(
        "the simulator to be healthy",
        lambda: True if inspect(sim, "{{.State.Health.Status}}") == "healthy" else None,
        60,
    )

    env |= {"STREAMER_SINK": "lake", "STREAMER_LAKE_DIR": LAKE, "STREAMER_LAKE_BUFFER_SECONDS": "2"}
    started = time.monotonic()
    sh(
        "docker",
        "run",
        "-d",
        "--name",
        svc,
        "--network",
        net,
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--volume",
        f"{volume}:/var/lib/streamer",
        *(f"--env={key}={value}" for key, value in sorted(env.items())),
        image,
    )

    user = inspect(svc, "{{.Config.User}}")
    uid = sh("docker", "exec", svc, "id", "-u").stdout.strip()
    if uid in ("", "0") or uid != UID or user.split(":")[0] in ("", "0", "root"):
        raise CheckFailed(f"the service runs as uid {uid!r} (image user {user!r}), want {UID}")
    if inspect(svc, "{{.HostConfig.ReadonlyRootfs}}") != "true":
        raise CheckFailed("the service's root filesystem is writable")
    if sh("docker", "exec", svc, "touch", "/opt/streamer/probe", check=False).returncode == 0:
        raise CheckFailed("the service could write to /opt/streamer on a read-only root")
    say(f"service runs as uid {uid} (image user {user}) on a read-only root filesystem")

    seen: dict[str, object] = {}

    def ready() -> dict[str, int] | None:
        assert_running(svc)
        status = inspect(svc, "{{.State.Health.Status}}")
        if status == "unhealthy":
            raise CheckFailed("Docker reports the service unhealthy")
        health = sh("docker", "exec", svc, "streamer", "health", check=False).returncode
        counts = lake_counts("docker", "exec", svc, "streamer")
        seen.update(docker_health=status, streamer_health_exit=health, lake_rows=counts)
        if health == 0 and status == "healthy" and counts and min(counts.values()) > 0:
            return counts
        return None

    # The image's HEALTHCHECK runs every 30 s, so "healthy" takes about that long.
    counts = wait_for("the service healthy with trades and tickers in its lake", ready, 150, seen)
    say(f"service healthy after {time.monotonic() - started:.1f} s; lake rows {counts}")

    started = time.monotonic()
    sh("docker", "stop", "--time", "60", svc, timeout=90)  # SIGTERM, SIGKILL after 60 s
    seconds = time.monotonic() - started
    code = inspect(svc, "{{.State.ExitCode}}")
    limit = stop_timeout()
    say(f"service SIGTERM to exit {seconds:.1f} s, exit code {code} (ECS stopTimeout {limit} s)")
    if code != "0":
        raise CheckFailed(f"the service exited {code} after SIGTERM, want 0")
    if seconds > limit / 2:
        raise CheckFailed(f"the service took {seconds:.1f} s to stop, over half of {limit} s")

    # What it counted out is in the lake: the drain lost nothing.
    printed = sh("docker", "logs", svc)
    rows = stopped_rows(printed.stdout + printed.stderr)
    after = lake_counts(
        "docker",
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--volume",
        f"{volume}:/var/lib/streamer",
        "--entrypoint",
        "streamer",
        image,
    )
    want = {"trades": rows.get("trades", 0), "tickers": rows.get("tickers", 0)}
    if after != want:
        raise CheckFailed(f"after SIGTERM the lake holds {after}, the service counted {want}")
    say(f"after SIGTERM the lake holds every row the service counted: {after}")


# ---- 3. the compose stack ----------------------------------------------------------------


def compose_command() -> list[str]:
    """`docker compose` (v2 plugin) if present, else `docker-compose` (v1)."""
    if sh("docker", "compose", "version", check=False).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise CheckFailed("neither `docker compose` nor `docker-compose` is installed")


def check_stack(image: str, cleanup: list[list[str]], logs: list[Callable[[], None]]) -> None:
    project = RUN_ID.replace("-", "")  # v1 and v2 agree on names of [a-z0-9]
    compose = [
        *compose_command(),
        "--project-name",
        project,
        "--file",
        str(REPO / "docker-compose.yml"),
    ]
    # The image just built, by a tag naming its content (compose v2 takes no bare image id;
    # a shared tag could be rebuilt by someone else meanwhile), on free host ports.
    tag = f"streamer:check-{image.removeprefix('sha256:')[:12]}"
    sh("docker", "tag", image, tag)
    cleanup.append(["docker", "rmi", tag])
    os.environ |= {
        "STACK_AWS_PORT": "0",
        "STACK_SIMULATOR_PORT": "0",
        "STACK_HEALTH_PORT": "0",
        "STACK_IMAGE": tag,
    }
    cleanup.insert(0, [*compose, "down", "--volumes", "--remove-orphans", "--timeout", "10"])
    logs.append(
        lambda: print(
            sh(*compose, "logs", "--no-color", "--tail", "60", check=False).stdout[-8000:]
        )
    )

    started = time.monotonic()
    sh(*compose, "up", "--detach", "--no-build", timeout=300)
    up_seconds = time.monotonic() - started
    service = sh(*compose, "ps", "--quiet", "streamer").stdout.strip()
    if not service:
        raise CheckFailed("compose started no streamer container")
    first: list[float] = []
    seen: dict[str, object] = {}

    def delivered() -> dict[str, object] | None:
        assert_running(service)
        done = sh(*compose, "exec", "-T", "streamer", "python", "-c", LIST_BUCKET, check=False)
        if done.returncode != 0:
            seen["listing_error"] = done.stderr.strip()[-500:]
            return None
        listing: dict[str, object] = json.loads(done.stdout)
        counts = seen["objects"] = listing["counts"]
        assert isinstance(counts, dict)
        if counts and not first:
            first.append(time.monotonic() - started)
            say(
                f"stack: first S3 object {first[0]:.1f} s after `compose up` "
                f"(up returned after {up_seconds:.1f} s)"
            )
        if counts.get("trades", 0) > 0 and counts.get("tickers", 0) > 0:
            return listing
        return None

    listing = wait_for("Firehose objects of trades and tickers in the bucket", delivered, 180, seen)
    sample = listing["sample"]
    if not isinstance(sample, dict) or not sample.get("record_id") or "price" not in sample:
        raise CheckFailed(f"a trades object in the bucket does not hold trade rows: {sample}")
    say(
        f"stack: objects per dataset under s3://{BUCKET}/crypto/tabular/: {listing['counts']}; "
        f"a trade: {sample['exchange']} {sample['symbol']} {sample['price']}"
    )
    health = sh(*compose, "exec", "-T", "streamer", "streamer", "health", check=False)
    if health.returncode != 0:
        raise CheckFailed(f"`streamer health` in the stack exited {health.returncode}")

    started = time.monotonic()
    sh(*compose, "stop", "--timeout", "60", "streamer", timeout=90)
    seconds = time.monotonic() - started
    code = inspect(service, "{{.State.ExitCode}}")
    say(f"stack: service (Firehose sink) SIGTERM to exit {seconds:.1f} s, exit code {code}")
    if code != "0":
        raise CheckFailed(f"the stack's service exited {code} after SIGTERM, want 0")


# ---- the run -----------------------------------------------------------------------------


def print_logs(name: str) -> None:
    done = sh("docker", "logs", "--tail", "60", name, check=False)
    print(f"----- docker logs {name} (last 60 lines) -----")
    print((done.stdout + done.stderr)[-8000:])


def skip_without_engine() -> None:
    """Exit 0 only when there is no Docker engine at all; fail when one does not answer."""
    if shutil.which("docker") and sh("docker", "info", check=False).returncode == 0:
        return
    if shutil.which("dockerd"):
        fail("a Docker engine is installed (dockerd) but does not answer `docker info`")
    print("\n*** container: SKIPPED: no docker engine (the image was NOT built or run) ***\n")
    sys.exit(0)


def fail(message: str) -> NoReturn:
    print(f"\ncontainer: FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


@contextmanager
def removing(cleanup: list[list[str]]) -> Iterator[None]:
    """Run every cleanup command at the end, whatever happened (SIGTERM included)."""

    def interrupted(*_: object) -> NoReturn:
        raise CheckFailed("interrupted by SIGTERM")

    signal.signal(signal.SIGTERM, interrupted)
    try:
        yield
    finally:
        for command in cleanup:
            sh(*command, check=False, timeout=120)


def main() -> int:
    skip_without_engine()
    started = time.monotonic()
    cleanup: list[list[str]] = []
    logs: list[Callable[[], None]] = []
    with removing(cleanup):
        try:
            image = build()
            check_service(image, cleanup, logs)
            check_stack(image, cleanup, logs)
        except (CheckFailed, subprocess.TimeoutExpired) as exc:
            for show in logs:
                show()
            fail(str(exc))
    say(f"OK in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
