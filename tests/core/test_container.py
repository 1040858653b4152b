"""Dockerfile, docker-compose.yml and the ECS task agree with the app's settings.

These tests read the files (`make container`, tests/container/check.py, builds and runs them
on a Docker engine): the image is multi-stage, non-root,
without build tools, with `streamer run` as entrypoint and a health check on `streamer health`;
every STREAMER_* value in the image, the compose file and the Terraform task definition is
accepted by the settings loader; ports, paths and users match across them.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from streamer.settings import load
from tests.conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
ECS_TF = (REPO / "infra" / "terraform" / "ecs.tf").read_text()
LOCALS_TF = (REPO / "infra" / "terraform" / "locals.tf").read_text()


def stages() -> list[list[str]]:
    """Dockerfile instructions (continuations joined), split by FROM."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    out: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            out.append([])
        if out:
            out[-1].append(line)
    return out


def instruction(stage: list[str], name: str) -> list[str]:
    return [line[len(name) + 1 :] for line in stage if line.upper().startswith(name + " ")]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in instruction(stages()[-1], "ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def resolve(value: str) -> str:
    """Compose's `${VAR:-default}` with VAR unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def published(port: str) -> tuple[str, str, str]:
    """A compose port `host_ip:host_port:container_port`, defaults resolved."""
    host_ip, host_port, container_port = resolve(port).split(":")
    return host_ip, host_port, container_port


def test_image_is_multi_stage_slim_and_non_root() -> None:
    build, runtime = stages()
    assert build[0].startswith("FROM python:") and build[0].endswith("AS build")
    assert "-slim" in runtime[0]
    assert any("--from=build" in line for line in instruction(runtime, "COPY"))
    (user,) = instruction(runtime, "USER")
    assert user.split(":")[0] not in ("0", "root")
    runtime_text = "\n".join(runtime)
    for tool in ("gcc", "build-essential", "apt-get install", "pip install"):
        assert tool not in runtime_text, f"runtime stage installs {tool}"


def test_entrypoint_runs_the_service_and_health_checks_it() -> None:
    runtime = stages()[-1]
    assert instruction(runtime, "ENTRYPOINT") == ['["streamer", "run"]']
    (check,) = instruction(runtime, "HEALTHCHECK")
    assert check.endswith('CMD ["streamer", "health"]')
    assert instruction(runtime, "EXPOSE") == [image_env()["STREAMER_HEALTH_PORT"]]


def test_image_environment_is_valid_configuration() -> None:
    env = image_env()
    settings = load({k: v for k, v in env.items() if k.startswith("STREAMER_")})
    assert settings.sink == "firehose" and settings.log_format == "json"
    assert settings.health_port == 8080
    assert str(settings.firehose.spool_dir).startswith("/var/lib/streamer/")
    volumes = instruction(stages()[-1], "VOLUME")
    assert volumes == ['["/var/lib/streamer"]']


def test_ecs_task_matches_the_image() -> None:
    env = image_env()
    spool_root = re.search(r'spool_path\s*=\s*"([^"]+)"', LOCALS_TF)
    assert spool_root and env["STREAMER_SPOOL_DIR"] == spool_root.group(1) + "/spool"
    (user,) = instruction(stages()[-1], "USER")
    assert f'user                   = "{user}"' in ECS_TF
    assert 'command     = ["CMD", "streamer", "health"]' in ECS_TF
    assert f'STREAMER_HEALTH_PORT      = "{env["STREAMER_HEALTH_PORT"]}"' in ECS_TF


def test_compose_services_wire_together() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"aws", "provision", "simulator", "streamer"}
    app = services["streamer"]
    env = {k: resolve(v) for k, v in app["environment"].items()}
    settings = load({k: v for k, v in env.items() if k.startswith("STREAMER_")})
    assert settings.sink == "firehose"
    # The emulator's published port is the one the service and provisioner talk to.
    _, _, aws_port = published(services["aws"]["ports"][0])
    assert env["AWS_ENDPOINT_URL"] == f"http://aws:{aws_port}"
    assert services["provision"]["environment"]["AWS_ENDPOINT_URL"] == env["AWS_ENDPOINT_URL"]
    # The feeds point at the simulator's port and paths.
    sim = services["simulator"]["entrypoint"]
    sim_port = sim[sim.index("--port") + 1]
    assert settings.venues["binance"].ws_url == f"ws://simulator:{sim_port}"
    assert settings.venues["coinbase"].ws_url == f"ws://simulator:{sim_port}/coinbase"
    assert settings.venues["coingecko"].url == f"http://simulator:{sim_port}/coingecko/api/v3"
    # Health port published, spool on the named volume, read-only root like on Fargate.
    health = str(settings.health_port)
    assert ("127.0.0.1", health, health) in map(published, app["ports"])
    (volume,) = app["volumes"]
    name, mount = volume.split(":")
    assert name in COMPOSE["volumes"] and str(settings.firehose.spool_dir).startswith(mount)
    assert app["read_only"] is True
    # Streams are created under the prefix the service writes to.
    prov = services["provision"]
    assert prov["entrypoint"][:2] == ["streamer", "provision"]
    assert prov["environment"]["STREAMER_FIREHOSE_PREFIX"] == settings.firehose.stream_prefix
    assert app["depends_on"]["provision"]["condition"] == "service_completed_successfully"
    for service in ("provision", "simulator", "streamer"):
        assert services[service]["build"] == "."


def test_compose_publishes_every_port_on_loopback_only() -> None:
    """moto accepts any credentials: no port of the stack may be reachable from the network."""
    ports = [port for service in COMPOSE["services"].values() for port in service.get("ports", [])]
    assert ports and all(published(port)[0] == "127.0.0.1" for port in ports)


def test_compose_services_have_their_own_health_checks() -> None:
    """Only the service answers `streamer health` on 8080; the image's check must not apply to
    the one-shot provisioner or the simulator (it would mark the simulator unhealthy)."""
    services = COMPOSE["services"]
    assert services["provision"]["healthcheck"] == {"disable": True}
    sim = services["simulator"]
    sim_port = sim["entrypoint"][sim["entrypoint"].index("--port") + 1]
    probe = " ".join(sim["healthcheck"]["test"])
    assert f"127.0.0.1:{sim_port}/" in probe and "streamer health" not in probe
    assert "healthcheck" not in services["streamer"]  # the image's `streamer health`
    assert services["streamer"]["depends_on"]["simulator"]["condition"] == "service_healthy"


def test_dockerfile_needs_no_registry_but_the_base_image() -> None:
    """A `# syntax=` line makes BuildKit fetch a frontend image from a registry."""
    assert not re.search(r"^#\s*syntax\s*=", DOCKERFILE, re.M | re.I)
    assert {stage[0].split()[1] for stage in stages()} == {"python:${PYTHON_VERSION}-slim"}


def test_dockerignore_keeps_the_build_context_small() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    for path in (".venv", ".git", "tests", "infra"):
        assert path in ignored
    assert Path(REPO / "src").is_dir() and "src" not in ignored
