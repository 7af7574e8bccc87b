"""docker-compose.yml and deploy/Dockerfile, checked without a Docker engine.

The file is parsed as YAML and checked against the project: the services exist, images are
pinned, the worker can scale, and every `MISSIONS_*` variable is a setting that validates.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from missions.settings import Environment, LogFormat, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
ENV_EXAMPLE = ROOT / "deploy" / "env.example"
CLOUD_OVERRIDE = ROOT / "deploy" / "compose.temporal-cloud.yml"
MISSIONS_SERVICES = ("setup", "api", "worker")
# `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?message}` and `${NAME?message}`.
INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<operator>:?[-?])?(?P<rest>[^}]*)\}"
)
VERSION_TAG = re.compile(r"^\d+(\.\d+)+(-[a-z0-9.]+)?$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """Return a service's environment as a mapping, from either of compose's two forms."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {str(name): str(value) for name, value in environment.items()}


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def test_services_exist(services: dict[str, dict[str, Any]]) -> None:
    assert sorted(services) == [
        "api",
        "postgres",
        "setup",
        "temporal",
        "temporal-schema",
        "temporal-ui",
        "worker",
    ]
    assert services["temporal"]["image"].startswith("temporalio/server:")
    assert services["temporal-schema"]["image"].startswith("temporalio/admin-tools:")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert services["postgres"]["image"].startswith("postgres:")


def test_images_pinned_to_versions(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: image {image!r} has no tag"
        assert VERSION_TAG.match(tag), f"{name}: tag {tag!r} of {image!r} is not a version"


def test_missions_image_built_from_dockerfile(services: dict[str, dict[str, Any]]) -> None:
    for name in MISSIONS_SERVICES:
        service = services[name]
        assert service["image"] == f"missions:{project_version()}"
        assert service["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}


def test_worker_scales(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["command"] == ["worker"]
    assert worker["deploy"]["replicas"] == 2


def test_setup_runs_migrate_then_setup(services: dict[str, dict[str, Any]]) -> None:
    setup = services["setup"]
    assert setup["entrypoint"] == ["/bin/sh", "-c"]
    assert setup["command"] == ["missions migrate && missions setup --wait 120"]
    assert setup["restart"] == "no"
    assert setup["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "temporal": {"condition": "service_healthy"},
    }
    for name in ("api", "worker"):
        assert services[name]["depends_on"] == {
            "setup": {"condition": "service_completed_successfully"}
        }


def test_published_ports_bind_loopback(services: dict[str, dict[str, Any]]) -> None:
    published = {name: service.get("ports", []) for name, service in services.items()}
    assert published == {
        "postgres": [],
        "temporal-schema": [],
        "temporal": [],
        "temporal-ui": ["127.0.0.1:8080:8080"],
        "setup": [],
        "api": ["127.0.0.1:8000:8000"],
        "worker": [],
    }


def test_temporal_and_missions_use_separate_databases(
    services: dict[str, dict[str, Any]],
) -> None:
    temporal = environment_of(services["temporal"])
    missions_url = environment_of(services["api"])["MISSIONS_DATABASE_URL"]
    assert temporal["DB"] == "postgres12"
    assert temporal["POSTGRES_SEEDS"] == "postgres"
    assert temporal["POSTGRES_USER"] == "temporal"
    assert (temporal["DBNAME"], temporal["VISIBILITY_DBNAME"]) == (
        "temporal",
        "temporal_visibility",
    )
    assert missions_url.startswith("postgresql://missions:")
    assert missions_url.endswith("@postgres:5432/missions")
    schema = environment_of(services["temporal-schema"])
    assert (schema["DBNAME"], schema["VISIBILITY_DBNAME"]) == ("temporal", "temporal_visibility")


def setting_problem(variable: str) -> str | None:
    """Return why `variable` is not a field of Settings, or None when it is one."""
    parts = variable.removeprefix("MISSIONS_").lower().split("__")
    model: type[BaseModel] = Settings
    for depth, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return f"{variable}: {part!r} is not a field of {model.__name__}"
        annotation = field.annotation
        is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if depth < len(parts) - 1:
            if not is_model:
                return f"{variable}: {part!r} of {model.__name__} has no nested fields"
            assert isinstance(annotation, type)
            model = annotation
    return None


def test_setting_problem_detects_unknown_names() -> None:
    assert setting_problem("MISSIONS_JWT_SECRET") is None
    assert setting_problem("MISSIONS_DURATIONS__CONFIRMATION_WINDOW") is None
    assert setting_problem("MISSIONS_NO_SUCH_SETTING") == (
        "MISSIONS_NO_SUCH_SETTING: 'no_such_setting' is not a field of Settings"
    )
    assert setting_problem("MISSIONS_DURATIONS__NOPE") == (
        "MISSIONS_DURATIONS__NOPE: 'nope' is not a field of Durations"
    )
    assert setting_problem("MISSIONS_JWT_SECRET__X") == (
        "MISSIONS_JWT_SECRET__X: 'jwt_secret' of Settings has no nested fields"
    )


def test_missions_variables_are_settings(services: dict[str, dict[str, Any]]) -> None:
    variables = {
        variable
        for service in services.values()
        for variable in environment_of(service)
        if variable.startswith("MISSIONS_")
    }
    interpolated = {
        match["name"]
        for match in INTERPOLATION.finditer(COMPOSE_FILE.read_text())
        if match["name"].startswith("MISSIONS_")
    }
    assert len(variables) == 13
    problems = [setting_problem(name) for name in sorted(variables | interpolated)]
    assert [problem for problem in problems if problem] == []


def resolve(value: str, variables: dict[str, str] | None = None) -> str:
    """Interpolate like compose from `variables`, using defaults for the others and a
    placeholder for required ones.
    """

    def substitute(match: re.Match[str]) -> str:
        if variables and match["name"] in variables:
            return variables[match["name"]]
        if match["operator"] in (":-", "-"):
            return match["rest"]
        return f"placeholder-{match['name'].lower().replace('_', '-')}-0123456789"

    return INTERPOLATION.sub(substitute, value)


@pytest.mark.parametrize("name", MISSIONS_SERVICES)
def test_missions_environment_validates(
    services: dict[str, dict[str, Any]], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    inherited = [variable for variable in os.environ if variable.startswith("MISSIONS_")]
    for variable in inherited:
        monkeypatch.delenv(variable)
    for variable, value in environment_of(services[name]).items():
        monkeypatch.setenv(variable, resolve(value))
    settings = Settings()
    assert settings.environment is Environment.PRODUCTION
    assert settings.log_format is LogFormat.JSON
    assert settings.temporal_address == "temporal:7233"
    assert settings.temporal_namespace == "missions"
    assert settings.temporal_metrics_host == "0.0.0.0"
    assert settings.temporal_metrics_port == 9464
    assert settings.effective_database_url == (
        "postgresql://missions:placeholder-app-db-password-0123456789@postgres:5432/missions"
    )


def test_required_variables_documented() -> None:
    required = {
        match["name"]
        for match in INTERPOLATION.finditer(COMPOSE_FILE.read_text())
        if match["operator"] in (":?", "?", None)
    }
    documented = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert sorted(required - documented) == []
    assert sorted(required) == [
        "APP_DB_PASSWORD",
        "MISSIONS_JWT_SECRET",
        "MISSIONS_STRIPE_API_KEY",
        "MISSIONS_STRIPE_WEBHOOK_SECRET",
        "POSTGRES_PASSWORD",
        "TEMPORAL_DB_PASSWORD",
    ]


def test_mounted_files_exist(services: dict[str, dict[str, Any]]) -> None:
    mounted = [
        volume.split(":", 1)[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if volume.startswith("./")
    ]
    assert mounted == [
        "./deploy/postgres/init-databases.sh",
        "./deploy/temporal/setup-schema.sh",
        "./deploy/temporal/dynamicconfig",
    ]
    for path in mounted:
        assert (ROOT / path).exists(), path


def test_dynamic_config_path_is_mounted(services: dict[str, dict[str, Any]]) -> None:
    config_path = environment_of(services["temporal"])["DYNAMIC_CONFIG_FILE_PATH"]
    mount = services["temporal"]["volumes"][0]
    local, container, _ = mount.split(":")
    relative = Path(config_path).relative_to(container)
    assert (ROOT / local / relative).is_file()


def dockerfile_instructions() -> list[str]:
    """Return the Dockerfile's instructions with continuation lines joined."""
    joined = DOCKERFILE.read_text().replace("\\\n", " ")
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_dockerfile_installs_with_constraints() -> None:
    instructions = dockerfile_instructions()
    pip_installs = [
        line for line in instructions if line.startswith("RUN") and "pip install" in line
    ]
    assert len(pip_installs) == 2
    for line in pip_installs:
        assert "-c constraints.txt" in line, line
    copies = [line for line in instructions if line.startswith("COPY") and "--from" not in line]
    assert "constraints.txt" in copies[0].split()


def test_dockerfile_base_images_pinned() -> None:
    bases = [line.split()[1] for line in dockerfile_instructions() if line.startswith("FROM")]
    assert bases == ["python:3.11.13-slim-bookworm", "python:3.11.13-slim-bookworm"]


def test_dockerfile_runs_missions_cli() -> None:
    instructions = dockerfile_instructions()
    assert 'ENTRYPOINT ["missions"]' in instructions
    assert 'CMD ["api"]' in instructions
    assert "USER missions" in instructions


class ComposeLoader(yaml.SafeLoader):
    """A YAML loader that reads compose's `!override` and `!reset` tags as plain values."""


def _untagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


ComposeLoader.add_constructor("!override", _untagged)
ComposeLoader.add_constructor("!reset", _untagged)


@pytest.fixture(scope="module")
def cloud_services() -> dict[str, dict[str, Any]]:
    loaded = yaml.load(CLOUD_OVERRIDE.read_text(), Loader=ComposeLoader)
    services = loaded["services"]
    assert isinstance(services, dict)
    return services


def test_cloud_override_covers_missions_services(
    cloud_services: dict[str, dict[str, Any]],
) -> None:
    assert sorted(cloud_services) == ["api", "setup", "worker"]
    assert cloud_services["setup"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "!override" in CLOUD_OVERRIDE.read_text()
    for service in cloud_services.values():
        assert service["volumes"] == ["./deploy/secrets/temporal:/run/secrets/temporal:ro"]


def test_cloud_override_variables_are_settings(
    cloud_services: dict[str, dict[str, Any]],
) -> None:
    variables = {
        variable for service in cloud_services.values() for variable in environment_of(service)
    }
    assert sorted(variables) == [
        "MISSIONS_TEMPORAL_ADDRESS",
        "MISSIONS_TEMPORAL_API_KEY",
        "MISSIONS_TEMPORAL_NAMESPACE",
        "MISSIONS_TEMPORAL_TLS",
        "MISSIONS_TEMPORAL_TLS_CLIENT_CERT",
        "MISSIONS_TEMPORAL_TLS_CLIENT_KEY",
    ]
    assert [setting_problem(name) for name in sorted(variables)] == [None] * len(variables)


@pytest.mark.parametrize(
    ("extra", "tls_client_cert", "api_key_set"),
    [
        (
            {
                "TEMPORAL_TLS_CLIENT_CERT": "/run/secrets/temporal/client.pem",
                "TEMPORAL_TLS_CLIENT_KEY": "/run/secrets/temporal/client.key",
            },
            Path("/run/secrets/temporal/client.pem"),
            False,
        ),
        ({"MISSIONS_TEMPORAL_API_KEY": "cloud-api-key-0123456789"}, None, True),
    ],
    ids=["mtls", "api-key"],
)
def test_cloud_environment_validates(
    services: dict[str, dict[str, Any]],
    cloud_services: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    extra: dict[str, str],
    tls_client_cert: Path | None,
    api_key_set: bool,
) -> None:
    """The merged environment of the worker, as compose builds it from both files."""
    variables = {"TEMPORAL_CLOUD_ADDRESS": "prod.a1b2c.tmprl.cloud:7233", **extra}
    inherited = [variable for variable in os.environ if variable.startswith("MISSIONS_")]
    for variable in inherited:
        monkeypatch.delenv(variable)
    merged = {**environment_of(services["worker"]), **environment_of(cloud_services["worker"])}
    for variable, value in merged.items():
        monkeypatch.setenv(variable, resolve(value, variables))
    settings = Settings()
    assert settings.temporal_address == "prod.a1b2c.tmprl.cloud:7233"
    assert settings.temporal_tls_enabled is True
    assert settings.temporal_tls_client_cert == tls_client_cert
    assert (settings.temporal_api_key is not None) is api_key_set
